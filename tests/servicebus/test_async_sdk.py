"""Conformance: the unmodified azure.servicebus.aio SDK against the emulator."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import (
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.aio import ServiceBusClient, ServiceBusReceiver
from azure.servicebus.exceptions import MessageLockLostError, MessagingEntityNotFoundError

from devstack.servicebus.launcher import EmulatorProcess

from .conftest import body, props, runtime

pytestmark = pytest.mark.integration


async def test_send_batch_receive_complete(aclient: ServiceBusClient) -> None:
    async with aclient.get_queue_sender("async-roundtrip") as sender:
        batch = await sender.create_message_batch()
        for i in range(3):
            batch.add_message(
                ServiceBusMessage(f"a{i}", application_properties={"i": i}, subject="s")
            )
        await sender.send_messages(batch)
    async with aclient.get_queue_receiver("async-roundtrip") as receiver:
        got = []
        while len(got) < 3:
            more = await receiver.receive_messages(max_message_count=3, max_wait_time=5)
            assert more, "the emulator stopped delivering"
            got += more
        assert [str(m) for m in got] == ["a0", "a1", "a2"]
        assert [props(m)["i"] for m in got] == [0, 1, 2]
        assert all(m.subject == "s" and m.delivery_count == 0 for m in got)
        for m in got:
            await receiver.complete_message(m)


async def test_abandon_and_lock_lost(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    async with aclient.get_queue_sender("async-settle") as sender:
        await sender.send_messages(ServiceBusMessage("x"))
    async with aclient.get_queue_receiver("async-settle") as receiver:
        (first,) = await receiver.receive_messages(max_wait_time=5)
        await receiver.abandon_message(first)
        (again,) = await receiver.receive_messages(max_wait_time=5)
        assert again.delivery_count == 1
        await asyncio.sleep(2.2)  # past the queue's 2 s LockDuration
        (fresh,) = await receiver.receive_messages(max_wait_time=5)
        assert (fresh.sequence_number, fresh.delivery_count) == (again.sequence_number, 2)
        with pytest.raises(MessageLockLostError):
            await receiver.complete_message(again)
        await receiver.complete_message(fresh)
    assert runtime(servicebus_emulator, "async-settle")["totalMessageCount"] == 0


async def test_schedule_cancel_and_peek(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    at = datetime.now(UTC) + timedelta(minutes=5)
    async with aclient.get_queue_sender("async-schedule") as sender:
        numbers = await sender.schedule_messages(
            [ServiceBusMessage("s1"), ServiceBusMessage("s2")], at
        )
        assert len(numbers) == 2
        assert runtime(servicebus_emulator, "async-schedule")["scheduledMessageCount"] == 2
        async with aclient.get_queue_receiver("async-schedule") as receiver:
            peeked = await receiver.peek_messages(max_message_count=10)
            assert [m.sequence_number for m in peeked] == numbers
            assert all(m.scheduled_enqueue_time_utc is not None for m in peeked)
        await sender.cancel_scheduled_messages(numbers)
    assert runtime(servicebus_emulator, "async-schedule")["totalMessageCount"] == 0


async def test_dead_letter_and_receive_from_dead_letter_queue(aclient: ServiceBusClient) -> None:
    async with aclient.get_queue_sender("async-dead-letter") as sender:
        await sender.send_messages(ServiceBusMessage("bad"))
    async with aclient.get_queue_receiver("async-dead-letter") as receiver:
        (message,) = await receiver.receive_messages(max_wait_time=5)
        await receiver.dead_letter_message(message, reason="Why", error_description="Because")
    async with aclient.get_queue_receiver(
        "async-dead-letter",
        sub_queue=ServiceBusSubQueue.DEAD_LETTER,
        receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE,
    ) as dlq:
        (dead,) = await dlq.receive_messages(max_wait_time=5)
        assert str(dead) == "bad"
        assert (dead.dead_letter_reason, dead.dead_letter_error_description) == ("Why", "Because")


async def test_unknown_queue_raises_messaging_entity_not_found(aclient: ServiceBusClient) -> None:
    with pytest.raises(MessagingEntityNotFoundError):
        async with aclient.get_queue_sender("missing-queue") as sender:
            await sender.send_messages(ServiceBusMessage("x"))
    with pytest.raises(MessagingEntityNotFoundError):
        async with aclient.get_queue_receiver("missing-queue") as receiver:
            await asyncio.wait_for(receiver.receive_messages(max_wait_time=1), 30)


async def receive_exactly(
    receiver: ServiceBusReceiver, count: int, within: float = 15.0
) -> list[ServiceBusReceivedMessage]:
    """Receive until `count` messages arrived or the deadline passed (then fail)."""
    got: list[ServiceBusReceivedMessage] = []
    deadline = time.monotonic() + within
    while len(got) < count and time.monotonic() < deadline:
        got += await receiver.receive_messages(max_message_count=count - len(got), max_wait_time=2)
    assert len(got) == count, f"received {len(got)} of {count} messages within {within} s"
    return got


async def dead_letters(
    aclient: ServiceBusClient, queue: str, count: int
) -> list[ServiceBusReceivedMessage]:
    async with aclient.get_queue_receiver(
        queue,
        sub_queue=ServiceBusSubQueue.DEAD_LETTER,
        receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE,
    ) as dlq:
        return await receive_exactly(dlq, count)


async def test_message_fields_round_trip(aclient: ServiceBusClient) -> None:
    message_id = f"am-{uuid.uuid4()}"
    sent_at = datetime.now(UTC)
    async with aclient.get_queue_sender("async-fields") as sender:
        await sender.send_messages(
            ServiceBusMessage(
                b"\x00async\xffbody",
                application_properties={"tenant": "acme", "attempt": 3, "urgent": True},
                content_type="application/octet-stream",
                correlation_id="corr-async",
                subject="document",
                message_id=message_id,
            )
        )
        await sender.send_messages(ServiceBusMessage("second", message_id=f"{message_id}-2"))
    async with aclient.get_queue_receiver("async-fields") as receiver:
        first, second = await receive_exactly(receiver, 2)
        assert body(first) == b"\x00async\xffbody"
        assert props(first) == {"tenant": "acme", "attempt": 3, "urgent": True}
        assert first.content_type == "application/octet-stream"
        assert first.correlation_id == "corr-async"
        assert first.subject == "document"
        assert first.message_id == message_id
        assert first.delivery_count == 0
        assert first.lock_token is not None
        assert first.sequence_number is not None
        assert first.sequence_number > 0
        assert second.sequence_number == first.sequence_number + 1
        assert first.enqueued_time_utc is not None
        assert abs(first.enqueued_time_utc - sent_at) < timedelta(seconds=30)
        assert first.locked_until_utc is not None
        assert first.locked_until_utc > first.enqueued_time_utc
        assert (str(second), second.message_id, second.delivery_count) == (
            "second",
            f"{message_id}-2",
            0,
        )
        for message in (first, second):
            await receiver.complete_message(message)


async def test_renew_message_lock_keeps_the_message(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    async with aclient.get_queue_sender("async-renew") as sender:
        await sender.send_messages(ServiceBusMessage("long-job"))
    async with aclient.get_queue_receiver("async-renew") as receiver:
        (message,) = await receive_exactly(receiver, 1)
        first_until = message.locked_until_utc
        assert first_until is not None
        for _ in range(2):  # 3 s in all, past the queue's 2 s LockDuration
            await asyncio.sleep(1.5)
            renewed = await receiver.renew_message_lock(message)
            assert renewed > first_until
            assert message.locked_until_utc == renewed
        assert await receiver.receive_messages(max_wait_time=0.5) == []  # still locked to us
        await receiver.complete_message(message)  # the lock held: no MessageLockLostError
    assert runtime(servicebus_emulator, "async-renew")["totalMessageCount"] == 0


async def test_max_delivery_count_moves_the_message_to_the_dead_letter_queue(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    async with aclient.get_queue_sender("async-max-delivery") as sender:
        await sender.send_messages(ServiceBusMessage("always-fails"))
    async with aclient.get_queue_receiver("async-max-delivery") as receiver:
        for attempt in range(2):  # MaxDeliveryCount 2
            (message,) = await receive_exactly(receiver, 1)
            assert message.delivery_count == attempt
            await receiver.abandon_message(message)
        assert await receiver.receive_messages(max_wait_time=1) == []
    counts = runtime(servicebus_emulator, "async-max-delivery")
    assert (counts["activeMessageCount"], counts["deadLetterMessageCount"]) == (0, 1)
    (dead,) = await dead_letters(aclient, "async-max-delivery", 1)
    assert str(dead) == "always-fails"
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"


async def test_expired_message_is_dead_lettered_when_configured(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    async with aclient.get_queue_sender("async-ttl-dead-letter") as sender:
        await sender.send_messages(ServiceBusMessage("short-lived"))
    await asyncio.sleep(1.5)  # past the queue's 1 s DefaultMessageTimeToLive
    counts = runtime(servicebus_emulator, "async-ttl-dead-letter")
    assert (counts["activeMessageCount"], counts["deadLetterMessageCount"]) == (0, 1)
    (dead,) = await dead_letters(aclient, "async-ttl-dead-letter", 1)
    assert str(dead) == "short-lived"
    assert dead.dead_letter_reason == "TTLExpiredException"


async def test_receive_and_delete_removes_on_delivery(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    async with aclient.get_queue_sender("async-receive-and-delete") as sender:
        await sender.send_messages([ServiceBusMessage(f"d{i}") for i in range(3)])
    async with aclient.get_queue_receiver(
        "async-receive-and-delete", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
    ) as receiver:
        got = await receive_exactly(receiver, 3)
        assert [str(m) for m in got] == ["d0", "d1", "d2"]
        assert all(m.lock_token is None and m.delivery_count == 0 for m in got)
        # gone on delivery: nothing to settle, nothing comes back
        assert runtime(servicebus_emulator, "async-receive-and-delete")["totalMessageCount"] == 0
        assert await receiver.receive_messages(max_wait_time=0.5) == []


async def test_scheduled_message_arrives_at_its_time_and_a_cancelled_one_never(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    queue = "async-scheduled-arrival"
    at = datetime.now(UTC) + timedelta(seconds=3)
    async with aclient.get_queue_sender(queue) as sender:
        kept, cancelled = await sender.schedule_messages(
            [ServiceBusMessage("later"), ServiceBusMessage("never")], at
        )
        await sender.send_messages(ServiceBusMessage("by-property", scheduled_enqueue_time_utc=at))
        await sender.cancel_scheduled_messages(cancelled)
    counts = runtime(servicebus_emulator, queue)
    assert (counts["scheduledMessageCount"], counts["activeMessageCount"]) == (2, 0)
    async with aclient.get_queue_receiver(queue) as receiver:
        got: list[ServiceBusReceivedMessage] = []
        deadline = time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < deadline:
            more = await receiver.receive_messages(max_message_count=2 - len(got), max_wait_time=2)
            if more:  # never handed out before its time
                assert datetime.now(UTC) >= at - timedelta(milliseconds=100)
            got += more
        assert sorted(str(m) for m in got) == ["by-property", "later"]
        later = next(m for m in got if str(m) == "later")
        assert later.sequence_number == kept
        assert later.enqueued_time_utc is not None
        assert later.enqueued_time_utc >= at - timedelta(milliseconds=1)
        for message in got:
            await receiver.complete_message(message)
        assert await receiver.receive_messages(max_wait_time=0.5) == []  # "never" stays gone
    assert runtime(servicebus_emulator, queue)["totalMessageCount"] == 0


async def test_duplicate_message_id_is_dropped_within_the_window(
    aclient: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    unique = str(uuid.uuid4())
    async with aclient.get_queue_sender("async-duplicates") as sender:
        await sender.send_messages(ServiceBusMessage("one", message_id=unique))
        await sender.send_messages(ServiceBusMessage("one again", message_id=unique))
        await sender.send_messages(
            [
                ServiceBusMessage("two", message_id=f"{unique}-2"),
                ServiceBusMessage("two again", message_id=f"{unique}-2"),
            ]
        )
    assert runtime(servicebus_emulator, "async-duplicates")["activeMessageCount"] == 2
    async with aclient.get_queue_receiver(
        "async-duplicates", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
    ) as receiver:
        got = await receive_exactly(receiver, 2)
        assert [(str(m), m.message_id) for m in got] == [("one", unique), ("two", f"{unique}-2")]
        assert await receiver.receive_messages(max_wait_time=0.5) == []
