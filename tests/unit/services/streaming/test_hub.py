"""The stream hub over the fake event log, on virtual time: order, resume, sharing, freeing,
control events, and the exact intervals of polls, heartbeats, queue statistics and max age.

Every interval runs on `tests.fakes.VirtualClock`: no test sleeps, and the hub's own
configuration (the production defaults) is what is measured.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import datetime
from itertools import groupby, pairwise
from typing import Any

import pytest

from function_app.domain.errors import InvalidRequest, NotFound, Unauthenticated
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, JobEvent, JobStatus
from function_app.ports import QueueCounts
from function_app.services.event_log_layer import NudgingEventLog
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
from function_app.services.streaming.waiting import Wakeup
from tests.fakes import FakeEventLog, FakeQueueStats, VirtualClock, fake_world
from tests.support.held import held_by_frame

ALICE = Caller("alice")
DEFAULTS = StreamConfig()


class TimedEventLog(FakeEventLog):
    """The fake event log, noting the virtual time of every read."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock.now)
        self.virtual = clock
        self.read_at: list[float] = []

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        self.read_at.append(self.virtual.monotonic())
        return await super().events_after(job_id, after, limit)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def log(clock: VirtualClock) -> TimedEventLog:
    return TimedEventLog(clock)


@pytest.fixture
def job_id(log: TimedEventLog) -> str:
    job_id = new_id()
    log.add_job(job_id)
    return job_id


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


def hub_over(
    log: TimedEventLog, config: StreamConfig = DEFAULTS, **kw: frozenset[str]
) -> StreamHub:
    clock = log.virtual
    return StreamHub(
        log,
        clock,
        config,
        queue_stats=queue_stats(),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        **kw,
    )


async def collect(stream: JobStream, *, limit: int = 1000) -> list[StreamItem]:
    """What the stream yields until it ends (at the latest at max age) or `limit` items."""
    items: list[StreamItem] = []
    async for item in stream:
        items.append(item)
        if len(items) >= limit:
            break
    return items


def sequences(items: list[StreamItem]) -> list[int]:
    return [i.event.sequence for i in items if isinstance(i, Update)]


def seconds_since(clock: VirtualClock, at: datetime) -> float:
    return (at - clock.start).total_seconds()


def runs(gaps: list[float]) -> list[float]:
    """Consecutive equal gaps (to the microsecond) as one: the shape of a poll schedule."""
    return [gap for gap, _ in groupby(round(g, 6) for g in gaps)]


async def open_stream(hub: StreamHub, job_id: str, after: int = 0, **kw: str) -> JobStream:
    stream = await hub.open(ALICE, job_id, after, **kw)
    assert stream is not None
    return stream


async def test_replays_then_follows_live_and_closes_after_the_terminal_event(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    progress(log, job_id, 10)
    hub = hub_over(log)
    stream = await open_stream(hub, job_id)

    async def worker() -> None:
        for percent in (20, 50, 90):
            await clock.sleep(0.5)
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
    # The last event was written at 1.5 s and seen at the next fast poll.
    assert 1.5 <= clock.monotonic() <= 1.5 + DEFAULTS.fast_poll_seconds + 1e-9


async def test_resume_from_every_position_sends_exactly_the_rest(
    log: TimedEventLog, job_id: str
) -> None:
    for percent in (10, 40, 70):
        progress(log, job_id, percent)
    complete(log, job_id)
    hub = hub_over(log)
    for after in range(5):
        items = await collect(await open_stream(hub, job_id, after))
        assert sequences(items) == list(range(after + 1, 6)), after


async def test_a_finished_job_whose_events_were_all_seen_has_nothing_to_stream(
    log: TimedEventLog, job_id: str
) -> None:
    complete(log, job_id)
    hub = hub_over(log)
    assert await hub.open(ALICE, job_id, 2) is None
    assert await hub.open(ALICE, job_id, 99) is None
    assert await hub.open(ALICE, job_id, 1) is not None


async def test_a_position_beyond_the_log_of_a_running_job_is_clamped(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    stream = await open_stream(hub, job_id, 50)
    assert stream.after == 1

    async def worker() -> None:
        await clock.sleep(1)
        complete(log, job_id)

    items, _ = await asyncio.gather(collect(stream), worker())
    assert sequences(items) == [2]


@pytest.mark.parametrize(
    "caller",
    [Caller("mallory"), Caller("alice", job_scope="another-job")],
    ids=["other-owner", "token-for-another-job"],
)
async def test_foreign_jobs_are_not_found(caller: Caller, log: TimedEventLog) -> None:
    job_id = new_id()
    log.add_job(job_id, owner="alice")
    hub = hub_over(log)
    with pytest.raises(NotFound):
        await hub.open(caller, job_id)
    assert await hub.open(Caller("alice", job_scope=job_id), job_id) is not None


@pytest.mark.parametrize("job_id", ["missing-job", "../etc", "a" * 65, "x'or'1"])
async def test_unknown_or_malformed_job_ids_are_not_found(job_id: str, log: TimedEventLog) -> None:
    with pytest.raises(NotFound):
        await hub_over(log).open(ALICE, job_id)


async def test_a_negative_position_is_a_bad_request(log: TimedEventLog, job_id: str) -> None:
    with pytest.raises(InvalidRequest):
        await hub_over(log).open(ALICE, job_id, -1)


async def test_viewers_of_one_job_share_one_poller(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    streams = [await open_stream(hub, job_id) for _ in range(20)]
    tasks = [asyncio.create_task(collect(s)) for s in streams]
    await clock.sleep(0)  # every viewer subscribes before time moves
    stats = hub.stats()
    assert stats.total_connections == 20
    assert stats.total_job_subscriptions == 1
    for percent in (30, 60):
        progress(log, job_id, percent)
        await clock.sleep(1)
    complete(log, job_id)
    results = await asyncio.gather(*tasks)
    assert all(sequences(r) == [1, 2, 3, 4] for r in results)
    # Every viewer got every event, yet the log was polled by one poller only: one read
    # per fast-poll interval over the job's 2 seconds (at 0, 0.1, ..., 2.0).
    poll_positions = [after for jid, after in log.reads if jid == job_id]
    stats = hub.stats()
    assert stats.reread_queries == 0
    assert stats.poll_queries == len(poll_positions) == 21
    assert poll_positions == sorted(poll_positions)
    assert stats.total_job_subscriptions == 0


async def test_a_client_that_goes_away_frees_its_viewer_and_the_poller_at_once(
    log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    stream = await open_stream(hub, job_id)
    seen = asyncio.Event()

    async def viewer() -> None:
        async for _ in stream:
            seen.set()

    task = asyncio.create_task(viewer())
    await seen.wait()
    assert hub.stats().total_connections == 1
    feed = hub._subscriptions.poller(job_id)
    assert feed is not None
    poller = feed.task
    assert poller is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = hub.stats()
    assert (stats.total_connections, stats.total_job_subscriptions) == (0, 0)
    await asyncio.sleep(0)
    assert poller.cancelled()


async def test_leaving_the_loop_early_frees_the_viewer(log: TimedEventLog, job_id: str) -> None:
    hub = hub_over(log)
    iterator = aiter(await open_stream(hub, job_id))
    assert isinstance(await anext(iterator), Connected)
    assert hub.stats().total_connections == 1
    assert isinstance(iterator, AsyncIterator)
    await iterator.aclose()  # type: ignore[attr-defined]
    assert hub.stats().total_connections == 0


async def test_a_viewer_behind_the_shared_ring_rereads_the_log_and_loses_nothing(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log, StreamConfig(ring_size=4, page_size=3))
    fast_stream = await open_stream(hub, job_id)
    slow_iter = aiter(await open_stream(hub, job_id))
    assert isinstance(await anext(slow_iter), Connected)  # subscribed, then stops reading
    fast_task = asyncio.create_task(collect(fast_stream))
    for percent in range(1, 31):
        progress(log, job_id, percent)
        await clock.sleep(0.15)
    complete(log, job_id)
    fast = await fast_task
    slow: list[StreamItem] = [item async for item in slow_iter]
    assert sequences(fast) == list(range(1, 33))
    assert sequences(slow) == list(range(1, 33))
    assert hub.stats().reread_queries > 0
    assert hub.stats().total_job_subscriptions == 0


async def test_the_poller_backs_off_while_the_job_is_idle_and_speeds_up_when_it_moves(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    stream = await open_stream(hub, job_id)

    async def worker() -> None:
        await clock.sleep(20)
        progress(log, job_id, 50)
        await clock.sleep(1)
        complete(log, job_id)

    items, _ = await asyncio.gather(collect(stream), worker())
    assert sequences(items) == [1, 2, 3]
    gaps = [later - earlier for earlier, later in pairwise(log.read_at)]
    # Fast while the job changed within the active window, then doubling up to the idle
    # interval; fast again as soon as an event comes.
    assert runs(gaps) == [0.1, 0.2, 0.4, 0.8, 1.0, 0.1]
    fast_until = next(i for i, g in enumerate(gaps) if round(g, 6) > 0.1)
    assert log.read_at[fast_until] == pytest.approx(DEFAULTS.active_window_seconds, abs=0.1)


async def test_the_poller_survives_a_storage_hiccup_and_retries_at_the_idle_interval(
    log: TimedEventLog, job_id: str
) -> None:
    log.unavailable_reads = 2
    hub = hub_over(log)
    complete(log, job_id)
    assert sequences(await collect(await open_stream(hub, job_id))) == [1, 2]
    assert log.read_at == pytest.approx([0.0, 1.0, 2.0])


async def test_heartbeat_after_each_silence_and_no_id_on_control_events(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    items = await collect(await open_stream(hub, job_id), limit=5)
    assert isinstance(items[0], Connected)
    assert sequences(items) == [1]
    heartbeats = items[2:]
    assert all(isinstance(i, Heartbeat) for i in heartbeats)
    at = [seconds_since(clock, i.at) for i in heartbeats if isinstance(i, Heartbeat)]
    assert at == pytest.approx([15.0, 30.0, 45.0], abs=1e-3)


async def test_an_event_postpones_the_heartbeat(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    stream = await open_stream(hub, job_id)

    async def worker() -> None:
        await clock.sleep(10)
        progress(log, job_id, 50)

    items, _ = await asyncio.gather(collect(stream, limit=4), worker())
    assert sequences(items[:3]) == [1, 2]
    heartbeat = items[3]
    assert isinstance(heartbeat, Heartbeat)
    # 15 s after the event was sent (at the first poll after it was written), not 15 s after
    # connecting. By then the poller had backed off, so that poll came at 10.5 s.
    seen_at = next(t for t in log.read_at if t >= 10)
    assert seen_at == pytest.approx(10.5)
    assert seconds_since(clock, heartbeat.at) == pytest.approx(seen_at + 15.0, abs=1e-3)


async def test_timeout_at_max_age_reports_the_last_event_id_and_resume_continues(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    progress(log, job_id, 10)
    hub = hub_over(log)
    items = await collect(await open_stream(hub, job_id))
    assert sequences(items) == [1, 2]
    last = items[-1]
    assert isinstance(last, TimedOut)
    assert (last.job_id, last.last_event_id) == (job_id, 2)
    assert clock.monotonic() == pytest.approx(DEFAULTS.max_age_seconds)
    assert all(isinstance(i, Heartbeat) for i in items[3:-1])
    assert len(items[3:-1]) >= DEFAULTS.max_age_seconds // DEFAULTS.heartbeat_seconds - 1
    complete(log, job_id)
    resumed = await collect(await open_stream(hub, job_id, last.last_event_id))
    assert sequences(resumed) == [3]


async def test_queue_statistics_when_asked_for_every_interval(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    stream = await open_stream(hub, job_id, queue_name="resume-analysis")
    items = await collect(stream, limit=5)
    snapshots = [i for i in items if isinstance(i, QueueSnapshot)]
    assert len(snapshots) == 3
    assert snapshots[0].counts.queue_name == "resume-analysis"
    assert snapshots[0].counts.active == 3
    at = [seconds_since(clock, s.at) for s in snapshots]
    assert at == pytest.approx([0.0, 5.0, 10.0], abs=1e-3)


async def test_stats_list_each_open_stream(log: TimedEventLog) -> None:
    job_a, job_b = new_id(), new_id()
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


async def test_an_unknown_queue_name_is_a_bad_request(log: TimedEventLog, job_id: str) -> None:
    hub = hub_over(log, known_queues=frozenset({"resume-analysis"}))
    with pytest.raises(InvalidRequest):
        await hub.open(ALICE, job_id, queue_name="nope")
    assert await hub.open(ALICE, job_id, queue_name="resume-analysis") is not None


async def test_stats_for_a_caller_keep_the_totals_and_list_only_its_own_streams(
    log: TimedEventLog,
) -> None:
    mine, theirs = new_id(), new_id()
    log.add_job(mine, owner="alice")
    log.add_job(theirs, owner="bob")
    hub = hub_over(log)
    iterators = [aiter(await open_stream(hub, mine))]
    for _ in range(2):
        stream = await hub.open(Caller("bob"), theirs)
        assert stream is not None
        iterators.append(aiter(stream))
    for it in iterators:
        await anext(it)
    alice = hub.stats_for(ALICE)
    assert (alice.total_connections, alice.total_job_subscriptions) == (3, 2)
    assert [c.job_id for c in alice.connections] == [mine]
    bob = hub.stats_for(Caller("bob"))
    assert [c.job_id for c in bob.connections] == [theirs, theirs]
    assert hub.stats_for(Caller("carol")).connections == ()
    assert hub.stats_for(Caller("carol")).total_connections == 3
    for it in iterators:
        await it.aclose()  # type: ignore[attr-defined]


async def test_stats_are_refused_to_a_stream_token(log: TimedEventLog, job_id: str) -> None:
    hub = hub_over(log)
    with pytest.raises(Unauthenticated):
        hub.stats_for(Caller("alice", job_scope=job_id))


async def test_an_open_stream_holds_no_context_manager_while_it_waits(
    log: TimedEventLog, job_id: str
) -> None:
    """Every open stream is idle in `watch` for minutes: its frame keeps the viewer and the
    feed, and no `@contextmanager` objects or their generators (≈ 1 KiB a stream)."""
    hub = hub_over(log)
    iterator = aiter(await open_stream(hub, job_id))
    assert isinstance(await anext(iterator), Connected)
    held = held_by_frame(iterator)
    assert not [o for o in held if isinstance(o, AbstractContextManager)]
    assert not [o for o in held if getattr(o, "__qualname__", "").endswith("_joined")]
    await iterator.aclose()  # type: ignore[attr-defined]
    assert hub.stats().total_connections == 0


async def test_a_stream_of_a_job_this_instance_follows_opens_without_reading_it(
    log: TimedEventLog, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of viewers of one job: only the first open reads the job (its feed then
    knows the owner, as for a long poll); the rule for who may read it stays the same."""
    hub = hub_over(log)
    first = aiter(await open_stream(hub, job_id))
    assert isinstance(await anext(first), Connected)
    gets: list[str] = []
    read = log.get

    async def counted(wanted: str) -> object:
        gets.append(wanted)
        return await read(wanted)

    monkeypatch.setattr(log, "get", counted)
    second = await open_stream(hub, job_id)
    assert gets == []
    for foreign in (Caller("mallory"), Caller("alice", job_scope="another-job")):
        with pytest.raises(NotFound):
            await hub.open(foreign, job_id)  # read as any job: the same answer
    gets.clear()
    progress(log, job_id, 50)
    complete(log, job_id)
    items = await collect(second)
    assert sequences(items) == [1, 2, 3]
    await first.aclose()  # type: ignore[attr-defined]
    assert await hub.open(ALICE, job_id, after=3) is None  # no feed: read, finished
    assert gets == [job_id]


def draft(percent: int) -> EventDraft:
    return EventDraft(JobStatus.IN_PROGRESS, percent, "analyzing", f"{percent}%")


async def test_a_write_on_this_instance_is_read_at_once_not_at_the_end_of_the_interval(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    writer = NudgingEventLog(log, hub.nudge)  # how bootstrap gives the worker its log
    stream = await open_stream(hub, job_id)
    written_at: list[float] = []

    async def worker() -> None:
        # Long idle first: the poller has backed off to its 1 s interval.
        await clock.sleep(20.25)
        for percent in (40, 80):
            await writer.append(job_id, lambda _job, p=percent: draft(p))
            written_at.append(clock.monotonic())
            await clock.sleep(0.05)  # less than any poll interval
        done = EventDraft(JobStatus.COMPLETED, 100, "done", "done")
        await writer.append(job_id, lambda _job: done)
        written_at.append(clock.monotonic())

    items, _ = await asyncio.gather(collect(stream), worker())
    assert sequences(items) == [1, 2, 3, 4]
    # Each write was read at the very moment it was made, and the stream ended then.
    assert all(at in log.read_at for at in written_at)
    assert clock.monotonic() == pytest.approx(written_at[-1])
    # One read per write, not one per viewer or more: the three writes at 20.25, 20.30 and
    # 20.35 cost three reads besides the poller's own schedule (the last idle one at 19.4).
    assert [round(at, 6) for at in log.read_at if at > 19.5] == [20.25, 20.3, 20.35]


async def test_a_nudge_wakes_only_a_poller_of_this_instance_and_an_empty_append_none(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    nudged: list[str] = []
    writer = NudgingEventLog(log, nudged.append)
    await writer.append(job_id, lambda _job: None)  # decided nothing: no event, no nudge
    await writer.append(job_id, lambda _job: draft(10))
    await writer.request_cancel(job_id)  # a flag, not an event
    assert nudged == [job_id]
    hub_over(log).nudge("a-job-nobody-watches")  # no poller here: nothing to do


async def test_the_wired_services_write_through_the_log_that_nudges_their_stream_hub() -> None:
    # Real clock here (bootstrap's hub): the poller waits on a loop timer of 0.1 s, so an
    # event seen within a few loop turns of the append can only have come by the nudge.
    world = fake_world()
    job_id = new_id()
    world.log.add_job(job_id)
    stream = await open_stream(world.services.streams, job_id)
    items = aiter(stream)
    assert isinstance(await anext(items), Connected)
    assert isinstance(await anext(items), Update)  # the job's first event, already stored
    following = asyncio.ensure_future(anext(items))
    for _ in range(3):
        await asyncio.sleep(0)  # the poller's first read, then its wait
    assert not following.done()
    await world.services.event_log.append(job_id, lambda _job: draft(30))
    for _ in range(5):
        await asyncio.sleep(0)
    assert following.done()
    update = following.result()
    assert isinstance(update, Update)
    assert update.event.progress == 30
    await items.aclose()


async def test_on_the_real_clock_a_viewer_arms_one_timer_for_many_events_and_none_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = fake_world()  # bootstrap's hub: the real clock
    job_id = new_id()
    world.log.add_job(job_id)
    loop = asyncio.get_running_loop()
    arming = loop.call_at
    wakeup_timers: list[asyncio.TimerHandle] = []

    def counted(
        when: float, callback: Callable[..., object], *args: object, **kw: Any
    ) -> asyncio.TimerHandle:
        handle = arming(when, callback, *args, **kw)
        # A viewer's heartbeat timer (15 s on); the poller's own are at most 1 s on.
        if isinstance(getattr(callback, "__self__", None), Wakeup) and when > loop.time() + 5:
            wakeup_timers.append(handle)
        return handle

    monkeypatch.setattr(loop, "call_at", counted)
    items = aiter(await open_stream(world.services.streams, job_id))
    assert isinstance(await anext(items), Connected)
    assert isinstance(await anext(items), Update)
    for percent in range(1, 31):  # each event wakes the viewer, which then waits again
        following = asyncio.ensure_future(anext(items))
        await asyncio.sleep(0)
        await world.services.event_log.append(job_id, lambda _job, p=percent: draft(p))
        update = await asyncio.wait_for(following, timeout=5)
        assert isinstance(update, Update)
        assert update.event.progress == percent
    # One heartbeat timer served all 30 waits (not a call_later and a cancel per event) ...
    assert len(wakeup_timers) == 1
    await items.aclose()
    # ... and the viewer leaving cancels it.
    assert all(t.cancelled() for t in wakeup_timers)


async def test_the_nudge_comes_as_the_job_log_stores_the_event_not_after_the_feed_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = fake_world()
    job_id = new_id()
    world.log.add_job(job_id)
    copying = asyncio.Event()
    extend = world.feed.extend

    async def held_extend(*args: Any) -> Any:
        await copying.wait()  # the owner's feed copy (another Table write) takes its time
        return await extend(*args)

    monkeypatch.setattr(world.feed, "extend", held_extend)
    items = aiter(await open_stream(world.services.streams, job_id))
    assert isinstance(await anext(items), Connected)
    assert isinstance(await anext(items), Update)
    following = asyncio.ensure_future(anext(items))
    await asyncio.sleep(0)
    append = asyncio.ensure_future(world.services.event_log.append(job_id, lambda _: draft(5)))
    for _ in range(8):
        await asyncio.sleep(0)
    assert following.done()  # the viewer has the event ...
    assert not append.done()  # ... while the feed copy is still being written
    copying.set()
    await append
    await items.aclose()
