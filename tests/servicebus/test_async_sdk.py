"""Conformance: the unmodified azure.servicebus.aio SDK against the emulator."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusMessage, ServiceBusReceiveMode, ServiceBusSubQueue
from azure.servicebus.aio import ServiceBusClient
from azure.servicebus.exceptions import MessageLockLostError, MessagingEntityNotFoundError

from devstack.servicebus.launcher import EmulatorProcess

from .conftest import props, runtime

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
