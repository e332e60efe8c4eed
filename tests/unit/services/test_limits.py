"""CallerLimits on virtual time, and the running-jobs limit through JobService over fakes."""

import asyncio
from typing import Any

import pytest

from function_app.bootstrap import wire_services
from function_app.domain.errors import Throttled
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, EventDraft, JobStatus, Stage
from function_app.services.limits import (
    REPAIR_EVERY_SECONDS,
    RUNNING_RETRY_AFTER_SECONDS,
    STREAM_SLOT_GRACE_SECONDS,
    CallerLimits,
    LimitPolicy,
)
from tests.fakes import FakeCallerFeed, FakeWorld, fake_world, test_settings

ALICE = Caller("alice")
BOB = Caller("bob")


class Monotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


async def no_repair(_owner: str) -> int:
    return 0


def limits(clock: Monotonic, **policy: Any) -> CallerLimits:
    feed = FakeCallerFeed(lambda: None)  # type: ignore[arg-type, return-value]
    return CallerLimits(LimitPolicy(**policy), feed, no_repair, monotonic=clock)


def throttled(call: Any, *args: Any) -> Throttled:
    with pytest.raises(Throttled) as caught:
        call(*args)
    return caught.value


def test_presigns_over_the_window_are_throttled_with_an_honest_retry_after() -> None:
    clock = Monotonic()
    limiter = limits(clock, presigns_per_minute=3)
    for _ in range(3):
        limiter.presign(ALICE)
        clock.at += 5
    error = throttled(limiter.presign, ALICE)
    # The first presign (at 1000) leaves the window at 1060; it is now 1015.
    assert (error.code, error.retry_after) == ("throttled", 45)
    assert error.details == [
        {"limit": "LIMIT_PRESIGNS_PER_MINUTE", "maximum": 3, "retryAfterSeconds": 45}
    ]
    limiter.presign(BOB)  # another caller is not throttled
    clock.at += 45
    limiter.presign(ALICE)


def test_enqueues_have_their_own_window() -> None:
    clock = Monotonic()
    limiter = limits(clock, enqueues_per_minute=2, presigns_per_minute=2)
    limiter.enqueue(ALICE)
    limiter.enqueue(ALICE)
    assert throttled(limiter.enqueue, ALICE).retry_after == 60
    limiter.presign(ALICE)  # presigns are counted apart


def test_stream_tokens_are_not_counted_where_they_are_refused_anyway() -> None:
    clock = Monotonic()
    limiter = limits(clock, presigns_per_minute=1, enqueues_per_minute=1)
    token = Caller("alice", job_scope="job-1")
    for _ in range(5):
        limiter.presign(token)
        limiter.enqueue(token)
    limiter.presign(ALICE)
    limiter.enqueue(ALICE)


def test_stream_slots_free_when_released_or_at_the_stream_s_maximum_age() -> None:
    clock = Monotonic()
    limiter = limits(clock, streams_per_caller=2, stream_max_age_seconds=200.0)
    first = limiter.stream(ALICE)
    clock.at += 50
    limiter.stream(ALICE)
    error = throttled(limiter.stream, ALICE)
    # The first stream ends at its maximum age (200 s after it opened, 50 s ago) at the latest.
    assert error.retry_after == 150 + STREAM_SLOT_GRACE_SECONDS
    assert error.details[0]["limit"] == "LIMIT_STREAMS_PER_CALLER"
    bobs = limiter.stream(BOB)
    first.release()
    first.release()  # once only
    assert limiter.open_streams("alice") == 1
    limiter.stream(ALICE)
    throttled(limiter.stream, ALICE)
    clock.at += 200 + STREAM_SLOT_GRACE_SECONDS  # a slot never released lapses
    assert limiter.open_streams("alice") == 0
    bobs.release()


def test_zero_turns_every_limit_off() -> None:
    clock = Monotonic()
    limiter = limits(
        clock,
        streams_per_caller=0,
        enqueues_per_minute=0,
        presigns_per_minute=0,
        running_jobs_per_caller=0,
    )
    for _ in range(500):
        limiter.presign(ALICE)
        limiter.enqueue(ALICE)
        limiter.stream(ALICE)


# --- running jobs, counted from stored state ---------------------------------------------------


def running_world(maximum: int, **settings: Any) -> FakeWorld:
    return fake_world(test_settings(LIMIT_RUNNING_JOBS_PER_CALLER=maximum, **settings))


async def enqueue(world: FakeWorld, caller: Caller, key: str | None = None) -> str:
    blob = world.upload(caller.owner, "a.txt", b"hello")
    accepted = await world.services.jobs.enqueue(
        caller,
        EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob}),
        key,
    )
    return accepted.job_id


async def test_the_running_jobs_limit_refuses_then_frees_when_a_job_ends() -> None:
    world = running_world(2)
    first = await enqueue(world, ALICE)
    await enqueue(world, ALICE)
    with pytest.raises(Throttled) as caught:
        await enqueue(world, ALICE)
    assert caught.value.retry_after == RUNNING_RETRY_AFTER_SECONDS
    assert caught.value.details[0]["limit"] == "LIMIT_RUNNING_JOBS_PER_CALLER"
    writes = world.log.writes
    await enqueue(world, BOB)  # bob has his own count
    assert world.log.writes > writes
    await world.services.jobs.cancel(ALICE, first)  # queued: ends at once
    await enqueue(world, ALICE)


async def test_a_refused_enqueue_writes_nothing() -> None:
    world = running_world(1)
    await enqueue(world, ALICE)
    writes, sent = world.log.writes, len(world.queue.sent)
    with pytest.raises(Throttled):
        await enqueue(world, ALICE, key="key-2")
    assert (world.log.writes, len(world.queue.sent)) == (writes, sent)
    assert await world.log.lookup("alice", "key-2") is None


async def test_a_replay_at_the_limit_answers_its_job() -> None:
    world = running_world(1)
    blob = world.upload("alice", "a.txt", b"hello")
    request = EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob})
    first = await world.services.jobs.enqueue(ALICE, request, "key-1")
    again = await world.services.jobs.enqueue(ALICE, request, "key-1")
    assert (again.job_id, again.replayed) == (first.job_id, True)


async def test_jobs_ending_in_every_way_free_their_place() -> None:
    world = running_world(1)
    job_id = await enqueue(world, ALICE)

    def end(status: JobStatus) -> Any:
        return lambda job: EventDraft(status, 100, Stage.DONE, "over")

    for status in (JobStatus.COMPLETED, JobStatus.FAILED):
        await world.services.event_log.append(job_id, end(status))
        job_id = await enqueue(world, ALICE)


async def test_concurrent_enqueues_of_one_caller_never_pass_the_limit() -> None:
    world = running_world(5)
    feed = world.feed
    read = feed.unfinished

    async def slow_unfinished(owner: str) -> Any:
        await asyncio.sleep(0)  # let every request in before any answer
        return await read(owner)

    feed.unfinished = slow_unfinished  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(enqueue(world, ALICE) for _ in range(20)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, Throttled)]
    assert (len(accepted), len(refused)) == (5, 15), results
    assert len(await read("alice")) == 5


async def test_a_mark_a_crashed_writer_left_behind_is_repaired_at_the_limit() -> None:
    world = running_world(1)
    job_id = await enqueue(world, ALICE)
    # The job ends in its log, but its terminal event never reaches the feed (a writer
    # killed between the two writes): the feed still lists it unfinished.
    failing = world.feed.failing_extends
    world.feed.failing_extends = failing + 1
    await world.services.event_log.append(
        job_id, lambda job: EventDraft(JobStatus.COMPLETED, 100, Stage.DONE, "done")
    )
    assert [m.job_id for m in await world.feed.unfinished("alice")] == [job_id]
    world.clock.advance(10)  # past the repair's REPAIR_AFTER
    await enqueue(world, ALICE)


async def test_repairs_are_not_tried_on_every_refused_request() -> None:
    clock = Monotonic()
    repairs: list[str] = []

    async def repair(owner: str) -> int:
        repairs.append(owner)
        return 0

    world = running_world(1)
    limiter = CallerLimits(
        LimitPolicy(running_jobs_per_caller=1), world.feed, repair, monotonic=clock
    )
    await enqueue(world, ALICE)
    for _ in range(3):
        with pytest.raises(Throttled):
            async with limiter.running_job("alice", "new-job"):
                pass
    assert repairs == ["alice"]
    clock.at += REPAIR_EVERY_SECONDS
    with pytest.raises(Throttled):
        async with limiter.running_job("alice", "new-job"):
            pass
    assert repairs == ["alice", "alice"]


def test_bootstrap_wires_the_settings_into_the_limits() -> None:
    world = fake_world(
        test_settings(
            LIMIT_STREAMS_PER_CALLER=7,
            LIMIT_ENQUEUES_PER_MINUTE=8,
            LIMIT_PRESIGNS_PER_MINUTE=9,
            LIMIT_RUNNING_JOBS_PER_CALLER=10,
            STREAM_MAX_AGE_SECONDS=30,
        )
    )
    assert world.services.limits.policy == LimitPolicy(7, 8, 9, 10, 30.0)
    assert wire_services.__kwdefaults__ is not None
    assert "monotonic" in wire_services.__kwdefaults__
