"""Fenced attempts: once a redelivery starts a newer attempt, the older delivery (its lock
lost, still running) writes nothing more and stops at its next step (over fakes)."""

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from function_app.domain.jobs import JobStatus, Stage
from function_app.jobtypes.base import JobContext
from tests.unit.services.test_worker import delivery, enqueue, world_with

pytestmark = pytest.mark.chaos


async def test_a_superseded_attempt_writes_nothing_after_the_newer_one_started() -> None:
    paused = {1: asyncio.Event(), 2: asyncio.Event()}
    release = {1: asyncio.Event(), 2: asyncio.Event()}
    runs = 0

    async def interleaved(ctx: JobContext) -> Mapping[str, Any]:
        nonlocal runs
        runs += 1
        mine = runs
        await ctx.progress(Stage.PARSING, 20, f"run {mine} parsing")
        paused[mine].set()
        await release[mine].wait()
        await ctx.progress(Stage.ANALYZING, 60, f"run {mine} analysing")
        await ctx.checkpoint()
        return {"run": mine}

    world, _ = world_with(interleaved)
    job_id = await enqueue(world)
    stale = asyncio.create_task(world.services.worker.handle(delivery(job_id, 1)))
    await paused[1].wait()  # the first delivery stalls past its lock...
    live = asyncio.create_task(world.services.worker.handle(delivery(job_id, 2)))
    await paused[2].wait()  # ...while the redelivery runs
    release[1].set()
    await stale  # it stops at its next write, without raising
    release[2].set()
    await live

    events = world.log.events[job_id]
    started = [e.sequence for e in events if e.status is JobStatus.STARTED]
    assert len(started) == 2
    after_second = [e for e in events if e.sequence > started[1]]
    assert {e.attempt for e in after_second} == {2}
    assert [e.message for e in after_second if "run" in e.message] == [
        "run 2 parsing",
        "run 2 analysing",
    ]
    terminal = [e for e in events if e.is_terminal]
    assert len(terminal) == 1
    assert terminal[0].status is JobStatus.COMPLETED
    assert terminal[0].result is not None
    assert terminal[0].result["run"] == 2
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))


async def test_a_superseded_attempt_cannot_end_the_job() -> None:
    release_first = asyncio.Event()
    paused = asyncio.Event()
    runs = 0

    async def finish_late(ctx: JobContext) -> Mapping[str, Any]:
        nonlocal runs
        runs += 1
        if runs == 1:
            paused.set()
            await release_first.wait()  # then returns at once: tries to write `completed`
            return {"run": 1}
        await asyncio.sleep(3600)  # the live attempt is still running
        return {"run": 2}

    world, _ = world_with(finish_late)
    job_id = await enqueue(world)
    stale = asyncio.create_task(world.services.worker.handle(delivery(job_id, 1)))
    await paused.wait()
    live = asyncio.create_task(world.services.worker.handle(delivery(job_id, 2)))
    while runs < 2:
        await asyncio.sleep(0)
    release_first.set()
    await stale
    job = await world.log.get(job_id)
    assert job is not None
    assert not job.is_terminal, "the stale attempt ended a job another attempt runs"
    assert job.attempts == 2
    live.cancel()


async def test_a_delivery_whose_lock_ended_before_it_started_is_not_run() -> None:
    async def never(ctx: JobContext) -> Mapping[str, Any]:
        raise AssertionError("a delivery with an expired lock ran")

    world, _ = world_with(never)
    job_id = await enqueue(world)
    stale = replace(delivery(job_id, 2), locked_until=world.clock.now() - timedelta(seconds=1))
    await world.services.worker.handle(stale)
    assert [e.status for e in world.log.events[job_id]] == [JobStatus.QUEUED]
