"""Conformance: the unmodified sync azure-servicebus SDK against the emulator."""

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import (
    NEXT_AVAILABLE_SESSION,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusReceiver,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import (
    MessageLockLostError,
    MessageNotFoundError,
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusError,
)

from devstack.servicebus.launcher import PROJECT_ROOT, EmulatorProcess

from .conftest import body, props, runtime

pytestmark = pytest.mark.integration


def drain(
    client: ServiceBusClient, queue: str, sub_queue: ServiceBusSubQueue | None = None
) -> list:
    """Receive-and-delete everything currently available."""
    out = []
    with client.get_queue_receiver(
        queue, sub_queue=sub_queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
    ) as receiver:
        wait = 2.0  # generous for the first message on a busy machine, then short
        while batch := receiver.receive_messages(max_message_count=50, max_wait_time=wait):
            out.extend(batch)
            wait = 0.5
    return out


def receive_exactly(
    receiver: ServiceBusReceiver, count: int, within: float = 15.0
) -> list[ServiceBusReceivedMessage]:
    """Receive until `count` messages arrived or the deadline passed (then fail)."""
    got: list[ServiceBusReceivedMessage] = []
    deadline = time.monotonic() + within
    while len(got) < count and time.monotonic() < deadline:
        got += receiver.receive_messages(max_message_count=count - len(got), max_wait_time=2)
    assert len(got) == count, f"received {len(got)} of {count} messages within {within} s"
    return got


def test_message_fields_round_trip(client: ServiceBusClient) -> None:
    message_id = f"m-{uuid.uuid4()}"
    sent_at = datetime.now(UTC)
    with client.get_queue_sender("roundtrip") as sender:
        sender.send_messages(
            ServiceBusMessage(
                b"\x00binary\xffbody",
                application_properties={"tenant": "acme", "attempt": 3, "urgent": True},
                content_type="application/octet-stream",
                correlation_id="corr-1",
                subject="resume",
                message_id=message_id,
            )
        )
        sender.send_messages(ServiceBusMessage("second", message_id=f"{message_id}-2"))
    with client.get_queue_receiver("roundtrip", max_wait_time=5) as receiver:
        first, second = receive_exactly(receiver, 2)
        assert body(first) == b"\x00binary\xffbody"
        assert props(first) == {"tenant": "acme", "attempt": 3, "urgent": True}
        assert first.content_type == "application/octet-stream"
        assert first.correlation_id == "corr-1"
        assert first.subject == "resume"
        assert first.message_id == message_id
        assert first.delivery_count == 0
        assert first.lock_token is not None
        assert second.sequence_number == first.sequence_number + 1
        assert abs(first.enqueued_time_utc - sent_at) < timedelta(seconds=30)
        assert first.locked_until_utc > first.enqueued_time_utc
        assert str(second) == "second"
        receiver.complete_message(first)
        receiver.complete_message(second)


def test_batch_send_arrives_as_separate_messages(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("batch") as sender:
        batch = sender.create_message_batch()
        for i in range(5):
            batch.add_message(ServiceBusMessage(f"item-{i}", application_properties={"i": i}))
        sender.send_messages(batch)
        sender.send_messages([ServiceBusMessage("list-a"), ServiceBusMessage("list-b")])
    assert runtime(servicebus_emulator, "batch")["activeMessageCount"] == 7
    received = drain(client, "batch")
    assert [str(m) for m in received] == [f"item-{i}" for i in range(5)] + ["list-a", "list-b"]
    assert [props(m).get("i") for m in received[:5]] == list(range(5))
    assert len({m.sequence_number for m in received}) == 7


def test_scheduled_messages_arrive_later_and_can_be_cancelled(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    at = datetime.now(UTC) + timedelta(seconds=4)
    with client.get_queue_sender("scheduled") as sender:
        (kept,) = sender.schedule_messages(ServiceBusMessage("later"), at)
        (cancelled,) = sender.schedule_messages(ServiceBusMessage("never"), at)
        sender.send_messages(ServiceBusMessage("by-property", scheduled_enqueue_time_utc=at))
        assert kept > 0
        assert cancelled == kept + 1
        counts = runtime(servicebus_emulator, "scheduled")
        assert counts["scheduledMessageCount"] == 3
        assert counts["activeMessageCount"] == 0
        sender.cancel_scheduled_messages(cancelled)
    assert runtime(servicebus_emulator, "scheduled")["scheduledMessageCount"] == 2
    with client.get_queue_receiver("scheduled") as receiver:
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < deadline:
            got += receiver.receive_messages(max_message_count=2, max_wait_time=3)
            if got:  # never handed out before its time
                assert datetime.now(UTC) >= at - timedelta(milliseconds=100)
        assert sorted(str(m) for m in got) == ["by-property", "later"]
        later = next(m for m in got if str(m) == "later")
        assert later.sequence_number == kept
        assert later.enqueued_time_utc >= at - timedelta(milliseconds=1)
        for m in got:
            receiver.complete_message(m)
    assert runtime(servicebus_emulator, "scheduled")["totalMessageCount"] == 0


def test_receive_and_delete_removes_on_delivery(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("receive-and-delete") as sender:
        sender.send_messages([ServiceBusMessage("a"), ServiceBusMessage("b")])
    with client.get_queue_receiver(
        "receive-and-delete", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
    ) as receiver:
        got = receive_exactly(receiver, 2)
    assert sorted(str(m) for m in got) == ["a", "b"]
    assert runtime(servicebus_emulator, "receive-and-delete")["activeMessageCount"] == 0


def test_complete_removes_and_abandon_redelivers_with_count_plus_one(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("abandon") as sender:
        sender.send_messages(ServiceBusMessage("retry-me"))
    with client.get_queue_receiver("abandon", max_wait_time=5) as receiver:
        (first,) = receiver.receive_messages(max_wait_time=5)
        assert first.delivery_count == 0
        receiver.abandon_message(first)
        (again,) = receiver.receive_messages(max_wait_time=5)
        assert str(again) == "retry-me"
        assert again.sequence_number == first.sequence_number
        assert again.delivery_count == 1
        assert runtime(servicebus_emulator, "abandon")["activeMessageCount"] == 1
        receiver.complete_message(again)
    assert runtime(servicebus_emulator, "abandon")["activeMessageCount"] == 0


def test_dead_letter_with_reason_then_receive_from_dead_letter_queue(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("dead-letter") as sender:
        sender.send_messages(ServiceBusMessage("poison", application_properties={"k": "v"}))
    with client.get_queue_receiver("dead-letter", max_wait_time=5) as receiver:
        (message,) = receiver.receive_messages(max_wait_time=5)
        receiver.dead_letter_message(message, reason="BadInput", error_description="not a PDF")
    counts = runtime(servicebus_emulator, "dead-letter")
    assert counts["activeMessageCount"] == 0
    assert counts["deadLetterMessageCount"] == 1
    with client.get_queue_receiver(
        "dead-letter", sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=5
    ) as dlq:
        (dead,) = dlq.receive_messages(max_wait_time=5)
        assert str(dead) == "poison"
        assert dead.dead_letter_reason == "BadInput"
        assert dead.dead_letter_error_description == "not a PDF"
        assert props(dead)["k"] == "v"
        assert dead.sequence_number == message.sequence_number
        dlq.complete_message(dead)
    assert runtime(servicebus_emulator, "dead-letter")["deadLetterMessageCount"] == 0


def test_defer_then_receive_deferred_by_sequence_number(client: ServiceBusClient) -> None:
    with client.get_queue_sender("defer") as sender:
        sender.send_messages(ServiceBusMessage("later-please"))
    with client.get_queue_receiver("defer", max_wait_time=5) as receiver:
        (message,) = receiver.receive_messages(max_wait_time=5)
        receiver.defer_message(message)
        assert receiver.receive_messages(max_wait_time=0.5) == []
        (deferred,) = receiver.receive_deferred_messages([message.sequence_number])
        assert str(deferred) == "later-please"
        receiver.complete_message(deferred)
        with pytest.raises(Exception, match="sequence"):
            receiver.receive_deferred_messages([message.sequence_number])


def test_an_expired_deferred_message_is_dead_lettered_when_asked_for(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with (
        client.get_queue_sender("deferred-ttl") as sender,
        client.get_queue_receiver("deferred-ttl") as receiver,
    ):
        sent = time.monotonic()
        sender.send_messages(ServiceBusMessage("stale", time_to_live=timedelta(seconds=3)))
        (message,) = receive_exactly(receiver, 1)
        receiver.defer_message(message)
        assert time.monotonic() - sent < 3, "the machine was too slow to defer within the TTL"
        time.sleep(max(0.0, sent + 3.5 - time.monotonic()))
        # As in Azure: a deferred message's TTL is checked when it is asked for, not before
        assert runtime(servicebus_emulator, "deferred-ttl")["activeMessageCount"] == 1
        with pytest.raises(MessageNotFoundError, match="expired"):
            receiver.receive_deferred_messages([message.sequence_number])
    counts = runtime(servicebus_emulator, "deferred-ttl")
    assert (counts["activeMessageCount"], counts["deadLetterMessageCount"]) == (0, 1)
    (dead,) = drain(client, "deferred-ttl", ServiceBusSubQueue.DEAD_LETTER)
    assert str(dead) == "stale"
    assert dead.dead_letter_reason == "TTLExpiredException"
    assert dead.sequence_number == message.sequence_number


def test_a_scheduled_time_in_the_past_means_enqueued_now_with_ttl_from_now(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)  # far beyond the queue's 1 min TTL
    sent_at = datetime.now(UTC)
    ttl = timedelta(seconds=30)
    with client.get_queue_sender("scheduled-past") as sender:
        sender.send_messages(
            ServiceBusMessage("by-property", scheduled_enqueue_time_utc=past, time_to_live=ttl)
        )
        sender.schedule_messages(ServiceBusMessage("by-schedule", time_to_live=ttl), past)
    with client.get_queue_receiver("scheduled-past") as receiver:
        got = receive_exactly(receiver, 2)
        assert sorted(str(m) for m in got) == ["by-property", "by-schedule"]
        for message in got:
            assert message.enqueued_time_utc is not None
            assert abs(message.enqueued_time_utc - sent_at) < timedelta(seconds=30)
            assert message.expires_at_utc is not None
            assert message.expires_at_utc > datetime.now(UTC)
            receiver.complete_message(message)
    counts = runtime(servicebus_emulator, "scheduled-past")
    assert (counts["totalMessageCount"], counts["deadLetterMessageCount"]) == (0, 0)


def test_renew_message_lock_keeps_the_message(client: ServiceBusClient) -> None:
    with client.get_queue_sender("renew") as sender:
        sender.send_messages(ServiceBusMessage("long-job"))
    with client.get_queue_receiver("renew", max_wait_time=5) as receiver:
        (message,) = receiver.receive_messages(max_wait_time=5)
        first_until = message.locked_until_utc
        for _ in range(2):  # 3 s in all, past the 2 s LockDuration
            time.sleep(1.5)
            renewed = receiver.renew_message_lock(message)
            assert renewed > first_until
        assert receiver.receive_messages(max_wait_time=0.5) == []
        receiver.complete_message(message)


def test_lock_expiry_redelivers_and_settling_the_stale_message_loses_the_lock(
    client: ServiceBusClient,
) -> None:
    with client.get_queue_sender("lock-expiry") as sender:
        sender.send_messages(ServiceBusMessage("slow"))
    with client.get_queue_receiver("lock-expiry", max_wait_time=5) as receiver:
        (stale,) = receiver.receive_messages(max_wait_time=5)
        time.sleep(2.2)
        (fresh,) = receiver.receive_messages(max_wait_time=5)
        assert fresh.sequence_number == stale.sequence_number
        assert fresh.delivery_count == 1
        assert fresh.lock_token != stale.lock_token
        with pytest.raises(MessageLockLostError):
            receiver.complete_message(stale)  # the SDK checks locked_until_utc itself first
        with pytest.raises(MessageLockLostError):
            receiver.renew_message_lock(stale)  # answered by the broker: lock-lost
        receiver.complete_message(fresh)


def test_message_survives_a_receiver_process_that_dies(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("receiver-dies") as sender:
        sender.send_messages(ServiceBusMessage("precious"))
    doomed = (
        "import os, sys\n"
        "from azure.servicebus import ServiceBusClient\n"
        "c = ServiceBusClient.from_connection_string(sys.argv[1])\n"
        "r = c.get_queue_receiver('receiver-dies')\n"
        "m = r.receive_messages(max_wait_time=10)\n"
        "print(len(m), flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", doomed, servicebus_emulator.connection_string],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        check=True,
    )
    assert done.stdout.strip() == "1"
    assert runtime(servicebus_emulator, "receiver-dies")["activeMessageCount"] == 1
    with client.get_queue_receiver("receiver-dies") as receiver:
        (back,) = receiver.receive_messages(max_wait_time=10)
        assert str(back) == "precious"
        assert back.delivery_count == 1
        receiver.complete_message(back)


def test_max_delivery_count_moves_the_message_to_the_dead_letter_queue(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("max-delivery") as sender:
        sender.send_messages(ServiceBusMessage("always-fails"))
    with client.get_queue_receiver("max-delivery", max_wait_time=5) as receiver:
        for attempt in range(2):
            (message,) = receiver.receive_messages(max_wait_time=5)
            assert message.delivery_count == attempt
            receiver.abandon_message(message)
        assert receiver.receive_messages(max_wait_time=1) == []
    assert runtime(servicebus_emulator, "max-delivery")["deadLetterMessageCount"] == 1
    (dead,) = drain(client, "max-delivery", ServiceBusSubQueue.DEAD_LETTER)
    assert str(dead) == "always-fails"
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"


def test_expired_message_is_dead_lettered_when_configured(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("ttl-dead-letter") as sender:
        sender.send_messages(ServiceBusMessage("short-lived"))
    time.sleep(1.5)
    counts = runtime(servicebus_emulator, "ttl-dead-letter")
    assert counts["activeMessageCount"] == 0
    assert counts["deadLetterMessageCount"] == 1
    (dead,) = drain(client, "ttl-dead-letter", ServiceBusSubQueue.DEAD_LETTER)
    assert str(dead) == "short-lived"
    assert dead.dead_letter_reason == "TTLExpiredException"


def test_expired_message_is_dropped_without_dead_lettering(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("ttl-drop") as sender:
        sender.send_messages(ServiceBusMessage("gone"))
    with client.get_queue_sender("roundtrip") as sender:  # per-message TTL below the queue's
        sender.send_messages(ServiceBusMessage("own-ttl", time_to_live=timedelta(seconds=1)))
    time.sleep(1.5)
    assert runtime(servicebus_emulator, "ttl-drop")["totalMessageCount"] == 0
    assert runtime(servicebus_emulator, "roundtrip")["totalMessageCount"] == 0


def test_duplicate_message_id_is_dropped_within_the_window(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    unique = str(uuid.uuid4())
    with client.get_queue_sender("duplicates") as sender:
        sender.send_messages(ServiceBusMessage("one", message_id=unique))
        sender.send_messages(ServiceBusMessage("one again", message_id=unique))
        sender.send_messages(ServiceBusMessage("two", message_id=f"{unique}-2"))
    assert runtime(servicebus_emulator, "duplicates")["activeMessageCount"] == 2
    assert sorted(str(m) for m in drain(client, "duplicates")) == ["one", "two"]


def test_peek_does_not_lock_or_remove(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("peek") as sender:
        sender.send_messages([ServiceBusMessage(f"p{i}") for i in range(3)])
    with client.get_queue_receiver("peek") as receiver:
        peeked = receiver.peek_messages(max_message_count=10)
        assert [str(m) for m in peeked] == ["p0", "p1", "p2"]
        from_second = receiver.peek_messages(
            max_message_count=10, sequence_number=peeked[1].sequence_number
        )
        assert [str(m) for m in from_second] == ["p1", "p2"]
    assert runtime(servicebus_emulator, "peek")["activeMessageCount"] == 3
    assert [str(m) for m in drain(client, "peek")] == ["p0", "p1", "p2"]
    with client.get_queue_receiver("peek") as receiver:
        assert receiver.peek_messages(max_message_count=10) == []


def test_unknown_queue_raises_messaging_entity_not_found(client: ServiceBusClient) -> None:
    with pytest.raises(MessagingEntityNotFoundError), client.get_queue_sender("no-such") as s:
        s.send_messages(ServiceBusMessage("x"))
    with (
        pytest.raises(MessagingEntityNotFoundError),
        client.get_queue_receiver("no-such", max_wait_time=1) as r,
    ):
        r.receive_messages(max_wait_time=1)


@pytest.mark.parametrize("session_id", ["order-1", NEXT_AVAILABLE_SESSION])
def test_a_session_receiver_on_a_queue_without_sessions_is_refused(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess, session_id: str
) -> None:
    with client.get_queue_sender("sessions-refused") as sender:
        sender.send_messages(ServiceBusMessage("plain"))
    with (
        pytest.raises(ServiceBusError, match="does not require sessions") as refused,
        client.get_queue_receiver("sessions-refused", session_id=session_id) as receiver,
    ):
        receiver.receive_messages(max_wait_time=5)
    # Refused at attach with the broker's own condition, not left to time out.
    assert not isinstance(refused.value, OperationTimeoutError)
    assert "amqp:not-allowed" in str(refused.value)
    assert not isinstance(refused.value, MessagingEntityNotFoundError)
    # the queue itself is untouched and still serves a plain receiver
    assert runtime(servicebus_emulator, "sessions-refused")["activeMessageCount"] == 1
    (plain,) = drain(client, "sessions-refused")
    assert str(plain) == "plain"


def test_prefetched_messages_given_back_on_close_return_uncounted(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    with client.get_queue_sender("complete") as sender:
        sender.send_messages([ServiceBusMessage(f"c{i}") for i in range(5)])
    with client.get_queue_receiver("complete", prefetch_count=5) as receiver:
        (first,) = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        receiver.complete_message(first)
    # closing released the prefetched rest: back at once, no delivery attempt counted
    rest = drain(client, "complete")
    assert sorted(str(m) for m in rest) == ["c1", "c2", "c3", "c4"]
    assert [m.delivery_count for m in rest] == [0, 0, 0, 0]
    assert runtime(servicebus_emulator, "complete")["totalMessageCount"] == 0


def test_message_over_256_kib_is_refused_like_the_standard_tier(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    before = runtime(servicebus_emulator, "receive-and-delete")["totalMessageCount"]
    with client.get_queue_sender("receive-and-delete") as sender:
        with pytest.raises(MessageSizeExceededError):
            sender.send_messages(ServiceBusMessage(b"y" * 300_000))
        sender.send_messages(ServiceBusMessage(b"y" * 200_000))  # the link is still usable
    assert runtime(servicebus_emulator, "receive-and-delete")["totalMessageCount"] == before + 1
    (big,) = drain(client, "receive-and-delete")
    assert body(big) == b"y" * 200_000
