"""Live job streams: one shared poller per job, many viewers, nothing lost on reconnect.

`StreamHub.open` decides whether a caller may watch a job and from where (404, 204, or a
stream). Iterating the returned `JobStream` subscribes a viewer to the job's `_JobFeed`:
the first viewer of a job starts its poller, the last one to leave cancels it. The poller
reads the event log by sequence (`events_after`), fast while the job moves and backing off
while it is idle, and keeps the most recent events in one bounded ring shared by every
viewer of the job. A viewer holds only its position (the last sequence it sent): if it
falls behind the ring (a slow client, a late joiner resuming from an old Last-Event-ID) it
re-reads the missing events from the log, so memory per viewer is constant and nothing is
lost or repeated. Leaving the `async for` (client gone, task cancelled) runs the
generator's `finally`, which unsubscribes at once.

Pure: depends on the EventLog and QueueStats ports, a Clock for timestamps, and a monotonic
clock with its sleep for every interval (polls, heartbeats, max age), injectable so tests run
on virtual time; no Azure, no web framework.
"""

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from function_app.domain.errors import InvalidRequest, Unauthenticated
from function_app.domain.identity import Caller
from function_app.domain.jobs import JobEvent
from function_app.ports import Clock, EventLog, QueueCounts, QueueStats
from function_app.services.visibility import visible_job

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamConfig:
    max_age_seconds: float = 600.0
    heartbeat_seconds: float = 15.0
    queue_stats_seconds: float = 5.0
    # Poll every `fast_poll_seconds` while the job changed within `active_window_seconds`,
    # then back off (doubling) to `idle_poll_seconds`.
    fast_poll_seconds: float = 0.1
    idle_poll_seconds: float = 1.0
    active_window_seconds: float = 5.0
    # Events kept per job for its viewers; a viewer further behind re-reads the log.
    ring_size: int = 256
    page_size: int = 100
    # The reconnection delay suggested to clients (`retry:`).
    retry_ms: int = 2000


# --- what a stream yields ---------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    connection_id: str
    job_id: str
    at: datetime


@dataclass(frozen=True)
class Update:
    event: JobEvent


@dataclass(frozen=True)
class Heartbeat:
    at: datetime


@dataclass(frozen=True)
class QueueSnapshot:
    counts: QueueCounts
    at: datetime


@dataclass(frozen=True)
class TimedOut:
    job_id: str
    last_event_id: int


type StreamItem = Connected | Update | Heartbeat | QueueSnapshot | TimedOut


# --- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionStats:
    connection_id: str
    job_id: str
    owner: str
    connected_at: datetime
    events_sent: int


@dataclass(frozen=True)
class HubStats:
    total_connections: int
    total_job_subscriptions: int
    connections: tuple[ConnectionStats, ...]
    # Event-log queries made since the hub started: by pollers, and by viewers re-reading.
    poll_queries: int
    reread_queries: int


# --- internals ------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Viewer:
    connection_id: str
    job_id: str
    owner: str
    connected_at: datetime
    position: int
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    events_sent: int = 0


@dataclass(eq=False)
class _JobFeed:
    job_id: str
    cursor: int  # highest sequence fetched from the log
    ring: deque[JobEvent]
    viewers: set[_Viewer] = field(default_factory=set)
    finished: bool = False  # a terminal event was fetched: nothing more will come
    task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        for viewer in self.viewers:
            viewer.wakeup.set()


@dataclass(frozen=True)
class JobStream:
    """A permitted stream of one job, from `after` on. Iterate it to watch."""

    hub: "StreamHub"
    job_id: str
    owner: str
    connection_id: str
    after: int
    queue_name: str | None

    def __aiter__(self) -> AsyncGenerator[StreamItem]:
        return self.hub.watch(self)


class StreamHub:
    def __init__(
        self,
        log: EventLog,
        clock: Clock,
        config: StreamConfig | None = None,
        queue_stats: QueueStats | None = None,
        known_queues: frozenset[str] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`monotonic` and `sleep` measure and wait out every interval (seconds)."""
        self._log = log
        self._monotonic = monotonic
        self._sleep = sleep
        self._known_queues = known_queues
        self._clock = clock
        self._config = config or StreamConfig()
        self._queue_stats = queue_stats
        self._feeds: dict[str, _JobFeed] = {}
        self._viewers: dict[str, _Viewer] = {}
        self._queue_cache: dict[str, tuple[float, QueueCounts]] = {}
        self._poll_queries = 0
        self._reread_queries = 0

    @property
    def config(self) -> StreamConfig:
        return self._config

    async def open(
        self, caller: Caller, job_id: str, after: int = 0, queue_name: str | None = None
    ) -> JobStream | None:
        """A stream of `job_id` after sequence `after`, or None when there is nothing left.

        Raises NotFound for an unknown job or one the caller may not read (the same answer
        on purpose), InvalidRequest for a negative position or an unknown queue name.
        """
        if after < 0:
            raise InvalidRequest("Last-Event-ID must not be negative")
        if queue_name is not None and (
            self._known_queues is not None and queue_name not in self._known_queues
        ):
            raise InvalidRequest(f"unknown queueName {queue_name[:64]!r}")
        job = await visible_job(self._log, caller, job_id)
        # A client cannot have seen events that do not exist yet.
        after = min(after, job.last_event_id)
        if job.is_terminal and after >= job.last_event_id:
            return None
        return JobStream(
            hub=self,
            job_id=job_id,
            owner=job.owner,
            connection_id=uuid.uuid4().hex,
            after=after,
            queue_name=queue_name,
        )

    def stats_for(self, caller: Caller) -> HubStats:
        """This instance's stream statistics as `caller` may see them: the totals, and only
        the caller's own connections. A stream token (it reads one job) may not ask."""
        if caller.is_stream_token:
            raise Unauthenticated("a stream token only reads its own job")
        stats = self.stats()
        own = tuple(c for c in stats.connections if c.owner == caller.owner)
        return replace(stats, connections=own)

    def stats(self) -> HubStats:
        """Everything, every caller's connections included (for operators and tests)."""
        return HubStats(
            total_connections=len(self._viewers),
            total_job_subscriptions=len(self._feeds),
            connections=tuple(
                ConnectionStats(
                    connection_id=v.connection_id,
                    job_id=v.job_id,
                    owner=v.owner,
                    connected_at=v.connected_at,
                    events_sent=v.events_sent,
                )
                for v in self._viewers.values()
            ),
            poll_queries=self._poll_queries,
            reread_queries=self._reread_queries,
        )

    # --- one viewer -----------------------------------------------------------------------

    async def watch(self, stream: JobStream) -> AsyncGenerator[StreamItem]:
        """What one viewer of `stream` sees, from `stream.after` on (iterating the stream
        calls this). Subscribes on first use; closing the generator unsubscribes."""
        viewer = self._subscribe(stream)
        feed = self._feeds[stream.job_id]
        config = self._config
        monotonic = self._monotonic
        try:
            viewer.events_sent += 1
            yield Connected(stream.connection_id, stream.job_id, viewer.connected_at)
            now = monotonic()
            expires_at = now + config.max_age_seconds
            heartbeat_at = now + config.heartbeat_seconds
            stats_at = now if stream.queue_name else float("inf")
            while True:
                if monotonic() >= expires_at:
                    viewer.events_sent += 1
                    yield TimedOut(stream.job_id, viewer.position)
                    return
                viewer.wakeup.clear()  # before looking, so a notify in between is not lost
                batch = self._take(feed, viewer)
                if batch is None:
                    batch = await self._reread(viewer)
                if batch:
                    for event in batch:
                        if event.sequence <= viewer.position:
                            continue
                        viewer.events_sent += 1
                        yield Update(event)
                        viewer.position = event.sequence
                        if event.is_terminal:
                            return
                    heartbeat_at = monotonic() + config.heartbeat_seconds
                    continue
                if feed.finished and viewer.position >= feed.cursor:
                    return  # the job ended while we were connecting
                now = monotonic()
                if stream.queue_name and now >= stats_at:
                    stats_at = now + config.queue_stats_seconds
                    counts = await self._queue_counts(stream.queue_name, now)
                    if counts is not None:
                        viewer.events_sent += 1
                        yield QueueSnapshot(counts, self._clock.now())
                        heartbeat_at = monotonic() + config.heartbeat_seconds
                    continue
                if now >= heartbeat_at:
                    viewer.events_sent += 1
                    yield Heartbeat(self._clock.now())
                    heartbeat_at = monotonic() + config.heartbeat_seconds
                    continue
                await self._wait(viewer.wakeup, min(expires_at, heartbeat_at, stats_at) - now)
        finally:
            self._unsubscribe(viewer)

    async def _wait(self, wakeup: asyncio.Event, seconds: float) -> None:
        """Until `wakeup` is set or `seconds` pass, whichever comes first."""
        timer = asyncio.ensure_future(self._sleep(seconds))

        def ran_out(done: asyncio.Future[None]) -> None:
            # The viewer then looks at the time. A cancelled timer (the viewer woke first)
            # must not set a wakeup meant for a later event.
            if not done.cancelled():
                wakeup.set()

        timer.add_done_callback(ran_out)
        try:
            await wakeup.wait()
        finally:
            timer.cancel()

    def _take(self, feed: _JobFeed, viewer: _Viewer) -> list[JobEvent] | None:
        """Events after the viewer's position from the shared ring; None: re-read the log."""
        want = viewer.position + 1
        if want > feed.cursor:
            return []
        ring = feed.ring
        if ring and ring[0].sequence <= want:
            start = want - ring[0].sequence
            if ring[start].sequence == want:
                return list(itertools.islice(ring, start, None))
            return [e for e in ring if e.sequence >= want]
        return None

    async def _reread(self, viewer: _Viewer) -> list[JobEvent]:
        self._reread_queries += 1
        return await self._log.events_after(
            viewer.job_id, viewer.position, limit=self._config.page_size
        )

    async def _queue_counts(self, queue_name: str, now: float) -> QueueCounts | None:
        if self._queue_stats is None:
            return None
        cached = self._queue_cache.get(queue_name)
        if cached is not None and now - cached[0] < self._config.queue_stats_seconds / 2:
            return cached[1]
        try:
            counts = await self._queue_stats.counts(queue_name)
        except Exception:
            logger.warning("queue statistics for %s unavailable", queue_name, exc_info=True)
            return None
        self._queue_cache[queue_name] = (now, counts)
        return counts

    # --- feeds ------------------------------------------------------------------------------

    def _subscribe(self, stream: JobStream) -> _Viewer:
        viewer = _Viewer(
            connection_id=stream.connection_id,
            job_id=stream.job_id,
            owner=stream.owner,
            connected_at=self._clock.now(),
            position=stream.after,
        )
        feed = self._feeds.get(stream.job_id)
        if feed is None:
            feed = _JobFeed(
                job_id=stream.job_id,
                cursor=stream.after,
                ring=deque(maxlen=self._config.ring_size),
            )
            self._feeds[stream.job_id] = feed
            feed.task = asyncio.get_running_loop().create_task(
                self._poll(feed), name=f"stream-poller:{stream.job_id}"
            )
        feed.viewers.add(viewer)
        self._viewers[viewer.connection_id] = viewer
        return viewer

    def _unsubscribe(self, viewer: _Viewer) -> None:
        self._viewers.pop(viewer.connection_id, None)
        feed = self._feeds.get(viewer.job_id)
        if feed is None:
            return
        feed.viewers.discard(viewer)
        if not feed.viewers:
            del self._feeds[viewer.job_id]
            if feed.task is not None:
                feed.task.cancel()

    async def _poll(self, feed: _JobFeed) -> None:
        """The job's one poller: fetch new events into the ring and wake the viewers."""
        config = self._config
        interval = config.fast_poll_seconds
        last_change = self._monotonic()
        while True:
            try:
                self._poll_queries += 1
                events = await self._log.events_after(
                    feed.job_id, feed.cursor, limit=config.page_size
                )
            except Exception:
                logger.warning("polling events of job %s failed", feed.job_id, exc_info=True)
                events = []
                interval = config.idle_poll_seconds
            fresh = [e for e in events if e.sequence > feed.cursor]
            if fresh:
                feed.ring.extend(fresh)
                feed.cursor = fresh[-1].sequence
                last_change = self._monotonic()
                if fresh[-1].is_terminal:
                    feed.finished = True
                feed.notify()
                if feed.finished:
                    return
                if len(events) >= config.page_size:
                    continue  # more are waiting: read on without sleeping
                interval = config.fast_poll_seconds
            elif self._monotonic() - last_change > config.active_window_seconds:
                interval = min(interval * 2, config.idle_poll_seconds)
            await self._sleep(interval)
