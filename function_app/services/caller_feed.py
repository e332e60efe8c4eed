"""Copying each job event into its owner's feed, and repairing what a crash left behind.

Every writer stores an event in the job's own log first (`EventLog.create` / `append`: the
source of truth, gapless) and then copies it into the owner's feed (`CallerFeed.extend`).
The two cannot be one transaction (two partitions). What keeps the feed whole:
- The job's `FeedMark` says through which sequence its events are in the feed. A writer
  copies *every* event after the mark up to its own (read back from the job's log), so a
  writer that died between the two writes is repaired by the next event of that job.
- A job whose last event was the one not copied has no next event: the feed's reader calls
  `repair(owner)`, which finds the owner's jobs whose terminal event is not in the feed
  (`CallerFeed.unfinished`) and copies what their logs hold beyond the mark.
- Two writers copying the same events race on the mark's version: one wins, the other sees
  the moved mark and stops. No event enters the feed twice.

`FeedingEventLog` is the `EventLog` the services write through: the job log's write, then
the copy. A failed copy is logged, not raised: the event is stored, and the next copy or a
repair brings the feed up to date.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from function_app.domain.feed import FeedMark
from function_app.domain.jobs import EventDraft, Job, JobEvent
from function_app.ports import MAX_FEED_BATCH, CallerFeed, ConcurrencyExhausted, EventLog
from function_app.services.event_log_layer import EventLogLayer

logger = logging.getLogger(__name__)

MAX_COPY_ATTEMPTS = 16
MARKS_REMEMBERED = 1024
# A job's mark untouched this long while its job moved on is repaired by a feed reader; a
# younger one is probably being written right now.
REPAIR_AFTER = timedelta(seconds=5)


class FeedWriter:
    """Copies a job's events into its owner's feed, gaps included (see the module docstring)."""

    def __init__(self, log: EventLog, feed: CallerFeed, clock: Callable[[], datetime]) -> None:
        self._log = log
        self._feed = feed
        self._clock = clock
        # The marks this process wrote last, so a worker's run reads no mark per event.
        self._marks: OrderedDict[str, FeedMark] = OrderedDict()

    async def copy(self, job: Job, latest: JobEvent | None = None) -> None:
        """Bring the job's events through `job.last_event_id` into the owner's feed."""
        mark = self._marks.get(job.job_id)
        known = mark is not None or (latest is not None and latest.sequence == 1)
        for attempt in range(MAX_COPY_ATTEMPTS):
            if not known:
                mark = await self._feed.mark(job.owner, job.job_id)
            known = False  # after a lost race, read the mark again
            through = mark.through if mark else 0
            if through >= job.last_event_id:
                self._remember(mark)
                return
            if latest is not None and latest.sequence == through + 1:
                events = [latest]
            else:
                want = min(job.last_event_id - through, MAX_FEED_BATCH)
                events = await self._log.events_after(job.job_id, through, limit=want)
                if not events:
                    return  # nothing stored beyond the mark (a stale job record)
            written = await self._feed.extend(job.owner, mark, job, events)
            if written is None:
                self._marks.pop(job.job_id, None)
                await asyncio.sleep(min(0.005 * 2**attempt, 0.2))
                continue
            mark = written
            known = True
            self._remember(written)
            if written.through >= job.last_event_id:
                return
        raise ConcurrencyExhausted(f"feed of job {job.job_id}: {MAX_COPY_ATTEMPTS} lost races")

    async def repair(self, owner: str) -> int:
        """Copy what the logs hold beyond the marks of the owner's unfinished jobs (a writer
        died between its two writes). Returns how many jobs needed it."""
        repaired = 0
        cutoff = self._clock() - REPAIR_AFTER
        for mark in await self._feed.unfinished(owner):
            if mark.updated_at is not None and mark.updated_at > cutoff:
                continue
            job = await self._log.get(mark.job_id)
            if job is None or job.owner != owner or job.last_event_id <= mark.through:
                continue
            logger.info("feed of job %s behind its log: copying", mark.job_id)
            self._marks.pop(mark.job_id, None)
            await self.copy(job)
            repaired += 1
        return repaired

    def _remember(self, mark: FeedMark | None) -> None:
        if mark is None:
            return
        if mark.ended:
            self._marks.pop(mark.job_id, None)
            return
        self._marks[mark.job_id] = mark
        self._marks.move_to_end(mark.job_id)
        while len(self._marks) > MARKS_REMEMBERED:
            self._marks.popitem(last=False)


class FeedingEventLog(EventLogLayer):
    """An `EventLog` whose every recorded event is also copied into its owner's feed."""

    def __init__(self, log: EventLog, writer: FeedWriter) -> None:
        super().__init__(log)
        self._writer = writer

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        recorded, event = await self._log.create(job, first)
        await self._copy(recorded, event)
        return recorded, event

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        job, event = await self._log.append(job_id, decide)
        if event is not None:
            await self._copy(job, event)
        return job, event

    async def _copy(self, job: Job, event: JobEvent) -> None:
        try:
            await self._writer.copy(job, event)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Stored in the job's log; the next copy of this job or a reader's repair
            # brings the feed up to date.
            logger.warning(
                "copying event %d of job %s to its feed failed",
                event.sequence,
                job.job_id,
                exc_info=True,
            )
