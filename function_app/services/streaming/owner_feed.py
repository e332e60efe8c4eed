"""One owner's feed on this instance: the single poller and the ring its viewers share.

The feed hub creates an owner's `OwnerFeed` for their first viewer (any number of tabs and
routes) and drops it, cancelling the poller, when the last one leaves. The poller reads the
owner's feed after its cursor (`CallerFeed.after`), fast while events come and backing off
while idle, and *releases* an entry into the ring once it is `feed_settle_seconds` old by
the clock: writers of neighbouring positions race, and one that took an earlier position
may land a moment after a later one; holding entries that briefly keeps the order. An entry
that lands later still is found by a key-only scan of the last `feed_late_window_seconds`
and released late (out of position order, never lost, never twice). Every
`feed_repair_seconds` the poller repairs the owner's feed (`FeedWriter.repair`).

Ring entries carry a serial; a `FeedViewer` remembers the last serial it was sent and the
highest position (its resume point). A viewer behind the ring, or one that starts in the
past (`?since=`), reads the store itself until it reaches the cursor, then joins the ring.
"""

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from function_app.domain.feed import FeedEntry, position_at
from function_app.ports import CallerFeed, Clock
from function_app.services.caller_feed import FeedWriter
from function_app.services.streaming.pollers import LogQueries, Polling
from function_app.services.streaming.waiting import Wakeup

logger = logging.getLogger(__name__)


class RecentPositions:
    """Positions seen lately (a set, pruned oldest first as positions are added in
    roughly ascending order): what tells a late arrival from an entry already handled."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._order: deque[int] = deque()

    def __contains__(self, position: int) -> bool:
        return position in self._seen

    def add(self, position: int) -> None:
        self._seen.add(position)
        self._order.append(position)

    def forget_below(self, limit: int) -> None:
        """Forget the positions added before any at or past `limit` that are under it."""
        while self._order and self._order[0] < limit:
            self._seen.discard(self._order.popleft())


@dataclass(frozen=True)
class Released:
    """An entry as the ring holds it: its serial, and whether it landed late (behind the
    cursor, so below positions already sent)."""

    serial: int
    entry: FeedEntry
    late: bool = False


@dataclass(eq=False)
class FeedViewer:
    connection_id: str
    owner: str
    connected_at: datetime
    start: int  # where the viewer began (nothing at or before it is sent)
    watermark: int  # the highest position sent (where the client resumes)
    serial: int | None = None  # the last ring serial sent; None: reading the store
    wakeup: Wakeup = field(default_factory=Wakeup)
    events_sent: int = 0
    # Positions sent within the late window: an entry released late may be one this viewer
    # already read from the store.
    sent: RecentPositions = field(default_factory=RecentPositions)

    def should_send(self, position: int, late: bool) -> bool:
        if late:
            return position > self.start and position not in self.sent
        return position > self.watermark

    def mark_sent(self, position: int, window: int) -> None:
        self.watermark = max(self.watermark, position)
        self.sent.add(position)
        self.sent.forget_below(self.watermark - window)


@dataclass(eq=False)
class OwnerFeed:
    owner: str
    cursor: int  # the highest position released
    ring: deque[Released]
    serial: int = 0
    viewers: set[FeedViewer] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    # Positions released within the late window, to tell a late arrival from one sent.
    _recent: RecentPositions = field(default_factory=RecentPositions)

    def release(self, entries: list[FeedEntry], *, late: bool = False) -> None:
        for entry in entries:
            if entry.position in self._recent:
                continue
            self.serial += 1
            self.ring.append(Released(self.serial, entry, late))
            self._recent.add(entry.position)
            self.cursor = max(self.cursor, entry.position)
        for viewer in self.viewers:
            viewer.wakeup.set()

    def forget_before(self, position: int) -> None:
        self._recent.forget_below(position + 1)

    def released(self, position: int) -> bool:
        return position in self._recent

    def take(self, viewer: FeedViewer) -> list[Released] | None:
        """What the viewer has not been sent, from the ring; None: read the store."""
        if viewer.serial is None:
            if viewer.watermark >= self.cursor:
                viewer.serial = self.serial  # caught up: join the ring here
                return []
            return None
        if viewer.serial >= self.serial:
            return []
        ring = self.ring
        if ring and ring[0].serial <= viewer.serial + 1:
            return list(itertools.islice(ring, viewer.serial + 1 - ring[0].serial, None))
        viewer.serial = None  # fell behind the ring
        return None

    async def poll(
        self, feed: CallerFeed, writer: FeedWriter | None, clock: Clock, polling: Polling
    ) -> None:
        """The owner's one poller (runs until cancelled)."""
        config, queries, monotonic = polling.config, polling.queries, polling.monotonic
        settle = int(config.feed_settle_seconds * 1_000_000)
        window = int(config.feed_late_window_seconds * 1_000_000)
        interval = config.fast_poll_seconds
        last_change = monotonic()
        late_scan_at = monotonic() + config.feed_late_scan_seconds
        repair_at = monotonic()
        while True:
            now = monotonic()
            if writer is not None and now >= repair_at:
                repair_at = now + config.feed_repair_seconds
                try:
                    await writer.repair(self.owner)
                except Exception:
                    logger.warning("repairing a feed failed", exc_info=True)
            wait = interval
            try:
                queries.polls += 1
                entries = await feed.after(self.owner, self.cursor, config.page_size)
                edge = position_at(clock.now()) - settle
                settled = _settled(entries, edge)
                if settled:
                    self.release(settled)
                    last_change = monotonic()
                if len(settled) < len(entries):
                    # Wait until the first held entry is old enough, then read again.
                    wait = min(max((entries[len(settled)].position - edge) / 1e6, 0.005), wait)
                elif len(entries) >= config.page_size:
                    wait = 0.0  # more are waiting
                if monotonic() >= late_scan_at:
                    late_scan_at = monotonic() + config.feed_late_scan_seconds
                    if monotonic() - last_change <= config.feed_late_window_seconds:
                        queries.polls += 1
                        await self._late_scan(feed, window, queries)
                    self.forget_before(self.cursor - window)
            except Exception:
                logger.warning("polling a caller feed failed", exc_info=True)
                wait = config.idle_poll_seconds
            if monotonic() - last_change > config.active_window_seconds:
                interval = min(interval * 2, config.idle_poll_seconds)
                wait = min(wait, interval)
            else:
                interval = config.fast_poll_seconds
            if wait > 0:
                await polling.sleep(wait)

    async def _late_scan(self, feed: CallerFeed, window: int, queries: LogQueries) -> None:
        """Release entries that landed behind the cursor after it passed them."""
        cursor = self.cursor
        missing = [
            p
            for p in await feed.positions(self.owner, cursor - window, cursor)
            if not self.released(p)
        ]
        late: list[FeedEntry] = []
        for position in missing:
            queries.rereads += 1
            late.extend(
                e for e in await feed.after(self.owner, position - 1, 1) if e.position == position
            )
        if late:
            logger.info("%d feed entries landed late; sending them now", len(late))
            self.release(late, late=True)


def _settled(entries: list[FeedEntry], edge: int) -> list[FeedEntry]:
    """The leading entries at or before `edge` (entries are in position order)."""
    return list(itertools.takewhile(lambda e: e.position <= edge, entries))
