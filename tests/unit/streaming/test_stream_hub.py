"""The stream hub over an in-memory event log: order, resume, sharing, freeing, control events."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from function_app.domain.errors import InvalidRequest, NotFound
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, JobStatus
from function_app.ports import QueueCounts
from function_app.services.streaming import (
    Connected,
    Heartbeat,
    JobStream,
    QueueSnapshot,
    StreamConfig,
    StreamHub,
    StreamItem,
    TimedOut,
    Update,
)
from tests.fakes import FakeEventLog, FakeQueueStats, FixedClock

ALICE = Caller("alice")
FAST = StreamConfig(fast_poll_seconds=0.005, idle_poll_seconds=0.02, active_window_seconds=0.1)


def new_id() -> str:
    return uuid.uuid4().hex


def progress(log: FakeEventLog, job_id: str, percent: int) -> None:
    log.record(job_id, EventDraft(JobStatus.IN_PROGRESS, percent, "analyzing", f"{percent}%"))


def complete(log: FakeEventLog, job_id: str) -> None:
    log.record(job_id, EventDraft(JobStatus.COMPLETED, 100, "done", "done", result={"ok": True}))


def queue_stats() -> FakeQueueStats:
    stats = FakeQueueStats()
    stats.counts_by_queue["resume-analysis"] = QueueCounts(
        "resume-analysis", active=3, dead_letter=1, scheduled=0
    )
    return stats


def hub_over(log: FakeEventLog, config: StreamConfig = FAST) -> StreamHub:
    return StreamHub(log, FixedClock(), config, queue_stats=queue_stats())


async def collect(stream: JobStream, *, limit: int = 1000) -> list[StreamItem]:
    items: list[StreamItem] = []
    async with asyncio.timeout(10):
        async for item in stream:
            items.append(item)
            if len(items) >= limit:
                break
    return items


def sequences(items: list[StreamItem]) -> list[int]:
    return [i.event.sequence for i in items if isinstance(i, Update)]


async def open_stream(hub: StreamHub, job_id: str, after: int = 0, **kw: str) -> JobStream:
    stream = await hub.open(ALICE, job_id, after, **kw)
    assert stream is not None
    return stream


async def test_replays_then_follows_live_and_closes_after_the_terminal_event() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    progress(log, job_id, 10)
    hub = hub_over(log)
    stream = await open_stream(hub, job_id)

    async def worker() -> None:
        for percent in (20, 50, 90):
            await asyncio.sleep(0.01)
            progress(log, job_id, percent)
        complete(log, job_id)

    items, _ = await asyncio.gather(collect(stream), worker())
    assert isinstance(items[0], Connected)
    assert items[0].job_id == job_id
    assert sequences(items) == [1, 2, 3, 4, 5, 6]
    last = items[-1]
    assert isinstance(last, Update)
    assert last.event.status == "completed"
    assert hub.stats().total_connections == 0


async def test_resume_from_every_position_sends_exactly_the_rest() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    for percent in (10, 40, 70):
        progress(log, job_id, percent)
    complete(log, job_id)
    hub = hub_over(log)
    for after in range(5):
        items = await collect(await open_stream(hub, job_id, after))
        assert sequences(items) == list(range(after + 1, 6)), after


async def test_a_finished_job_whose_events_were_all_seen_has_nothing_to_stream() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    complete(log, job_id)
    hub = hub_over(log)
    assert await hub.open(ALICE, job_id, 2) is None
    assert await hub.open(ALICE, job_id, 99) is None
    assert await hub.open(ALICE, job_id, 1) is not None


async def test_a_position_beyond_the_log_of_a_running_job_is_clamped() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log)
    stream = await open_stream(hub, job_id, 50)
    assert stream.after == 1

    async def worker() -> None:
        await asyncio.sleep(0.02)
        complete(log, job_id)

    items, _ = await asyncio.gather(collect(stream), worker())
    assert sequences(items) == [2]


@pytest.mark.parametrize(
    "caller",
    [Caller("mallory"), Caller("alice", job_scope="another-job")],
    ids=["other-owner", "token-for-another-job"],
)
async def test_foreign_jobs_are_not_found(caller: Caller) -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id, owner="alice")
    hub = hub_over(log)
    with pytest.raises(NotFound):
        await hub.open(caller, job_id)
    assert await hub.open(Caller("alice", job_scope=job_id), job_id) is not None


@pytest.mark.parametrize("job_id", ["missing-job", "../etc", "a" * 65, "x'or'1"])
async def test_unknown_or_malformed_job_ids_are_not_found(job_id: str) -> None:
    with pytest.raises(NotFound):
        await hub_over(FakeEventLog()).open(ALICE, job_id)


async def test_a_negative_position_is_a_bad_request() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    with pytest.raises(InvalidRequest):
        await hub_over(log).open(ALICE, job_id, -1)


async def test_viewers_of_one_job_share_one_poller() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log)
    streams = [await open_stream(hub, job_id) for _ in range(20)]
    tasks = [asyncio.create_task(collect(s)) for s in streams]
    while hub.stats().total_connections < 20:
        await asyncio.sleep(0.005)
    stats = hub.stats()
    assert stats.total_job_subscriptions == 1
    for percent in (30, 60):
        progress(log, job_id, percent)
        await asyncio.sleep(0.03)
    complete(log, job_id)
    results = await asyncio.gather(*tasks)
    assert all(sequences(r) == [1, 2, 3, 4] for r in results)
    # Every viewer got every event, yet the log was polled by one poller only.
    poll_positions = [after for jid, after in log.reads if jid == job_id]
    stats = hub.stats()
    assert stats.reread_queries == 0
    assert stats.poll_queries == len(poll_positions)
    assert poll_positions == sorted(poll_positions)
    assert stats.total_job_subscriptions == 0


async def test_a_client_that_goes_away_frees_its_viewer_and_the_poller_at_once() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log)
    stream = await open_stream(hub, job_id)
    seen = asyncio.Event()

    async def viewer() -> None:
        async for _ in stream:
            seen.set()

    task = asyncio.create_task(viewer())
    await seen.wait()
    assert hub.stats().total_connections == 1
    poller = hub._feeds[job_id].task
    assert poller is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = hub.stats()
    assert (stats.total_connections, stats.total_job_subscriptions) == (0, 0)
    await asyncio.sleep(0)
    assert poller.cancelled()


async def test_leaving_the_loop_early_frees_the_viewer() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log)
    iterator = aiter(await open_stream(hub, job_id))
    assert isinstance(await anext(iterator), Connected)
    assert hub.stats().total_connections == 1
    assert isinstance(iterator, AsyncIterator)
    await iterator.aclose()  # type: ignore[attr-defined]
    assert hub.stats().total_connections == 0


async def test_a_viewer_behind_the_shared_ring_rereads_the_log_and_loses_nothing() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log, StreamConfig(fast_poll_seconds=0.002, ring_size=4, page_size=3))
    fast_stream = await open_stream(hub, job_id)
    slow_iter = aiter(await open_stream(hub, job_id))
    assert isinstance(await anext(slow_iter), Connected)  # subscribed, then stops reading
    fast_task = asyncio.create_task(collect(fast_stream))
    for percent in range(1, 31):
        progress(log, job_id, percent)
        await asyncio.sleep(0.003)
    complete(log, job_id)
    fast = await fast_task
    slow: list[StreamItem] = [item async for item in slow_iter]
    assert sequences(fast) == list(range(1, 33))
    assert sequences(slow) == list(range(1, 33))
    assert hub.stats().reread_queries > 0
    assert len(hub._feeds) == 0


async def test_the_poller_survives_a_storage_hiccup() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    log.unavailable_reads = 2
    hub = hub_over(log)
    complete(log, job_id)
    assert sequences(await collect(await open_stream(hub, job_id))) == [1, 2]


async def test_heartbeat_after_silence_and_no_id_on_control_events() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log, StreamConfig(heartbeat_seconds=0.02, fast_poll_seconds=0.005))
    items = await collect(await open_stream(hub, job_id), limit=4)
    assert isinstance(items[0], Connected)
    assert sequences(items) == [1]
    assert all(isinstance(i, Heartbeat) for i in items[2:])


async def test_timeout_at_max_age_reports_the_last_event_id_and_resume_continues() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    progress(log, job_id, 10)
    hub = hub_over(log, StreamConfig(max_age_seconds=0.05, fast_poll_seconds=0.005))
    items = await collect(await open_stream(hub, job_id))
    assert sequences(items) == [1, 2]
    last = items[-1]
    assert isinstance(last, TimedOut)
    assert (last.job_id, last.last_event_id) == (job_id, 2)
    complete(log, job_id)
    resumed = await collect(await open_stream(hub, job_id, last.last_event_id))
    assert sequences(resumed) == [3]


async def test_queue_statistics_when_asked_for() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = hub_over(log, StreamConfig(queue_stats_seconds=0.01, fast_poll_seconds=0.005))
    stream = await open_stream(hub, job_id, queue_name="resume-analysis")
    items = await collect(stream, limit=4)
    snapshots = [i for i in items if isinstance(i, QueueSnapshot)]
    assert snapshots
    assert snapshots[0].counts.queue_name == "resume-analysis"
    assert snapshots[0].counts.active == 3


async def test_stats_list_each_open_stream() -> None:
    log, job_a, job_b = FakeEventLog(), new_id(), new_id()
    log.add_job(job_a)
    log.add_job(job_b)
    hub = hub_over(log)
    iterators = [aiter(await open_stream(hub, j)) for j in (job_a, job_a, job_b)]
    for it in iterators:
        await anext(it)
    stats = hub.stats()
    assert stats.total_connections == 3
    assert stats.total_job_subscriptions == 2
    assert sorted(c.job_id for c in stats.connections) == sorted([job_a, job_a, job_b])
    assert all(c.events_sent == 1 for c in stats.connections)
    for it in iterators:
        await it.aclose()  # type: ignore[attr-defined]
    assert hub.stats().total_connections == 0


async def test_an_unknown_queue_name_is_a_bad_request() -> None:
    log, job_id = FakeEventLog(), new_id()
    log.add_job(job_id)
    hub = StreamHub(log, FixedClock(), FAST, known_queues=frozenset({"resume-analysis"}))
    with pytest.raises(InvalidRequest):
        await hub.open(ALICE, job_id, queue_name="nope")
    assert await hub.open(ALICE, job_id, queue_name="resume-analysis") is not None
