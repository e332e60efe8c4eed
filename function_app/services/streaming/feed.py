"""One job's feed: the single poller and the ring of recent events its viewers share.

The hub creates a job's `JobFeed` for its first viewer and drops it (cancelling the poller)
when the last one leaves. The poller reads the event log by sequence (`events_after`), fast
while the job moves and backing off while it is idle, appends to the bounded ring and wakes
the viewers. An event this instance appends to the job's log (the worker's)
`nudge`s its poller: it reads at once instead of at the end of its interval, so an event
written here reaches its viewers a query after it was stored, not half an interval later.
A `Viewer` holds only its position (the last sequence it sent); `take` serves
it from the ring, or tells it to re-read the log when it fell behind the ring.
"""

import asyncio
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from function_app.domain.jobs import JobEvent
from function_app.ports import EventLog
from function_app.services.streaming.pollers import Polling
from function_app.services.streaming.waiting import Wakeup, wait_for_wakeup

logger = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class Viewer:
    connection_id: str
    job_id: str
    owner: str
    connected_at: datetime
    position: int
    wakeup: Wakeup = field(default_factory=Wakeup)
    events_sent: int = 0


@dataclass(eq=False)
class JobFeed:
    job_id: str
    cursor: int  # highest sequence fetched from the log
    ring: deque[JobEvent]
    viewers: set[Viewer] = field(default_factory=set)
    finished: bool = False  # a terminal event was fetched: nothing more will come
    task: asyncio.Task[None] | None = None
    owner: str = ""  # the job's owner, as its first viewer was allowed to read it
    nudged: Wakeup = field(default_factory=Wakeup)  # set: read now, not after the interval

    def nudge(self) -> None:
        """Something was written to the job's log here: the poller reads it at once."""
        self.nudged.set()

    def notify(self) -> None:
        for viewer in self.viewers:
            viewer.wakeup.set()

    def take(self, viewer: Viewer) -> list[JobEvent] | None:
        """Events after the viewer's position from the shared ring; None: re-read the log."""
        want = viewer.position + 1
        if want > self.cursor:
            return []
        ring = self.ring
        if ring and ring[0].sequence <= want:
            start = want - ring[0].sequence
            if ring[start].sequence == want:
                return list(itertools.islice(ring, start, None))
            return [e for e in ring if e.sequence >= want]
        return None

    async def poll(self, log: EventLog, polling: Polling) -> None:
        """The job's one poller: fetch new events into the ring and wake the viewers, until
        the job's terminal event (or until cancelled)."""
        config, queries, monotonic = polling.config, polling.queries, polling.monotonic
        interval = config.fast_poll_seconds
        last_change = monotonic()
        while True:
            # Before the read: a nudge that comes while it runs may be for a write it missed.
            self.nudged.clear()
            try:
                queries.polls += 1
                events = await log.events_after(self.job_id, self.cursor, limit=config.page_size)
            except Exception:
                logger.warning("polling events of job %s failed", self.job_id, exc_info=True)
                events = []
                interval = config.idle_poll_seconds
            fresh = [e for e in events if e.sequence > self.cursor]
            if fresh:
                self.ring.extend(fresh)
                self.cursor = fresh[-1].sequence
                last_change = monotonic()
                if fresh[-1].is_terminal:
                    self.finished = True
                self.notify()
                if self.finished:
                    return
                if len(events) >= config.page_size:
                    continue  # more are waiting: read on without sleeping
                interval = config.fast_poll_seconds
            elif monotonic() - last_change > config.active_window_seconds:
                interval = min(interval * 2, config.idle_poll_seconds)
            await wait_for_wakeup(self.nudged, interval, polling.sleep)
