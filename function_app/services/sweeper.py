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

import logging
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
from function_app.services.sweeps import SweepReport, Wording, sweep_each

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_SWEEP = 5_000
CONCURRENT_READS = 16


SWEEP_WORDING = Wording(
    "listed",
    {
        SweepAction.RESEND: "resent",
        SweepAction.END_LOST: "ended worker_lost",
        SweepAction.FORGET: "forgotten",
    },
)


@dataclass(frozen=True, eq=False)
class Sweeper:
    open_jobs: OpenJobs
    log: EventLog
    queue: JobQueue
    clock: Clock
    policy: SweepPolicy

    async def sweep(self) -> SweepReport[SweepAction]:
        entries = await self.open_jobs.entries(MAX_ENTRIES_PER_SWEEP)
        report = await sweep_each(
            entries,
            self._visit,
            at_once=CONCURRENT_READS,
            name=lambda entry: f"sweep of job {entry.job_id}",
            wording=SWEEP_WORDING,
        )
        resent, ended = report.count(SweepAction.RESEND), report.count(SweepAction.END_LOST)
        if resent or ended or report.failed:
            logger.warning("sweep: %s", report.summary())
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
