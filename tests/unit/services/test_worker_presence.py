"""Worker heartbeats and the queue-wide tally, as the worker writes them (over fakes)."""

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from function_app.domain.errors import (
    DependencyUnavailable,
    PermanentJobError,
    TransientJobError,
)
from function_app.domain.feed import owner_key
from function_app.domain.jobs import JobStatus
from function_app.jobtypes.base import JobContext
from function_app.services.worker_presence import PresenceReporter
from tests.fakes import FAKE_WORKER_ID, FakeWorkerPresence, FixedClock
from tests.unit.services.test_worker import delivery, enqueue, read_all, world_with


async def test_a_run_names_its_worker_and_beats_while_it_runs() -> None:
    world, _ = world_with(read_all)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    assert world.services.worker.presence is not None
    await world.services.worker.presence.settled()
    started = [e for e in world.log.events[job_id] if e.status is JobStatus.STARTED]
    assert [e.worker for e in started] == [FAKE_WORKER_ID]
    beats = world.presence.written
    assert beats[0].running[0].job_id == job_id
    assert beats[0].running[0].owner_key == owner_key("alice")  # never the owner itself
    assert beats[-1].running == ()  # the last beat: nothing left running
    assert world.presence.beats[FAKE_WORKER_ID].running == ()


async def test_ended_jobs_are_counted_by_outcome_once() -> None:
    async def fail(ctx: JobContext) -> Mapping[str, Any]:
        raise PermanentJobError("unreadable", "cannot read it")

    world, _ = world_with(read_all)
    done = await enqueue(world)
    await world.services.worker.handle(delivery(done))
    await world.services.worker.handle(delivery(done, 2))  # a redelivery after the end
    failing, _ = world_with(fail)
    failed = await enqueue(failing)
    await failing.services.worker.handle(delivery(failed))
    [tally] = world.counters.by_queue.values()
    assert (tally.completed, tally.failed, tally.timed) == (1, 0, 1)
    [tally] = failing.counters.by_queue.values()
    assert (tally.completed, tally.failed) == (0, 1)


async def test_a_retry_is_not_counted_until_the_job_ends() -> None:
    world, _ = world_with(read_all, ALLOW_FAULT_INJECTION=True)
    job_id = await enqueue(world, simulateTransientFailures=1)
    with pytest.raises(TransientJobError):
        await world.services.worker.handle(delivery(job_id))
    assert world.counters.by_queue == {}
    await world.services.worker.handle(delivery(job_id, 2))
    assert sum(t.completed for t in world.counters.by_queue.values()) == 1


async def test_failing_heartbeat_and_counter_stores_cost_no_job() -> None:
    world, _ = world_with(read_all)
    world.presence.fail_with = DependencyUnavailable("storage", "down")
    world.counters.fail_with = DependencyUnavailable("storage", "down")
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    job = await world.log.get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


async def test_beats_repeat_while_a_job_runs_and_stop_after() -> None:
    presence = FakeWorkerPresence()
    reporter = PresenceReporter(presence, "w1", FixedClock(), heartbeat_seconds=0.02)
    world, _ = world_with(read_all)
    job_id = await enqueue(world)
    job = await world.log.get(job_id)
    assert job is not None
    async with reporter.running(job):
        await asyncio.sleep(0.15)
    await reporter.settled()
    while_running = [b for b in presence.written if b.running]
    assert len(while_running) >= 4  # the first at once, then one every 20 ms
    assert presence.written[-1].running == ()
    written = len(presence.written)
    await asyncio.sleep(0.1)
    assert len(presence.written) == written  # idle: no more beats
