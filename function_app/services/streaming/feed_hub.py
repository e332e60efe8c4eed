"""The feed hub: one stream of every event of a caller's jobs, however many jobs and tabs.

`FeedHub.open` decides whether a caller may read their feed and from where (a position from
`Last-Event-ID` / `?since=`, clamped to what the feed keeps; none: from now on). Iterating
the `FeedStream` (`FeedHub.watch`) subscribes a viewer to the owner's `OwnerFeed`
(owner_feed.py): the first viewer of an owner starts its poller, the last one to leave
cancels it, so many tabs of one caller cost one query loop. The viewer gets `FeedConnected`,
then each entry once (`FeedUpdate`), `Heartbeat` after `heartbeat_seconds` of silence,
`Tick` every `tick_seconds` when asked (queue-wide figures), and `FeedTimedOut` at max age.
"""

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from function_app.domain.errors import Unauthenticated
from function_app.domain.feed import FeedEntry, position_at
from function_app.domain.identity import Caller
from function_app.ports import CallerFeed, Clock
from function_app.services.caller_feed import FeedWriter
from function_app.services.streaming.config import StreamConfig
from function_app.services.streaming.items import (
    FeedConnected,
    FeedItem,
    FeedTimedOut,
    FeedUpdate,
    Heartbeat,
    Tick,
)
from function_app.services.streaming.owner_feed import FeedViewer, OwnerFeed
from function_app.services.streaming.pollers import PollingHub
from function_app.services.streaming.waiting import Deadlines

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedStream:
    """A permitted stream of one owner's feed, after position `after`. Iterate it."""

    hub: "FeedHub"
    owner: str
    connection_id: str
    after: int
    heartbeat_seconds: float
    tick_seconds: float | None = None

    def __aiter__(self) -> AsyncGenerator[FeedItem]:
        return self.hub.watch(self)


@dataclass(frozen=True)
class FeedHubStats:
    total_connections: int
    total_feeds: int
    poll_queries: int
    reread_queries: int


class FeedHub(PollingHub[FeedViewer, OwnerFeed]):
    def __init__(
        self,
        feed: CallerFeed,
        writer: FeedWriter | None,
        clock: Clock,
        config: StreamConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`writer`: repairs an owner's feed while someone reads it (None: no repairs)."""
        super().__init__(clock, config, monotonic, sleep)
        self._feed = feed
        self._writer = writer

    def open(
        self,
        caller: Caller,
        position: int | None,
        *,
        heartbeat_seconds: float | None = None,
        tick_seconds: float | None = None,
    ) -> FeedStream:
        """The caller's feed after `position` (None: from now on). A position in the future
        is taken as now; one older than `feed_replay_seconds` as that far back.

        Raises Unauthenticated for a token that reads one job only."""
        if not caller.may_read_feed:
            raise Unauthenticated(
                "a job's stream token reads that job only; ask for a feed token",
                code="read_only_token",
            )
        now = position_at(self._clock.now())
        earliest = now - int(self._config.feed_replay_seconds * 1_000_000)
        after = now if position is None else max(min(position, now), earliest)
        return FeedStream(
            hub=self,
            owner=caller.owner,
            connection_id=uuid.uuid4().hex,
            after=after,
            heartbeat_seconds=heartbeat_seconds or self._config.heartbeat_seconds,
            tick_seconds=tick_seconds,
        )

    def stats(self) -> FeedHubStats:
        return FeedHubStats(
            total_connections=self._subscriptions.connections,
            total_feeds=self._subscriptions.pollers,
            poll_queries=self._polling.queries.polls,
            reread_queries=self._polling.queries.rereads,
        )

    async def watch(self, stream: FeedStream) -> AsyncGenerator[FeedItem]:
        """What one viewer of `stream` sees (iterating the stream calls this)."""
        polling = self._polling
        with self._joined(stream) as (viewer, feed):
            viewer.events_sent += 1
            yield FeedConnected(stream.connection_id, viewer.connected_at)
            deadlines = Deadlines(polling, stream.heartbeat_seconds, stream.tick_seconds)
            window = int(polling.config.feed_late_window_seconds * 1_000_000)
            while True:
                if deadlines.expired():
                    viewer.events_sent += 1
                    yield FeedTimedOut(viewer.watermark)
                    return
                viewer.wakeup.clear()  # before looking, so a release in between is not lost
                released = feed.take(viewer)
                batch: list[tuple[FeedEntry, bool]]
                if released is None:
                    batch = [(entry, False) for entry in await self._reread(viewer, feed.cursor)]
                else:
                    batch = [(r.entry, r.late) for r in released]
                    if released:
                        viewer.serial = released[-1].serial
                sent = False
                for entry, late in batch:
                    if not viewer.should_send(entry.position, late):
                        continue
                    viewer.mark_sent(entry.position, window)
                    viewer.events_sent += 1
                    sent = True
                    yield FeedUpdate(entry, viewer.watermark)
                if sent:
                    deadlines.sent()
                if batch or released is None:
                    continue
                now = polling.monotonic()
                if deadlines.extra_due(now):
                    yield Tick(self._clock.now())
                    continue
                if await deadlines.heartbeat_or_wait(viewer.wakeup, now):
                    viewer.events_sent += 1
                    yield Heartbeat(self._clock.now())
                    deadlines.sent()

    async def _reread(self, viewer: FeedViewer, cursor: int) -> list[FeedEntry]:
        """The store's entries after the viewer's position, up to the released cursor. None
        left up to it: the viewer is at the cursor (and joins the ring next)."""
        self._polling.queries.rereads += 1
        entries = await self._feed.after(viewer.owner, viewer.watermark, self._config.page_size)
        upto = [e for e in entries if e.position <= cursor]
        if not upto:
            viewer.watermark = max(viewer.watermark, cursor)
        return upto

    # --- feeds ------------------------------------------------------------------------------

    @contextmanager
    def _joined(self, stream: FeedStream) -> Iterator[tuple[FeedViewer, OwnerFeed]]:
        viewer = FeedViewer(
            connection_id=stream.connection_id,
            owner=stream.owner,
            connected_at=self._clock.now(),
            start=stream.after,
            watermark=stream.after,
        )
        with self._subscriptions.watching(
            stream.owner,
            viewer,
            lambda: OwnerFeed(
                owner=stream.owner,
                cursor=position_at(self._clock.now()),
                ring=deque(maxlen=self._config.ring_size),
            ),
            lambda feed: feed.poll(self._feed, self._writer, self._clock, self._polling),
            task_name="feed-poller",
        ) as feed:
            try:
                yield viewer, feed
            finally:
                viewer.wakeup.disarm()  # the timer its waits left armed
