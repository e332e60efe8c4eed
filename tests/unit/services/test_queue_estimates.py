"""Enqueue's queuePosition and estimatedWait: from the queue's count and learned run times,
best effort (a failing or slow read answers null, never fails the enqueue)."""

import asyncio

from function_app.domain.durations import MIN_SAMPLES, WORKER_CONCURRENCY, Durations, RunSample
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest
from function_app.entrypoints.schemas import accepted_out
from function_app.ports import QueueCounts
from function_app.services.jobs import JobAccepted
from tests.fakes import FakeWorld, fake_world

QUEUE = "document-analysis"


async def enqueue(world: FakeWorld) -> JobAccepted:
    blob = world.upload("alice", "a.txt", b"some text")
    request = EnqueueRequest(QUEUE, "analyze-document", {"blobName": blob})
    return await world.services.jobs.enqueue(Caller("alice"), request)


def with_history(world: FakeWorld, run_seconds: float) -> None:
    durations = Durations()
    for _ in range(MIN_SAMPLES):
        durations = durations.learn(RunSample(10, {}, run_seconds))
    world.durations.by_job["analyze-document"] = durations


def with_active(world: FakeWorld, active: int) -> None:
    world.stats.counts_by_queue[QUEUE] = QueueCounts(QUEUE, active, 0, 0)


async def test_position_is_the_active_count_plus_one_and_no_wait_without_history() -> None:
    world = fake_world()
    with_active(world, 3)
    accepted = await enqueue(world)
    assert (accepted.queue_position, accepted.estimated_wait_seconds) == (4, None)
    out = accepted_out(accepted)
    assert (out["queuePosition"], out["estimatedWait"]) == (4, None)


async def test_the_wait_is_full_rounds_of_learned_runs_ahead() -> None:
    world = fake_world()
    with_history(world, run_seconds=6.0)
    with_active(world, 0)
    assert (await enqueue(world)).estimated_wait_seconds == 0
    with_active(world, 2 * WORKER_CONCURRENCY + 1)  # position 2c + 2: two full rounds ahead
    accepted = await enqueue(world)
    assert accepted.queue_position == 2 * WORKER_CONCURRENCY + 2
    assert accepted.estimated_wait_seconds == 12


async def test_sends_show_up_as_positions() -> None:
    world = fake_world()  # the fake stats count the fake queue's sends as active
    positions = [(await enqueue(world)).queue_position for _ in range(3)]
    assert positions == [1, 2, 3]


async def test_a_failing_count_answers_null_and_the_job_is_still_sent() -> None:
    world = fake_world()
    world.stats.known_queues = frozenset()  # the count now fails (unknown queue)
    with_history(world, run_seconds=6.0)
    accepted = await enqueue(world)
    assert (accepted.queue_position, accepted.estimated_wait_seconds) == (None, None)
    assert [m.message_id for m in world.queue.sent] == [accepted.job_id]


async def test_a_failing_durations_store_answers_a_position_without_a_wait() -> None:
    world = fake_world()
    world.durations.fail_with = ConnectionError("table down")
    with_active(world, 1)
    accepted = await enqueue(world)
    assert (accepted.queue_position, accepted.estimated_wait_seconds) == (2, None)


async def test_a_count_that_hangs_is_not_waited_for_beyond_the_bound() -> None:
    world = fake_world()
    hanging = asyncio.Event()

    async def never(queue_name: str) -> QueueCounts:
        await hanging.wait()
        raise AssertionError("unreachable")

    world.stats.counts = never  # type: ignore[method-assign]
    accepted = await asyncio.wait_for(enqueue(world), timeout=5)
    assert accepted.queue_position is None
    assert [m.message_id for m in world.queue.sent] == [accepted.job_id]


async def test_a_replay_answers_no_estimate() -> None:
    world = fake_world()
    with_active(world, 3)
    blob = world.upload("alice", "a.txt", b"some text")
    request = EnqueueRequest(QUEUE, "analyze-document", {"blobName": blob})
    first = await world.services.jobs.enqueue(Caller("alice"), request, "key-1")
    again = await world.services.jobs.enqueue(Caller("alice"), request, "key-1")
    assert (first.queue_position, again.replayed, again.queue_position) == (4, True, None)
