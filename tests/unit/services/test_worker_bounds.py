"""The worker bounds a run: past JOB_TIME_LIMIT_SECONDS it is stopped and ends `failed`
(`time_limit_exceeded`, not retryable); a cancel request stops it while it runs, not only at
the job type's checkpoints, and the job ends `cancelled`."""

import asyncio
from collections.abc import Mapping
from typing import Any

from function_app.domain.identity import Caller
from function_app.domain.jobs import JobStatus
from function_app.jobtypes.base import JobContext
from tests.unit.services.test_worker import delivery, enqueue, world_with


class Stuck:
    """A run that never ends by itself (an extraction that takes forever)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped = False

    async def __call__(self, ctx: JobContext) -> Mapping[str, Any]:
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped = True
        return {}


async def test_a_run_past_the_time_limit_fails_and_is_stopped() -> None:
    stuck = Stuck()
    world, _ = world_with(stuck, JOB_TIME_LIMIT_SECONDS=1)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))  # returns: the message completes
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("time_limit_exceeded", False)
    assert "1 s" in job.error.message
    assert stuck.stopped


async def test_a_cancel_request_stops_a_run_between_checkpoints() -> None:
    stuck = Stuck()
    world, _ = world_with(stuck)
    job_id = await enqueue(world)
    run = asyncio.create_task(world.services.worker.handle(delivery(job_id)))
    await asyncio.wait_for(stuck.started.wait(), 10)
    await world.services.jobs.cancel(Caller("alice"), job_id)
    await asyncio.wait_for(run, 10)
    assert world.log.jobs[job_id].status is JobStatus.CANCELLED
    assert stuck.stopped


async def test_a_run_that_ends_in_time_completes() -> None:
    async def quick(ctx: JobContext) -> Mapping[str, Any]:
        await asyncio.sleep(0.01)
        return {"ok": True}

    world, _ = world_with(quick, JOB_TIME_LIMIT_SECONDS=30)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    assert world.log.jobs[job_id].status is JobStatus.COMPLETED
