"""The sweeper's rules: what to do with each job the open-jobs index still lists. Pure.

Enqueue lists a job in the index *before* it records it and marks the entry sent once its
message is sent; the sweeper visits every entry on each run and decides:

- the job record is missing: enqueue is still writing it, or died before it could; once
  the entry is `forget_missing_seconds` old it is forgotten (nothing was ever recorded);
- the job has ended: forgotten (the index lists open jobs only);
- recorded, still `queued`, its message not known to be sent, `resend_seconds` after it
  was recorded: *resend* (MessageId = job id, so if it was sent after all, Service Bus's
  duplicate detection drops the copy within its window);
- no event for `lost_seconds` while a worker had it (started, in progress, retrying), or
  still `queued` `queued_lost_seconds` after its last event (its message expired or was
  lost with the broker): *end it* `failed`, code `worker_lost`, retryable;
- anything else: leave it for the next run.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from function_app.domain.jobs import Job, JobError, JobStatus

WORKER_LOST = JobError(
    "worker_lost",
    "no worker reported on the job for too long; enqueue it again",
    retryable=True,
)


@dataclass(frozen=True)
class OpenJob:
    """An index entry: a job enqueue recorded (or is recording) and that may not have ended."""

    job_id: str
    queue_name: str
    recorded_at: datetime
    sent: bool = False


@dataclass(frozen=True)
class SweepPolicy:
    resend_seconds: float = 60.0
    lost_seconds: float = 900.0
    queued_lost_seconds: float = 26 * 3600.0
    forget_missing_seconds: float = 600.0


class SweepAction(StrEnum):
    KEEP = "keep"
    FORGET = "forget"
    RESEND = "resend"
    END_LOST = "end_lost"


def last_heard(job: Job) -> datetime:
    """When the job last changed (its record's last event; the creation for old records)."""
    return job.updated_at or job.started_at or job.created_at


def sweep_action(
    entry: OpenJob, job: Job | None, now: datetime, policy: SweepPolicy
) -> SweepAction:
    def older(at: datetime, seconds: float) -> bool:
        return now - at > timedelta(seconds=seconds)

    if job is None:
        if older(entry.recorded_at, policy.forget_missing_seconds):
            return SweepAction.FORGET
        return SweepAction.KEEP
    if job.is_terminal:
        return SweepAction.FORGET
    unsent = job.status is JobStatus.QUEUED and not entry.sent
    if unsent and older(entry.recorded_at, policy.resend_seconds):
        return SweepAction.RESEND
    if still_lost(job, now, policy):
        return SweepAction.END_LOST
    return SweepAction.KEEP


def still_lost(job: Job, now: datetime, policy: SweepPolicy) -> bool:
    """Whether no one reported on the open job for longer than its status allows; checked
    again on the fresh read the `worker_lost` write is decided on (a worker may have written
    meanwhile)."""
    if job.is_terminal:
        return False
    seconds = policy.queued_lost_seconds if job.status is JobStatus.QUEUED else policy.lost_seconds
    return now - last_heard(job) > timedelta(seconds=seconds)
