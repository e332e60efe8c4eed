"""The Service Bus job queue adapter and queue statistics against the local emulator.

Uses the real azure-servicebus SDK on both sides: the adapter sends, a receiver peeks (peek
locks nothing, so messages other tests send are left alone). The emulator is the
`servicebus_emulator` session fixture (tests/support/servicebus.py).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.servicebus.aio import ServiceBusClient

from devstack.azurite import free_port
from function_app.adapters.queue_stats import EmulatorQueueStats, is_emulator_connection
from function_app.adapters.servicebus_outbox import ATTEMPT_TIMEOUT_SECONDS, SendPolicy
from function_app.adapters.servicebus_queue import ServiceBusJobQueue
from function_app.domain.errors import DependencyUnavailable, InvalidRequest, NotFound

pytestmark = pytest.mark.integration

QUEUE = "document-analysis"


@pytest.fixture
async def job_queue(servicebus_emulator: Any) -> AsyncIterator[ServiceBusJobQueue]:
    queue = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, probe_queue=QUEUE
    )
    yield queue
    await queue.close()


async def peek_all(connection_string: str, queue: str) -> list[Any]:
    async with (
        ServiceBusClient.from_connection_string(connection_string) as client,
        client.get_queue_receiver(queue) as receiver,
    ):
        found: list[Any] = []
        sequence = 0
        while True:
            batch = await receiver.peek_messages(max_message_count=100, sequence_number=sequence)
            if not batch:
                return found
            found.extend(batch)
            sequence = max(m.sequence_number or 0 for m in batch) + 1


async def test_send_sets_message_id_content_type_and_properties(
    servicebus_emulator: Any, job_queue: ServiceBusJobQueue
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    body = {"jobId": job_id, "jobName": "analyze-document", "owner": "alice", "data": {"n": 1}}
    await job_queue.send(QUEUE, job_id, body)
    mine = [
        m
        for m in await peek_all(servicebus_emulator.connection_string, QUEUE)
        if m.message_id == job_id
    ]
    assert len(mine) == 1
    message = mine[0]
    assert message.content_type == "application/json"
    assert json.loads(b"".join(message.body)) == body
    props = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in (message.application_properties or {}).items()
    }
    assert props == {"jobName": "analyze-document", "owner": "alice"}


async def test_duplicate_send_is_dropped_by_message_id(
    servicebus_emulator: Any, job_queue: ServiceBusJobQueue
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    await job_queue.send(QUEUE, job_id, {"jobId": job_id, "attempt": 1})
    await job_queue.send(QUEUE, job_id, {"jobId": job_id, "attempt": 2})
    mine = [
        m
        for m in await peek_all(servicebus_emulator.connection_string, QUEUE)
        if m.message_id == job_id
    ]
    assert [json.loads(b"".join(m.body))["attempt"] for m in mine] == [1]


async def test_concurrent_sends_each_reach_the_queue_once_in_few_transfers(
    servicebus_emulator: Any, job_queue: ServiceBusJobQueue
) -> None:
    """The SDK's sender is not coroutine-safe: 200 enqueues at once share one sender through
    the outbox, one batch at a time, and every message arrives exactly once."""
    run = uuid.uuid4().hex[:8]
    ids = [f"job-{run}-{i}" for i in range(200)]
    await asyncio.gather(*(job_queue.send(QUEUE, i, {"jobId": i}) for i in ids))
    arrived = [
        m.message_id
        for m in await peek_all(servicebus_emulator.connection_string, QUEUE)
        if str(m.message_id).startswith(f"job-{run}-")
    ]
    assert sorted(arrived) == sorted(ids)
    outbox = job_queue.outboxes[QUEUE]
    assert outbox.senders_opened == 1
    assert outbox.batches_sent < len(ids) / 5


async def test_a_queue_the_app_does_not_know_is_refused_before_any_io(
    servicebus_emulator: Any,
) -> None:
    queue = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, known_queues=[QUEUE]
    )
    try:
        with pytest.raises(InvalidRequest) as caught:
            await queue.send("no-such-queue", "job-x", {"jobId": "job-x"})
        assert caught.value.code == "unknown_queue"
        assert queue.outboxes == {}  # nothing was opened
    finally:
        await queue.close()


async def test_a_known_queue_missing_on_the_broker_is_dependency_unavailable(
    servicebus_emulator: Any,
) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    queue = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, known_queues=[QUEUE, missing]
    )
    try:
        with pytest.raises(DependencyUnavailable) as caught:
            await queue.send(missing, "job-y", {"jobId": "job-y"})
        assert caught.value.dependency == "servicebus"
    finally:
        await queue.close()


async def test_health_check_passes_and_names_servicebus_when_its_queue_is_missing(
    servicebus_emulator: Any, job_queue: ServiceBusJobQueue
) -> None:
    await job_queue.check()
    broken = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, probe_queue=f"missing-{uuid.uuid4().hex[:8]}"
    )
    try:
        with pytest.raises(DependencyUnavailable) as caught:
            await broken.check()
        assert caught.value.dependency == "servicebus"
    finally:
        await broken.close()


async def test_broker_down_is_dependency_unavailable() -> None:
    nobody = (
        f"Endpoint=sb://127.0.0.1:{free_port()};SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
    )
    queue = ServiceBusJobQueue.from_connection_string(
        nobody, probe_queue=QUEUE, policy=SendPolicy(budget_seconds=1.0)
    )
    try:
        # It gives up within its budget (a TimeoutError here would mean it did not).
        with pytest.raises(DependencyUnavailable) as caught:
            async with asyncio.timeout(1.0 + ATTEMPT_TIMEOUT_SECONDS):
                await queue.send(QUEUE, "job-down", {"jobId": "job-down"})
        assert caught.value.dependency == "servicebus"
        with pytest.raises(DependencyUnavailable):
            await queue.check()
    finally:
        await queue.close()


async def test_emulator_queue_stats_count_active_messages(
    servicebus_emulator: Any, job_queue: ServiceBusJobQueue
) -> None:
    assert is_emulator_connection(servicebus_emulator.connection_string)
    stats = EmulatorQueueStats(servicebus_emulator.admin_url)
    try:
        job_id = f"job-{uuid.uuid4().hex}"
        await job_queue.send(QUEUE, job_id, {"jobId": job_id})
        counts = await stats.counts(QUEUE)
        assert counts.queue_name == QUEUE
        assert counts.active >= 1  # ours, at least: peek-only tests consume nothing
        with pytest.raises(NotFound) as caught:
            await stats.counts(f"missing-{uuid.uuid4().hex[:8]}")
        assert caught.value.code == "unknown_queue"
    finally:
        await stats.close()


async def test_emulator_stats_unreachable_is_dependency_unavailable() -> None:
    stats = EmulatorQueueStats(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(DependencyUnavailable) as caught:
            await stats.counts(QUEUE)
        assert caught.value.dependency == "servicebus"
    finally:
        await stats.close()
