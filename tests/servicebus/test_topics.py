"""Topics and subscriptions through the unmodified SDK: rules (SQL and correlation filters,
actions) decide which subscriptions get a copy; each subscription has its own dead-letter
queue."""

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient

from tests.servicebus.conftest import body, props, text


def _drain(
    client: ServiceBusClient, topic: str, subscription: str, count: int = 0, **kwargs: Any
) -> list[Any]:
    """What the subscription holds (up to 20, for 2 s); with `count`, until that many came
    (for 5 s at most)."""
    wait = 5 if count else 2
    with client.get_subscription_receiver(topic, subscription, max_wait_time=wait, **kwargs) as r:
        got: list[Any] = []
        while batch := r.receive_messages(
            max_message_count=(count - len(got)) if count else 20, max_wait_time=wait
        ):
            got += batch
            for message in batch:
                r.complete_message(message)
            if not count or len(got) >= count:
                break
    return got


def test_each_subscription_gets_the_messages_its_rules_match(client: ServiceBusClient) -> None:
    with client.get_topic_sender("topic-rules") as sender:
        sender.send_messages(
            [
                ServiceBusMessage(
                    b"red", subject="order-1", application_properties={"color": "red"}
                ),
                ServiceBusMessage(
                    b"vip", correlation_id="vip", application_properties={"tier": "gold"}
                ),
                ServiceBusMessage(
                    b"blue", subject="order-2", application_properties={"color": "blue", "size": 12}
                ),
                ServiceBusMessage(b"three", application_properties={"size": 3}),
                ServiceBusMessage(
                    b"red-not-order", subject="x", application_properties={"color": "red"}
                ),
            ]
        )
    assert sorted(body(m) for m in _drain(client, "topic-rules", "all")) == sorted(
        [b"red", b"vip", b"blue", b"three", b"red-not-order"]
    )
    red = _drain(client, "topic-rules", "red-orders")
    assert [body(m) for m in red] == [b"red"]
    assert props(red[0]) == {"color": "red", "routed": "red"}  # the rule's action
    assert [body(m) for m in _drain(client, "topic-rules", "vip")] == [b"vip"]
    assert sorted(body(m) for m in _drain(client, "topic-rules", "big")) == [b"blue", b"three"]


def test_a_subscription_dead_letters_into_its_own_queue(client: ServiceBusClient) -> None:
    with client.get_topic_sender("topic-dead-letter") as sender:
        sender.send_messages(ServiceBusMessage(b"poison", message_id="poison-1"))
    with client.get_subscription_receiver("topic-dead-letter", "one", max_wait_time=5) as r:
        (message,) = r.receive_messages(max_message_count=1, max_wait_time=5)
        r.dead_letter_message(message, reason="bad", error_description="bad body")
    dead = _drain(client, "topic-dead-letter", "one", sub_queue=ServiceBusSubQueue.DEAD_LETTER)
    assert [body(m) for m in dead] == [b"poison"]
    assert text(dead[0].dead_letter_reason) == "bad"
    assert _drain(client, "topic-dead-letter", "one") == []
    # the other subscription's copy is untouched
    assert [body(m) for m in _drain(client, "topic-dead-letter", "two")] == [b"poison"]
    assert (
        _drain(client, "topic-dead-letter", "two", sub_queue=ServiceBusSubQueue.DEAD_LETTER) == []
    )


async def test_topics_async(aclient: AsyncServiceBusClient) -> None:
    async with aclient.get_topic_sender("async-topic") as sender:
        await sender.send_messages([ServiceBusMessage(f"m{i}") for i in range(3)])
    async with aclient.get_subscription_receiver("async-topic", "all", max_wait_time=5) as r:
        got = await r.receive_messages(max_message_count=3, max_wait_time=5)
        for message in got:
            await r.complete_message(message)
    assert sorted(body(m) for m in got) == [b"m0", b"m1", b"m2"]


def test_the_copies_of_a_message_share_the_topics_sequence_number(
    client: ServiceBusClient,
) -> None:
    """As in Azure: the topic numbers the messages (gap-free), every subscription's copy
    carries that number; a scheduled message's copies the number `schedule_messages` gave."""
    with client.get_topic_sender("topic-sequence") as sender:
        sender.send_messages(
            [ServiceBusMessage(f"m{n}", application_properties={"n": n}) for n in range(4)]
        )
        (scheduled,) = sender.schedule_messages(
            ServiceBusMessage("later", application_properties={"n": 9}),
            datetime.now(UTC) + timedelta(seconds=1),
        )
    everything = _drain(client, "topic-sequence", "all", count=5)
    some = _drain(client, "topic-sequence", "some", count=3)
    numbers = {body(m): m.sequence_number for m in everything}
    assert len(set(numbers.values())) == 5
    assert sorted(numbers.values())[:4] == list(range(numbers[b"m0"], numbers[b"m0"] + 4))
    assert numbers[b"later"] == scheduled
    assert {body(m): m.sequence_number for m in some} == {
        key: numbers[key] for key in (b"m2", b"m3", b"later")
    }
