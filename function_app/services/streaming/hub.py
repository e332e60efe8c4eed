"""The stream hub: who may watch which job from where, and what each viewer is sent.

`StreamHub.open` decides whether a caller may watch a job and from where (404, 204, or a
`JobStream`). Iterating the stream (`StreamHub.watch`) subscribes a viewer to the job's
`JobFeed` (feed.py): the first viewer of a job starts its poller, the last one to leave
cancels it. The viewer is sent the job's events from its position on, with heartbeats
after silence, queue statistics when asked for, and a timeout at the stream's max age.
Leaving the `async for` (client gone, task cancelled) runs the generator's `finally`, which
unsubscribes at once.

`StreamHub.poll` is the long-poll answer for clients whose streams a proxy holds back: the
same visibility rule, and, while it waits for a new event, a viewer of the same feed, so
any number of long-pollers and streams of one job share one poller.
"""

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from function_app.domain.errors import InvalidRequest, Unauthenticated
from function_app.domain.identity import Caller
from function_app.domain.jobs import JobEvent
from function_app.ports import Clock, EventLog, QueueCounts, QueueStats
from function_app.services.streaming.config import StreamConfig
from function_app.services.streaming.feed import JobFeed, Viewer
from function_app.services.streaming.items import (
    Connected,
    EventPage,
    Heartbeat,
    QueueSnapshot,
    StreamItem,
    TimedOut,
    Update,
)
from function_app.services.streaming.long_poll import event_at, next_events, watched_owner
from function_app.services.streaming.pollers import PollingHub
from function_app.services.streaming.stats import ConnectionStats, HubStats
from function_app.services.streaming.waiting import Deadlines
from function_app.services.visibility import visible_job

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
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


class StreamHub(PollingHub[Viewer, JobFeed]):
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
        super().__init__(clock, config, monotonic, sleep)
        self._log = log
        self._queue_stats = queue_stats
        self._known_queues = known_queues
        self._queue_cache: dict[str, tuple[float, QueueCounts]] = {}

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
        # A job this instance follows is not read again (as for a long poll): no Table read
        # per open, and none of the SDK's garbage that fragmented the heap under the streams.
        owner = watched_owner(self._subscriptions.poller(job_id), caller, job_id, after)
        if owner is None:
            job = await visible_job(self._log, caller, job_id, self._clock.now())
            # A client cannot have seen events that do not exist yet.
            after = min(after, job.last_event_id)
            if job.is_terminal and after >= job.last_event_id:
                return None
            owner = job.owner
        return JobStream(
            hub=self,
            job_id=job_id,
            owner=owner,
            connection_id=uuid.uuid4().hex,
            after=after,
            queue_name=queue_name,
        )

    async def poll(
        self,
        caller: Caller,
        job_id: str,
        after: int = 0,
        *,
        wait_seconds: float | None = None,
        limit: int | None = None,
        context: bool = False,
    ) -> EventPage:
        """The events of `job_id` after sequence `after`, at once when there are any or the
        job has ended; otherwise waits for the next one up to `wait_seconds` (at most, and by
        default, `long_poll_wait_seconds`) and answers with none when none came.

        At most `limit` events (at most, and by default, `page_size`). `context`: also give
        the event at `after` (`EventPage.previous`) when the page has events. Raises as
        `open` does (NotFound, 401 for an expired stream token, InvalidRequest).
        """
        if after < 0:
            raise InvalidRequest("after must not be negative")
        config = self._config
        longest = config.long_poll_wait_seconds
        wait = longest if wait_seconds is None else min(max(wait_seconds, 0.0), longest)
        size = config.page_size if limit is None else max(1, min(limit, config.page_size))
        owner = watched_owner(self._subscriptions.poller(job_id), caller, job_id, after)
        known: int | None = None  # the job's last sequence, when it was read
        if owner is None:
            job = await visible_job(self._log, caller, job_id, self._clock.now())
            after = min(after, job.last_event_id)
            if job.is_terminal and after >= job.last_event_id:
                return EventPage(job_id, after, (), finished=True)
            owner, known = job.owner, job.last_event_id
        stream = JobStream(self, job_id, owner, uuid.uuid4().hex, after, None)
        with self._joined(stream) as (viewer, feed):
            events = await next_events(viewer, feed, self._polling, wait, known, self._reread)
            events = events[:size]
            viewer.events_sent += len(events)
            previous = None
            if context and events and after >= 1:
                previous = await event_at(feed, self._log, self._polling.queries, after)
        finished = (bool(events) and events[-1].is_terminal) or (
            not events and feed.finished and after >= feed.cursor
        )
        more = len(events) == size and not finished
        return EventPage(job_id, after, tuple(events), previous, finished, more)

    def nudge(self, job_id: str) -> None:
        """The job's log was written here: its poller (if any) reads at once (one read)."""
        feed = self._subscriptions.poller(job_id)
        if feed is not None:
            feed.nudge()

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
            total_connections=self._subscriptions.connections,
            total_job_subscriptions=self._subscriptions.pollers,
            connections=tuple(
                ConnectionStats(
                    connection_id=v.connection_id,
                    job_id=v.job_id,
                    owner=v.owner,
                    connected_at=v.connected_at,
                    events_sent=v.events_sent,
                )
                for v in self._subscriptions.viewers()
            ),
            poll_queries=self._polling.queries.polls,
            reread_queries=self._polling.queries.rereads,
        )

    # --- one viewer -----------------------------------------------------------------------

    async def watch(self, stream: JobStream) -> AsyncGenerator[StreamItem]:
        """What one viewer of `stream` sees, from `stream.after` on (iterating the stream
        calls this). Subscribes on first use; closing the generator unsubscribes."""
        polling = self._polling
        # join/leave, not `with self._joined(...)`: a stream idles in this frame for minutes,
        # and the two context managers (objects, generator frames: ≈ 1 KiB) were in each.
        viewer, feed = self._join(stream)
        try:
            viewer.events_sent += 1
            yield Connected(stream.connection_id, stream.job_id, viewer.connected_at)
            stats_every = polling.config.queue_stats_seconds if stream.queue_name else None
            deadlines = Deadlines(polling, polling.config.heartbeat_seconds, stats_every)
            while True:
                if deadlines.expired():
                    viewer.events_sent += 1
                    yield TimedOut(stream.job_id, viewer.position)
                    return
                viewer.wakeup.clear()  # before looking, so a notify in between is not lost
                batch = feed.take(viewer)
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
                    deadlines.sent()
                    continue
                if feed.finished and viewer.position >= feed.cursor:
                    return  # the job ended while we were connecting
                now = polling.monotonic()
                if stream.queue_name and deadlines.extra_due(now):
                    counts = await self._queue_counts(stream.queue_name, now)
                    if counts is not None:
                        viewer.events_sent += 1
                        yield QueueSnapshot(counts, self._clock.now())
                        deadlines.sent()
                    continue
                if await deadlines.heartbeat_or_wait(viewer.wakeup, now):
                    viewer.events_sent += 1
                    yield Heartbeat(self._clock.now())
                    deadlines.sent()
        finally:
            viewer.wakeup.disarm()
            self._subscriptions.leave(stream.job_id, viewer)

    async def _reread(self, viewer: Viewer) -> list[JobEvent]:
        self._polling.queries.rereads += 1
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

    @contextmanager
    def _joined(self, stream: JobStream) -> Iterator[tuple[Viewer, JobFeed]]:
        viewer, feed = self._join(stream)
        try:
            yield viewer, feed
        finally:
            self._subscriptions.leave(stream.job_id, viewer)

    def _join(self, stream: JobStream) -> tuple[Viewer, JobFeed]:
        """A new viewer of `stream`, subscribed to its job's feed; the caller must
        `self._subscriptions.leave(stream.job_id, viewer)` when it is done."""
        viewer = Viewer(
            connection_id=stream.connection_id,
            job_id=stream.job_id,
            owner=stream.owner,
            connected_at=self._clock.now(),
            position=stream.after,
        )
        feed = self._subscriptions.join(
            stream.job_id,
            viewer,
            lambda: JobFeed(
                job_id=stream.job_id,
                cursor=stream.after,
                ring=deque(maxlen=self._config.ring_size),
                owner=stream.owner,
            ),
            lambda feed: feed.poll(self._log, self._polling),
            task_name=f"stream-poller:{stream.job_id}",
        )
        return viewer, feed
