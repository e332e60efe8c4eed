"""`ServiceBusJobQueue`'s outbox over a stand-in for the SDK's client and sender.

The stand-in keeps the SDK's documented rule as an assertion: a sender is never used by
two coroutines at once (azure-servicebus README, "Thread safety"), and a sender that
failed is shut down (the SDK raises ValueError for any later use). The real SDK against
the emulator is in tests/integration/test_servicebus_queue_adapter.py.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.servicebus import ServiceBusMessage
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    ServiceBusConnectionError,
)

from function_app.adapters.servicebus_outbox import SendPolicy
from function_app.adapters.servicebus_queue import ServiceBusJobQueue
from function_app.domain.errors import DependencyUnavailable

QUEUE = "resume-analysis"
FAST = SendPolicy(budget_seconds=2.0, attempt_timeout_seconds=1.0, backoff_first_seconds=0.01)


class Broker:
    """What reached the queue, and the faults to inject."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.fail_next_sends = 0
        self.fail_with: type[Exception] = ServiceBusConnectionError
        self.send_delay = 0.0
        self.batch_capacity = 1000
        self.gate: asyncio.Event | None = None
        self.close_raises_cancelled = False


class StandInBatch:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.messages: list[ServiceBusMessage] = []

    def add_message(self, message: ServiceBusMessage) -> None:
        if len(self.messages) >= self.capacity:
            raise MessageSizeExceededError(message="batch full")
        self.messages.append(message)


class StandInSender:
    def __init__(self, broker: Broker, client: "StandInClient") -> None:
        self._broker = broker
        self._client = client
        self._in_use = 0
        self.opened = False
        self.shut_down = False
        self.sends = 0

    async def __aenter__(self) -> "StandInSender":
        await self._use(self._open())
        return self

    async def _open(self) -> None:
        await asyncio.sleep(0.005)  # an attach round trip: other coroutines run meanwhile
        self.opened = True
        self._client.opened += 1

    async def create_message_batch(self) -> StandInBatch:
        return StandInBatch(self._broker.batch_capacity)

    async def send_messages(self, message: ServiceBusMessage | StandInBatch) -> None:
        await self._use(self._send(message))

    async def _send(self, message: ServiceBusMessage | StandInBatch) -> None:
        if not self.opened:
            raise AssertionError("send on a sender that was never opened")
        self.sends += 1
        if self._broker.gate is not None:
            await self._broker.gate.wait()
        await asyncio.sleep(self._broker.send_delay)
        if self._broker.fail_next_sends > 0:
            self._broker.fail_next_sends -= 1
            self.shut_down = True
            raise self._broker.fail_with(message="link detached")
        messages = message.messages if isinstance(message, StandInBatch) else [message]
        for one in messages:
            self._broker.received.append(str(one.message_id))

    async def _use(self, work: Any) -> None:
        if self.shut_down:
            work.close()
            raise ValueError("The handler has already been shutdown. Please use ServiceBusClient")
        self._in_use += 1
        try:
            if self._in_use > 1:
                self._client.violations += 1
            await work
        finally:
            self._in_use -= 1

    async def close(self) -> None:
        if self._in_use:
            self._client.violations += 1  # closed under a send in flight
        self.shut_down = True
        if self._broker.close_raises_cancelled:
            # azure-servicebus 7.15 awaits its own cancelled keep-alive task while closing
            raise asyncio.CancelledError


class StandInClient:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.senders: list[StandInSender] = []
        self.opened = 0
        self.violations = 0
        self.closed = False

    def get_queue_sender(self, queue_name: str) -> StandInSender:
        assert queue_name == QUEUE
        sender = StandInSender(self.broker, self)
        self.senders.append(sender)
        return sender

    async def close(self) -> None:
        self.closed = True

    @property
    def send_calls(self) -> int:
        return sum(s.sends for s in self.senders)


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def sdk(broker: Broker) -> StandInClient:
    return StandInClient(broker)


@pytest.fixture
async def job_queue(sdk: StandInClient) -> AsyncIterator[ServiceBusJobQueue]:
    queue = ServiceBusJobQueue(sdk, known_queues=[QUEUE], policy=FAST)  # type: ignore[arg-type]
    yield queue
    await queue.close()


async def send_all(job_queue: ServiceBusJobQueue, count: int, prefix: str = "job") -> list[Any]:
    return await asyncio.gather(
        *(job_queue.send(QUEUE, f"{prefix}-{i}", {"jobId": f"{prefix}-{i}"}) for i in range(count)),
        return_exceptions=True,
    )


async def test_concurrent_sends_share_one_sender_one_at_a_time_in_batches(
    job_queue: ServiceBusJobQueue, sdk: StandInClient, broker: Broker
) -> None:
    broker.send_delay = 0.002
    results = await send_all(job_queue, 300)
    assert results == [None] * 300
    assert sorted(broker.received) == sorted(f"job-{i}" for i in range(300))
    assert sdk.violations == 0
    assert sdk.opened == 1  # opened once, by one task, although 300 sends raced to it
    assert sdk.send_calls < 300 / 10  # coalesced: far fewer transfers than enqueues


async def test_the_message_carries_id_content_type_body_and_properties(
    job_queue: ServiceBusJobQueue, sdk: StandInClient
) -> None:
    seen: list[ServiceBusMessage] = []
    original = StandInSender._send

    async def capture(self: StandInSender, message: Any) -> None:
        seen.append(message)
        await original(self, message)

    StandInSender._send = capture  # type: ignore[method-assign]
    try:
        await job_queue.send(QUEUE, "job-1", {"jobId": "job-1", "jobName": "n", "owner": "o"})
    finally:
        StandInSender._send = original  # type: ignore[method-assign]
    (message,) = seen
    assert str(message.message_id) == "job-1"
    assert message.content_type == "application/json"
    assert json.loads(str(message)) == {"jobId": "job-1", "jobName": "n", "owner": "o"}
    assert message.application_properties == {"jobName": "n", "owner": "o"}


async def test_a_broken_link_is_replaced_once_and_every_send_goes_through(
    job_queue: ServiceBusJobQueue, sdk: StandInClient, broker: Broker
) -> None:
    await job_queue.send(QUEUE, "warm", {"jobId": "warm"})
    broker.fail_next_sends = 1
    broker.send_delay = 0.002
    results = await send_all(job_queue, 100)
    assert results == [None] * 100
    assert sorted(broker.received) == sorted(["warm", *(f"job-{i}" for i in range(100))])
    assert sdk.opened == 2  # the broken sender was replaced exactly once
    assert sdk.violations == 0  # and never closed under a send in flight


async def test_the_sdks_own_cancelled_error_on_close_does_not_escape(
    job_queue: ServiceBusJobQueue, sdk: StandInClient, broker: Broker
) -> None:
    """Seen under load: the SDK's close raised CancelledError, which escaped as a 500 and
    left the job queued without a message. The broken sender is dropped, the send retried."""
    broker.close_raises_cancelled = True
    broker.fail_next_sends = 1
    await job_queue.send(QUEUE, "job-1", {"jobId": "job-1"})
    assert broker.received == ["job-1"]
    assert sdk.opened == 2


async def test_a_send_that_keeps_failing_ends_within_its_budget(
    sdk: StandInClient, broker: Broker
) -> None:
    broker.fail_next_sends = 10_000
    policy = SendPolicy(budget_seconds=0.3, attempt_timeout_seconds=0.2, backoff_first_seconds=0.01)
    queue = ServiceBusJobQueue(sdk, policy=policy)  # type: ignore[arg-type]
    try:
        # It gives up at its deadline, or earlier when the next back-off would end past it.
        async with asyncio.timeout(policy.budget_seconds + policy.attempt_timeout_seconds):
            results = await send_all(queue, 5)
    finally:
        await queue.close()
    assert all(isinstance(r, DependencyUnavailable) for r in results), results
    assert all(r.dependency == "servicebus" for r in results)
    assert "ServiceBusConnectionError" in results[0].message  # the last cause, for the log
    assert sdk.send_calls >= 2  # it was retried before giving up
    assert broker.received == []


async def test_a_hung_attempt_times_out_and_is_retried_on_a_new_sender(
    job_queue: ServiceBusJobQueue, sdk: StandInClient, broker: Broker
) -> None:
    broker.gate = asyncio.Event()  # the first send hangs
    first = asyncio.create_task(job_queue.send(QUEUE, "job-hung", {"jobId": "job-hung"}))
    await asyncio.sleep(1.1)  # past FAST.attempt_timeout_seconds
    broker.gate.set()
    await first
    assert broker.received == ["job-hung"]
    assert sdk.opened == 2


async def test_a_missing_queue_fails_at_once_without_retrying(
    job_queue: ServiceBusJobQueue, sdk: StandInClient, broker: Broker
) -> None:
    broker.fail_next_sends = 1
    broker.fail_with = MessagingEntityNotFoundError
    with pytest.raises(DependencyUnavailable) as caught:
        await job_queue.send(QUEUE, "job-x", {"jobId": "job-x"})
    assert "does not exist" in caught.value.message
    assert sdk.send_calls == 1


async def test_messages_that_do_not_fit_one_batch_go_in_the_next(
    job_queue: ServiceBusJobQueue, sdk: StandInClient, broker: Broker
) -> None:
    broker.batch_capacity = 10
    broker.gate = asyncio.Event()
    first = asyncio.create_task(job_queue.send(QUEUE, "first", {"jobId": "first"}))
    await asyncio.sleep(0.05)  # "first" is in flight; the next 35 wait behind it
    rest = asyncio.gather(*(job_queue.send(QUEUE, f"job-{i}", {}) for i in range(35)))
    await asyncio.sleep(0.01)
    broker.gate.set()
    await first
    await rest
    assert broker.received == ["first", *(f"job-{i}" for i in range(35))]  # order kept
    assert sdk.send_calls == 1 + 4  # 10 + 10 + 10 + 5


async def test_a_caller_that_went_away_before_its_turn_is_not_sent(
    job_queue: ServiceBusJobQueue, broker: Broker
) -> None:
    broker.gate = asyncio.Event()
    first = asyncio.create_task(job_queue.send(QUEUE, "first", {"jobId": "first"}))
    await asyncio.sleep(0.05)
    gone = asyncio.create_task(job_queue.send(QUEUE, "gone", {"jobId": "gone"}))
    kept = asyncio.create_task(job_queue.send(QUEUE, "kept", {"jobId": "kept"}))
    await asyncio.sleep(0.01)
    gone.cancel()
    broker.gate.set()
    await asyncio.gather(first, kept)
    assert broker.received == ["first", "kept"]


async def test_close_fails_what_waits_and_closes_the_sender(
    sdk: StandInClient, broker: Broker
) -> None:
    queue = ServiceBusJobQueue(sdk, policy=FAST)  # type: ignore[arg-type]
    broker.gate = asyncio.Event()
    waiting = asyncio.gather(
        *(queue.send(QUEUE, f"job-{i}", {}) for i in range(3)), return_exceptions=True
    )
    await asyncio.sleep(0.05)
    await queue.close()
    results = await waiting
    assert all(isinstance(r, DependencyUnavailable) for r in results), results
    assert all(s.shut_down for s in sdk.senders)
    assert sdk.closed
    with pytest.raises(DependencyUnavailable):
        await queue.send(QUEUE, "late", {})
