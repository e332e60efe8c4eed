"""Auto-forwarding (`ForwardTo`, `ForwardDeadLetteredMessagesTo`) through the unmodified SDK:
messages move on with their properties, a receiver on a forwarding entity (or on a topic
itself) is refused as Azure refuses it, and a forwarding loop ends after 4 hops in a
dead-letter queue. The config is checked when it loads."""

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusSubQueue,
)
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.exceptions import ServiceBusError

from devstack.servicebus.config import ConfigError, parse_config
from devstack.servicebus.launcher import EmulatorProcess
from devstack.servicebus.store import Namespace
from tests.servicebus.conftest import body, props, runtime, text
from tests.servicebus.test_journal import Clock, Taker, incoming


def _drain(
    client: ServiceBusClient, queue: str, wait: float = 3, **kwargs: Any
) -> list[ServiceBusReceivedMessage]:
    with client.get_queue_receiver(queue, max_wait_time=wait, **kwargs) as receiver:
        got = receiver.receive_messages(max_message_count=20, max_wait_time=wait)
        for message in got:
            receiver.complete_message(message)
    return got


def _message(tag: str) -> ServiceBusMessage:
    return ServiceBusMessage(
        f"body-{tag}".encode(),
        message_id=f"id-{tag}",
        correlation_id=f"corr-{tag}",
        subject=f"subject-{tag}",
        content_type="text/plain",
        application_properties={"tag": tag, "n": 7},
    )


def _same_fields(got: ServiceBusReceivedMessage, tag: str) -> None:
    assert body(got) == f"body-{tag}".encode()
    assert text(got.message_id) == f"id-{tag}"
    assert text(got.correlation_id) == f"corr-{tag}"
    assert text(got.subject) == f"subject-{tag}"
    assert text(got.content_type) == "text/plain"
    assert props(got) == {"tag": tag, "n": 7}


# ---- through the SDK ------------------------------------------------------------------------


def test_a_message_sent_to_a_forwarding_queue_arrives_in_its_target_with_its_properties(
    client: ServiceBusClient,
) -> None:
    with client.get_queue_sender("fwd-source") as sender:
        sender.send_messages(_message("a"))
    (got,) = _drain(client, "fwd-target")
    _same_fields(got, "a")


def test_a_receiver_on_a_forwarding_queue_is_refused(client: ServiceBusClient) -> None:
    with (
        pytest.raises(ServiceBusError, match="auto-forwarding enabled"),
        client.get_queue_receiver("fwd-source", max_wait_time=1) as receiver,
    ):
        receiver.receive_messages(max_message_count=1, max_wait_time=1)


async def test_forwarding_and_its_refused_receiver_async(aclient: AsyncServiceBusClient) -> None:
    async with aclient.get_queue_sender("async-fwd-source") as sender:
        await sender.send_messages(_message("b"))
    async with aclient.get_queue_receiver("async-fwd-target", max_wait_time=3) as receiver:
        (got,) = await receiver.receive_messages(max_message_count=5, max_wait_time=3)
        await receiver.complete_message(got)
    _same_fields(got, "b")
    with pytest.raises(ServiceBusError, match="auto-forwarding enabled"):
        async with aclient.get_queue_receiver("async-fwd-source", max_wait_time=1) as refused:
            await refused.receive_messages(max_message_count=1, max_wait_time=1)


def test_dead_lettered_messages_are_forwarded_and_their_queue_refuses_receivers(
    client: ServiceBusClient,
) -> None:
    with client.get_queue_sender("fwd-dlq-source") as sender:
        sender.send_messages(_message("c"))
    with client.get_queue_receiver("fwd-dlq-source", max_wait_time=3) as receiver:
        (message,) = receiver.receive_messages(max_message_count=1, max_wait_time=3)
        receiver.dead_letter_message(message, reason="bad", error_description="bad body")
    (got,) = _drain(client, "fwd-dlq-target")
    assert body(got) == b"body-c"
    assert text(got.message_id) == "id-c"
    assert text(got.dead_letter_reason) == "bad"
    assert text(got.dead_letter_error_description) == "bad body"
    with (
        pytest.raises(ServiceBusError, match="auto-forwarding enabled"),
        client.get_queue_receiver(
            "fwd-dlq-source", sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=1
        ) as refused,
    ):
        refused.receive_messages(max_message_count=1, max_wait_time=1)


def test_a_forwarding_loop_is_dead_lettered_after_four_hops(client: ServiceBusClient) -> None:
    with client.get_queue_sender("fwd-loop-a") as sender:
        sender.send_messages(_message("loop"))
    # a -> b -> a -> b -> a: four hops, the fifth is refused where the message is (a)
    (dead,) = _drain(client, "fwd-loop-a", sub_queue=ServiceBusSubQueue.DEAD_LETTER)
    _same_fields_but_dead_lettered(dead, "loop", "MaxTransferHopCountExceeded")
    assert _drain(client, "fwd-loop-b", wait=1, sub_queue=ServiceBusSubQueue.DEAD_LETTER) == []


def _same_fields_but_dead_lettered(got: ServiceBusReceivedMessage, tag: str, reason: str) -> None:
    assert body(got) == f"body-{tag}".encode()
    assert text(got.message_id) == f"id-{tag}"
    assert text(got.dead_letter_reason) == reason


def test_forwarding_to_a_topic_and_from_a_subscription(client: ServiceBusClient) -> None:
    with client.get_queue_sender("fwd-to-topic") as sender:
        sender.send_messages(_message("t"))
    with client.get_subscription_receiver("fwd-topic", "all", max_wait_time=3) as receiver:
        (copy_all,) = receiver.receive_messages(max_message_count=5, max_wait_time=3)
        receiver.complete_message(copy_all)
    _same_fields(copy_all, "t")
    (onward,) = _drain(client, "fwd-sub-target")  # the "onward" subscription forwards here
    _same_fields(onward, "t")
    with (
        pytest.raises(ServiceBusError, match="auto-forwarding enabled"),
        client.get_subscription_receiver("fwd-topic", "onward", max_wait_time=1) as refused,
    ):
        refused.receive_messages(max_message_count=1, max_wait_time=1)


def test_forwarding_to_a_session_queue_needs_a_session_id(client: ServiceBusClient) -> None:
    with client.get_queue_sender("fwd-to-session") as sender:
        sender.send_messages([_message("no-session"), ServiceBusMessage("s", session_id="k")])
    (dead,) = _drain(client, "fwd-to-session", sub_queue=ServiceBusSubQueue.DEAD_LETTER)
    _same_fields_but_dead_lettered(dead, "no-session", "Session ID is null")
    with client.get_queue_receiver(
        "fwd-session-target", session_id=NEXT_AVAILABLE_SESSION, max_wait_time=3
    ) as receiver:
        (got,) = receiver.receive_messages(max_message_count=5, max_wait_time=3)
        receiver.complete_message(got)
    assert body(got) == b"s"
    assert text(got.session_id) == "k"


def test_a_scheduled_message_is_forwarded_when_it_is_due(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("fwd-scheduled") as sender:
        sender.schedule_messages(_message("later"), datetime.now(UTC) + timedelta(seconds=2))
        # held by the forwarding queue until its time
        assert runtime(servicebus_emulator, "fwd-scheduled")["scheduledMessageCount"] == 1
    (got,) = _drain(client, "fwd-scheduled-target", wait=5)
    _same_fields(got, "later")
    assert runtime(servicebus_emulator, "fwd-scheduled")["totalMessageCount"] == 0


def test_a_receiver_on_a_topic_itself_is_refused(client: ServiceBusClient) -> None:
    with (
        pytest.raises(ServiceBusError, match="Cannot open a Topic client"),
        client.get_queue_receiver("topic-rules", max_wait_time=1) as receiver,
    ):
        receiver.receive_messages(max_message_count=1, max_wait_time=1)


async def test_a_receiver_on_a_topic_itself_is_refused_async(
    aclient: AsyncServiceBusClient,
) -> None:
    with pytest.raises(ServiceBusError, match="Cannot open a Topic client"):
        async with aclient.get_queue_receiver("async-topic", max_wait_time=1) as receiver:
            await receiver.receive_messages(max_message_count=1, max_wait_time=1)


# ---- the config -----------------------------------------------------------------------------


def _document(**queue_b: Any) -> dict[str, Any]:
    return {
        "UserConfig": {
            "Namespaces": [
                {
                    "Name": "ns",
                    "Queues": [{"Name": "a"}, {"Name": "b", "Properties": queue_b}],
                    "Topics": [
                        {
                            "Name": "t",
                            "Subscriptions": [{"Name": "s", "Properties": {"ForwardTo": "A"}}],
                        }
                    ],
                }
            ]
        }
    }


def test_the_official_config_shape_is_accepted_with_targets_named_case_insensitively() -> None:
    config = parse_config(_document(ForwardTo="T", ForwardDeadLetteredMessagesTo="a"))
    queue_b = config.queues[1]
    assert (queue_b.forward_to, queue_b.forward_dead_lettered_to) == ("T", "a")
    assert config.topics[0].subscriptions[0].queue.forward_to == "A"
    off = parse_config(_document(ForwardTo="", ForwardDeadLetteredMessagesTo=""))
    assert off.queues[1].forward_to is None  # "" is how Microsoft's sample config says "off"
    assert off.queues[1].forward_dead_lettered_to is None


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"ForwardTo": "nowhere"}, r"Queues\[1\]\.Properties\.ForwardTo: 'nowhere' is not a"),
        (
            {"ForwardDeadLetteredMessagesTo": "nowhere"},
            r"Queues\[1\]\.Properties\.ForwardDeadLetteredMessagesTo: 'nowhere' is not a",
        ),
        ({"ForwardTo": "B"}, r"Queues\[1\]\.Properties\.ForwardTo: 'B' forwards to itself"),
        (
            {"ForwardDeadLetteredMessagesTo": "b"},
            r"Queues\[1\]\.Properties\.ForwardDeadLetteredMessagesTo: 'b' forwards to itself",
        ),
        ({"ForwardTo": "t/Subscriptions/s"}, r"Queues\[1\]\.Properties\.ForwardTo: "),
        (
            {"ForwardTo": "a", "RequiresSession": True},
            r"Queues\[1\]\.Properties\.ForwardTo: auto-forwarding cannot be enabled",
        ),
        ({"ForwardTo": 3}, r"Queues\[1\]\.Properties\.ForwardTo: expected a string"),
    ],
)
def test_a_bad_forwarding_target_is_refused_naming_the_field(
    properties: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_document(**properties))


def test_a_subscription_forwarding_nowhere_is_refused() -> None:
    document = _document()
    subscription = document["UserConfig"]["Namespaces"][0]["Topics"][0]["Subscriptions"][0]
    subscription["Properties"]["ForwardTo"] = "gone"
    with pytest.raises(
        ConfigError,
        match=r"Topics\[0\]\.Subscriptions\[0\]\.Properties\.ForwardTo: 'gone' is not a",
    ):
        parse_config(copy.deepcopy(document))


# ---- the store, on a clock of its own -------------------------------------------------------


def test_a_loop_through_a_topic_ends_in_the_subscription_dead_letter_queue() -> None:
    """t -> s (ForwardTo t) -> t ...: each pass copies to `keep` too; after four hops the
    message stays in s's dead-letter queue, so `keep` has five copies."""
    config = parse_config(
        {
            "UserConfig": {
                "Namespaces": [
                    {
                        "Name": "ns",
                        "Queues": [],
                        "Topics": [
                            {
                                "Name": "t",
                                "Subscriptions": [
                                    {"Name": "s", "Properties": {"ForwardTo": "t"}},
                                    {"Name": "keep"},
                                ],
                            }
                        ],
                    }
                ]
            }
        }
    )
    clock = Clock()
    namespace = Namespace(config, clock)
    topic = namespace.entity("t")
    assert topic is not None
    topic.send(incoming("m"), clock.now)
    keep = namespace.entity("t/Subscriptions/keep")
    dead = namespace.entity("t/Subscriptions/s/$DeadLetterQueue")
    assert keep is not None
    assert dead is not None
    assert len(keep.messages) == 5
    taker = Taker()
    dead.consumers.append(taker)
    dead.pump(clock.now)
    assert [m.message_id for m in taker.got] == ["m"]


def test_peeking_a_forwarding_queue_is_refused_too(client: ServiceBusClient) -> None:
    """Azure refuses browsing an entity that forwards; the SDK's peek opens a receiver."""
    with (
        pytest.raises(ServiceBusError, match="auto-forwarding enabled"),
        client.get_queue_receiver("fwd-source") as receiver,
    ):
        receiver.peek_messages(max_message_count=1)
