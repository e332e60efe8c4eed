"""Conformance under concurrency: the SDK used the way its own samples and AutoLockRenewer use it.

azure-servicebus 7.15 allocates delivery-ids without a lock: coroutines sharing one async
sender, or the renewer's threads sharing one `$management` link, put transfers on the wire
with duplicate or skipped delivery-ids. Azure answers them (settlement by delivery-id range,
`$management` correlated by message-id), so the emulator must too, without ending the
connection. Every message is counted by message_id: received exactly once, never redelivered.
"""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from datetime import datetime

import pytest
from azure.servicebus import (
    AutoLockRenewer,
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
)
from azure.servicebus.aio import AutoLockRenewer as AsyncAutoLockRenewer
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.aio import ServiceBusReceiver as AsyncServiceBusReceiver

from devstack.servicebus.launcher import EmulatorProcess

from .conftest import runtime

pytestmark = pytest.mark.integration

LOCK_S = 5.0  # the renewer queues' LockDuration (tests/support/servicebus.py)
HELD = 10  # messages the renewer keeps locked
SETTLED_MEANWHILE = 2  # messages the receiver completes while the renewer works


def _until(message: ServiceBusReceivedMessage) -> datetime:
    assert message.locked_until_utc is not None
    return message.locked_until_utc


async def _receive_async(receiver: AsyncServiceBusReceiver, count: int) -> list[str]:
    ids: list[str] = []
    deadline = time.monotonic() + 30
    while len(ids) < count and time.monotonic() < deadline:
        batch = await receiver.receive_messages(max_message_count=100, max_wait_time=2)
        ids += [str(m.message_id) for m in batch]
    ids += [str(m.message_id) for m in await receiver.receive_messages(max_wait_time=1)]
    return ids


def _exactly_once(sent: list[str], received: list[str]) -> None:
    counts = Counter(received)
    missing = [i for i in sent if counts[i] == 0]
    twice = {i: n for i, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} of {len(sent)} messages never arrived"
    assert not twice, f"received more than once: {twice}"
    assert sorted(received) == sorted(sent)


def test_auto_lock_renewer_keeps_ten_messages_past_their_lock_sync(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    queue = "renewer-sync"
    total = HELD + SETTLED_MEANWHILE
    with client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage(f"r{i}", message_id=f"r{i}") for i in range(total)])
    failures: list[BaseException | None] = []
    with client.get_queue_receiver(queue, prefetch_count=total) as receiver:
        got: list[ServiceBusReceivedMessage] = []
        deadline = time.monotonic() + 15
        while len(got) < total and time.monotonic() < deadline:
            got += receiver.receive_messages(max_message_count=total - len(got), max_wait_time=2)
        assert len(got) == total
        received_at = time.monotonic()
        held, others = got[:HELD], got[HELD:]
        first_until = {m.message_id: _until(m) for m in held}
        renewer = AutoLockRenewer(max_workers=HELD)
        for message in held:
            renewer.register(
                receiver,
                message,
                max_lock_renewal_duration=60,
                on_lock_renew_failure=lambda _m, error: failures.append(error),
            )
        time.sleep(LOCK_S / 2)
        for message in others:  # settle on the link while the renewer's threads renew
            receiver.complete_message(message)
        time.sleep(max(0.0, received_at + LOCK_S + 1.5 - time.monotonic()))  # past the lock
        renewed = all(_until(m) > first_until[m.message_id] for m in held)
        for message in held:
            receiver.complete_message(message)  # raises if the lock or the link was lost
        renewer.close()
        assert failures == []
        assert all(m.auto_renew_error is None for m in held)
        assert renewed, "the renewer did not renew every lock"
        assert all(m.delivery_count == 0 for m in got)
        assert receiver.receive_messages(max_wait_time=1) == []  # nothing comes back
    assert runtime(servicebus_emulator, queue)["totalMessageCount"] == 0


async def test_auto_lock_renewer_keeps_ten_messages_past_their_lock_async(
    aclient: AsyncServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    queue = "renewer-async"
    total = HELD + SETTLED_MEANWHILE
    async with aclient.get_queue_sender(queue) as sender:
        await sender.send_messages(
            [ServiceBusMessage(f"a{i}", message_id=f"a{i}") for i in range(total)]
        )
    failures: list[BaseException | None] = []

    async def failed(_message: object, error: BaseException | None) -> None:
        failures.append(error)

    async with aclient.get_queue_receiver(queue, prefetch_count=total) as receiver:
        got: list[ServiceBusReceivedMessage] = []
        deadline = time.monotonic() + 15
        while len(got) < total and time.monotonic() < deadline:
            got += await receiver.receive_messages(
                max_message_count=total - len(got), max_wait_time=2
            )
        assert len(got) == total
        received_at = time.monotonic()
        held, others = got[:HELD], got[HELD:]
        first_until = {m.message_id: _until(m) for m in held}
        renewer = AsyncAutoLockRenewer()
        for message in held:
            renewer.register(
                receiver, message, max_lock_renewal_duration=60, on_lock_renew_failure=failed
            )
        await asyncio.sleep(LOCK_S / 2)
        for message in others:
            await receiver.complete_message(message)
        await asyncio.sleep(max(0.0, received_at + LOCK_S + 1.5 - time.monotonic()))
        renewed = all(_until(m) > first_until[m.message_id] for m in held)
        for message in held:
            await receiver.complete_message(message)
        await renewer.close()
        assert failures == []
        assert all(m.auto_renew_error is None for m in held)
        assert renewed, "the renewer did not renew every lock"
        assert all(m.delivery_count == 0 for m in got)
        assert await receiver.receive_messages(max_wait_time=1) == []
    assert runtime(servicebus_emulator, queue)["totalMessageCount"] == 0


async def test_64_concurrent_sends_on_one_shared_async_sender(
    aclient: AsyncServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    queue = "gather-one-sender"
    sent = [f"one-{uuid.uuid4()}" for _ in range(64)]
    async with aclient.get_queue_sender(queue) as sender:
        await asyncio.gather(
            *(sender.send_messages(ServiceBusMessage("x", message_id=i)) for i in sent)
        )
        await sender.send_messages(ServiceBusMessage("after", message_id="after"))  # link lives
    async with aclient.get_queue_receiver(
        queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE, prefetch_count=100
    ) as receiver:
        received = await _receive_async(receiver, len(sent) + 1)
    _exactly_once([*sent, "after"], received)
    assert runtime(servicebus_emulator, queue)["totalMessageCount"] == 0


async def test_64_concurrent_sends_through_separate_senders_on_one_client(
    aclient: AsyncServiceBusClient,
) -> None:
    queue = "gather-many-senders"
    sent: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        # opened first: the SDK's lazy open is not safe to race (a bug of its own)
        senders = [
            await stack.enter_async_context(aclient.get_queue_sender(queue)) for _ in range(8)
        ]
        sends = []
        for n, sender in enumerate(senders):
            for i in range(8):  # 8 senders x 8 concurrent sends each, all gathered
                message_id = f"many-{n}-{i}-{uuid.uuid4()}"
                sent.append(message_id)
                sends.append(sender.send_messages(ServiceBusMessage("x", message_id=message_id)))
        await asyncio.gather(*sends)
    async with aclient.get_queue_receiver(
        queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE, prefetch_count=100
    ) as receiver:
        received = await _receive_async(receiver, len(sent))
    _exactly_once(sent, received)


async def test_gathered_sends_then_gathered_receivers_like_the_session_pool_sample(
    aclient: AsyncServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    """session_pool_receive_async.py without sessions: rounds of gathered sends on one sender,
    then several receivers of one client gathered, completing what they get."""
    queue = "gathered-rounds"
    rounds, per_round = 5, 20
    sent: list[str] = []
    async with aclient.get_queue_sender(queue) as sender:
        for r in range(rounds):
            ids = [f"round-{r}-{i}" for i in range(per_round)]
            sent += ids
            await asyncio.gather(
                *(sender.send_messages(ServiceBusMessage(f"Sample message {i}", message_id=i))
                  for i in ids)
            )  # fmt: skip
    received: list[str] = []
    done = asyncio.Event()

    async def work() -> None:
        async with aclient.get_queue_receiver(queue, prefetch_count=10) as receiver:
            while not done.is_set():
                batch = await receiver.receive_messages(max_message_count=10, max_wait_time=1)
                for message in batch:
                    await receiver.complete_message(message)
                    received.append(str(message.message_id))
                if len(received) >= len(sent):
                    done.set()

    workers = [asyncio.create_task(work()) for _ in range(4)]
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        done.set()
        await asyncio.gather(*workers)
    _exactly_once(sent, received)
    assert runtime(servicebus_emulator, queue)["totalMessageCount"] == 0
