"""The sweeper: every job ends, and every recorded job is sent (`domain.sweeping` rules).

`Sweeper.sweep()` runs on a timer (entrypoints/timers.py; the local host runs it
too). It reads the open-jobs index, then each listed job's record (a point read each, a
bounded number at once), and acts on what `sweep_action` says:
- resend: the job's message again, MessageId = job id (Service Bus drops it as a duplicate
  if the first send did happen), then marks the entry sent;
- end_lost: records `failed` (`worker_lost`, retryable), decided again on the fresh read
  under the job's ETag, so a worker that wrote meanwhile wins and nothing ends twice;
- forget: drops the entry (the job ended, or was never recorded).
A failure on one job is logged and left for the next sweep; the sweep goes on.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from function_app.domain.jobs import EventDraft, Job, JobStatus, Stage
from function_app.domain.sweeping import (
    WORKER_LOST,
    OpenJob,
    SweepAction,
    SweepPolicy,
    still_lost,
    sweep_action,
)
from function_app.ports import Clock, EventLog, JobQueue, OpenJobs
from function_app.services.jobs import job_message

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_SWEEP = 5_000
CONCURRENT_READS = 16


async def visit_each[T, A](
    items: Sequence[T],
    visit: Callable[[T], Awaitable[A]],
    *,
    at_once: int,
    name: Callable[[T], str],
) -> list[A | None]:
    """What `visit` answered for each item, at most `at_once` visits at a time. A visit that
    fails is logged (as `name(item)`) and answers None; the others go on: a sweep leaves
    what it could not do for the next one."""
    gate = asyncio.Semaphore(at_once)

    async def one(item: T) -> A | None:
        async with gate:
            try:
                return await visit(item)
            except Exception as exc:
                logger.warning("%s failed: %r", name(item), exc)
                return None

    return await asyncio.gather(*(one(item) for item in items))


@dataclass(frozen=True)
class SweepReport:
    seen: int = 0
    resent: int = 0
    ended: int = 0
    forgotten: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (
            f"{self.seen} listed, {self.resent} resent, {self.ended} ended worker_lost, "
            f"{self.forgotten} forgotten, {self.failed} failed"
        )


@dataclass(frozen=True, eq=False)
class Sweeper:
    open_jobs: OpenJobs
    log: EventLog
    queue: JobQueue
    clock: Clock
    policy: SweepPolicy

    async def sweep(self) -> SweepReport:
        entries = await self.open_jobs.entries(MAX_ENTRIES_PER_SWEEP)
        actions = await visit_each(
            entries,
            self._visit,
            at_once=CONCURRENT_READS,
            name=lambda entry: f"sweep of job {entry.job_id}",
        )
        report = SweepReport(
            seen=len(entries),
            resent=actions.count(SweepAction.RESEND),
            ended=actions.count(SweepAction.END_LOST),
            forgotten=actions.count(SweepAction.FORGET),
            failed=actions.count(None),
        )
        if report.resent or report.ended or report.failed:
            logger.warning("sweep: %s", report)
        return report

    async def _visit(self, entry: OpenJob) -> SweepAction:
        job = await self.log.get(entry.job_id)
        action = sweep_action(entry, job, self.clock.now(), self.policy)
        match action:
            case SweepAction.FORGET:
                await self.open_jobs.remove(entry.job_id)
            case SweepAction.RESEND:
                assert job is not None
                logger.warning("job %s was recorded but not sent: sending it", job.job_id)
                # The job's own trace: its run is a child of the enqueue that recorded it.
                await self.queue.send(job.queue_name, job.job_id, job_message(job), trace=job.trace)
                await self.open_jobs.put(replace(entry, sent=True))
            case SweepAction.END_LOST:
                if not await self._end_lost(entry.job_id):
                    return SweepAction.KEEP
        return action

    async def _end_lost(self, job_id: str) -> bool:
        """Record `worker_lost` if the job is still lost on the read the write is decided on."""
        lost = EventDraft(JobStatus.FAILED, 0, Stage.DONE, WORKER_LOST.message, error=WORKER_LOST)

        def decide(job: Job) -> EventDraft | None:
            return lost if still_lost(job, self.clock.now(), self.policy) else None

        _, event = await self.log.append(job_id, decide)
        if event is not None:
            logger.warning("job %s: no worker reported for too long: ended worker_lost", job_id)
        return event is not None
