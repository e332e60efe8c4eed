"""The worker: runs one job per Service Bus delivery, recording every step in the event log.

Settlement follows the Functions host: returning completes the message, raising abandons it
(Service Bus redelivers, and dead-letters after MaxDeliveryCount). So:
- job missing or already ended (a redelivery after completion): return, write nothing;
- cancel requested: record `cancelled`, return;
- a permanent error (unreadable file, unknown job type, blob gone, blob changed since
  enqueue validated it): record `failed` (retryable false), return;
- anything else on the last delivery: record `failed` (max_deliveries_exceeded, retryable
  true), return; before that: record `retrying` and re-raise so Service Bus redelivers.

Steps and ETAs: every progress event carries the job type's current step label (`step`),
its phase label and detail, and `eta_seconds` from the durations learned from past runs of
the same job type (`domain.durations`, read once when the run starts; None until there is
history). When a run completes, its step durations are learned from (best effort: a store
that fails only loses the sample).

The queue catalogue (seed 000): each `started` event names this instance (`workerId`), the
instance's heartbeat lists the jobs it runs while they run (`PresenceReporter`), and every
job it ends is counted by outcome and run time (`QueueCounters`); both best effort.

Bounded runs: a job type's `run` stops at a cancel request or at `policy.time_limit_seconds`
(`services.bounded_runs`).

Tracing (docs/tracing.md): each delivery runs in a consumer span, the child of the span the
message names (`JobDelivery.trace`, else the job's own trace context); every event it records
is a span inside it and carries the job's trace id.

Fault injection for end-to-end tests: when ALLOW_FAULT_INJECTION is true, a job whose data
has `"simulateTransientFailures": N` fails transiently on its first N deliveries.

(Over 300 lines on purpose: what follows is one decision, how a delivery ends. Every path
from the delivery to its settlement, and the event each records, is read together when any
of them changes; the run's parts that stand alone are in `services.run_context` (what the
job type sees, the upload it reads) and `services.bounded_runs` (cancel and time limit).)
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Any

from function_app.domain.durations import Durations, RunSample
from function_app.domain.errors import (
    AttemptSuperseded,
    JobCancelled,
    JobFailure,
    PermanentJobError,
    TransientJobError,
)
from function_app.domain.jobs import EventDraft, Job, JobError, JobEvent, JobStatus, Stage
from function_app.domain.tracing import TraceContext
from function_app.jobtypes.base import JobType
from function_app.jobtypes.steps import START_LABEL
from function_app.ports import (
    BlobChanged,
    BlobMissing,
    Clock,
    EventLog,
    QueueCounters,
    SpanValue,
    StepDurations,
    Tracer,
    UploadStore,
)
from function_app.services.bounded_runs import run_bounded
from function_app.services.run_context import (
    RunContext,
    event_draft,
    in_attempt,
    job_upload,
    unless_ended,
    upload_changed,
)
from function_app.services.worker_presence import PresenceReporter

logger = logging.getLogger(__name__)

FAULT_INJECTION_FIELD = "simulateTransientFailures"
UNEXPECTED_FAILURE = "an unexpected error in the worker (logged with the job id)"


@dataclass(frozen=True)
class JobDelivery:
    """One delivery of a job message, as the trigger hands it over."""

    job_id: str
    body: Mapping[str, Any]
    delivery_count: int
    enqueued_time: datetime | None = None
    # When the message's lock ends (None: unknown). A delivery whose lock ended before it
    # started (it sat in a frozen or slow consumer) is not run: Service Bus has already
    # given the message to someone else, whose attempt it must not supersede.
    locked_until: datetime | None = None
    # The sending span, from the message's `traceparent` / `Diagnostic-Id` (None: untraced).
    trace: TraceContext | None = None

    def span_attributes(self) -> dict[str, SpanValue]:
        return {
            "messaging.system": "servicebus",
            "messaging.operation.type": "process",
            "messaging.destination.name": str(self.body.get("queueName") or ""),
            "messaging.message.id": self.job_id,
            "messaging.servicebus.message.delivery_count": self.delivery_count,
        }


@dataclass(frozen=True)
class WorkerPolicy:
    max_delivery_count: int
    # The one bound on what a job reads: a blob over it fails `file_too_large` before the job
    # runs, and `read()` never yields more than the validated size.
    max_upload_bytes: int
    allow_fault_injection: bool = False
    # Before a failed delivery is abandoned: base x 2^(delivery - 1) seconds, at most
    # RETRY_DELAY_MAX_SECONDS (0: abandon at once).
    retry_delay_seconds: float = 0.0
    # A run stopped past this (JOB_TIME_LIMIT_SECONDS) fails `time_limit_exceeded`; None: no
    # limit. While it runs, a cancel request is looked for every `cancel_poll_seconds`.
    time_limit_seconds: float | None = None
    cancel_poll_seconds: float = 0.5

    def retry_delay(self, delivery_count: int) -> float:
        if self.retry_delay_seconds <= 0:
            return 0.0
        delay = self.retry_delay_seconds * 2 ** max(delivery_count - 1, 0)
        return float(min(delay, RETRY_DELAY_MAX_SECONDS))


RETRY_DELAY_MAX_SECONDS = 60.0


@dataclass(frozen=True, eq=False)
class WorkerService:
    log: EventLog
    uploads: UploadStore
    job_types: Mapping[str, JobType]
    policy: WorkerPolicy
    _: KW_ONLY
    durations: StepDurations
    clock: Clock
    # The run's span: a child of the message's (so of the enqueue), with its events inside.
    tracer: Tracer
    # This instance's heartbeat and the queue-wide outcome counters (seed 000's catalogue);
    # None: not kept.
    presence: PresenceReporter | None = None
    counters: QueueCounters | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def handle(self, delivery: JobDelivery) -> None:
        """Run the delivered job. Returns to complete the message; raises to abandon it,
        after `policy.retry_delay` (the lock is renewed meanwhile), so that a dependency
        that is down for a while does not use up every delivery in a few seconds."""
        with self.tracer.span(
            f"process {delivery.body.get('queueName') or 'job'}",
            parent=await self._parent_of(delivery),
            kind="consumer",
            attributes=delivery.span_attributes(),
        ):
            await self._handle_after_failure(delivery)

    async def _parent_of(self, delivery: JobDelivery) -> TraceContext | None:
        """The message's span; for a message sent without one (before traces were kept, or
        by another sender), the job's own trace context, so the run stays in its trace."""
        if delivery.trace is not None:
            return delivery.trace
        try:
            job = await self.log.get(delivery.job_id)
        except Exception:  # only the span's parent is lost: the delivery goes on as always
            return None
        return None if job is None else job.trace

    async def _handle_after_failure(self, delivery: JobDelivery) -> None:
        try:
            await self._handle(delivery)
        except Exception as exc:
            delay = self.policy.retry_delay(delivery.delivery_count)
            if delay > 0:
                logger.info(
                    "job %s delivery %d failed (%s): abandoning it in %.0f s",
                    delivery.job_id,
                    delivery.delivery_count,
                    type(exc).__name__,
                    delay,
                )
                await self.sleep(delay)
            raise

    async def _handle(self, delivery: JobDelivery) -> None:
        job = await self.log.get(delivery.job_id)
        if job is None:
            logger.warning("delivery for unknown job %s: dropped", delivery.job_id)
            return
        if job.is_terminal:
            logger.info("job %s already %s: delivery dropped", job.job_id, job.status)
            return
        if job.cancel_requested:
            await self._end(job.job_id, event_draft(JobStatus.CANCELLED, Stage.DONE, "Cancelled"))
            return
        if delivery.locked_until is not None and delivery.locked_until <= self.clock.now():
            logger.warning(
                "job %s delivery %d: its lock ended before it started (%s): not run",
                job.job_id,
                delivery.delivery_count,
                delivery.locked_until.isoformat(),
            )
            return

        attempt = f"attempt {delivery.delivery_count} of {self.policy.max_delivery_count}"
        started = event_draft(
            JobStatus.STARTED,
            Stage.INITIALIZING,
            f"Started ({attempt})",
            step=START_LABEL,
            worker=None if self.presence is None else self.presence.worker_id,
        )
        job, event = await self.log.append(job.job_id, lambda j: None if j.is_terminal else started)
        if event is None:
            return
        if self.presence is None:
            await self._fenced(job, delivery)
            return
        async with self.presence.running(job):
            await self._fenced(job, delivery)

    async def _fenced(self, job: Job, delivery: JobDelivery) -> None:
        """Run the attempt `job.attempts`; once a later delivery started a newer one, the log
        refuses this one's writes and it stops where it tried (returning: the newer attempt
        owns the job, and this delivery's message lock is already gone)."""
        try:
            await self._attempt(job, delivery)
        except AttemptSuperseded as exc:
            logger.warning("%s: delivery %d stops", exc, delivery.delivery_count)

    async def _attempt(self, job: Job, delivery: JobDelivery) -> None:
        """Run one started attempt and record how it ended (or re-raise to retry)."""
        attempt = job.attempts
        try:
            result, sample = await self._run(job, delivery)
        except AttemptSuperseded:
            raise
        except JobCancelled:
            cancelled = event_draft(JobStatus.CANCELLED, Stage.DONE, "Cancelled")
            await self._end(job.job_id, cancelled, attempt)
            return
        except PermanentJobError as exc:
            logger.info("job %s failed permanently: %s", job.job_id, exc.code)
            error = JobError(exc.code, exc.message, retryable=False)
            failed = event_draft(JobStatus.FAILED, Stage.DONE, exc.message, error=error)
            await self._end(job.job_id, failed, attempt)
            return
        except Exception as exc:
            await self._transient(job, delivery, exc)
            return
        # What the caller sent beside the upload (resumeId, ...) comes back with the result.
        result = {**result, "data": dict(job.data)}
        completed = event_draft(
            JobStatus.COMPLETED, Stage.DONE, "Completed", progress=100, result=result
        )
        try:
            await self._end(job.job_id, completed, attempt)
        except ValueError as exc:  # the log refuses a result over its size limit
            logger.warning("job %s: result not stored: %s", job.job_id, exc)
            error = JobError("result_too_large", "the job's result is too large to store")
            too_large = event_draft(JobStatus.FAILED, Stage.DONE, error.message, error)
            await self._end(job.job_id, too_large, attempt)
            return
        await self._learn(job.job_name, sample)

    async def _learned(self, job_name: str) -> Durations:
        """The job type's learned durations; none (no ETAs) when the store fails."""
        try:
            return await self.durations.get(job_name)
        except Exception as exc:
            logger.warning("durations of %s not read (no ETAs this run): %r", job_name, exc)
            return Durations()

    async def _learn(self, job_name: str, sample: RunSample) -> None:
        """Learn from a completed run; a store that fails loses only this sample."""
        try:
            await self.durations.learn(job_name, sample)
        except Exception as exc:
            logger.warning("durations of %s not updated: %r", job_name, exc)

    async def handle_dead_letter(self, delivery: JobDelivery) -> None:
        """A message reached the dead-letter queue: end its job `failed` if it has not ended."""
        error = JobError(
            "dead_lettered", "Service Bus dead-lettered the job's message", retryable=True
        )
        draft = event_draft(
            JobStatus.FAILED, Stage.DONE, "The job's message was dead-lettered", error=error
        )
        attributes = {**delivery.span_attributes(), "messaging.destination.subqueue": "dlq"}
        with self.tracer.span(
            "dead-lettered", parent=delivery.trace, kind="consumer", attributes=attributes
        ):
            job = await self.log.get(delivery.job_id)
            if job is None or job.is_terminal:
                return
            await self._end(job.job_id, draft)

    async def _run(self, job: Job, delivery: JobDelivery) -> tuple[Mapping[str, Any], RunSample]:
        job_type = self.job_types.get(job.job_name)
        if job_type is None:
            raise PermanentJobError("unknown_job_type", f"no job type {job.job_name!r}")
        self._inject_fault(job, delivery)
        ctx = RunContext(
            job,
            await job_upload(self.uploads, job, self.policy.max_upload_bytes),
            self.log,
            self.uploads,
            steps=job_type.steps,
            durations=await self._learned(job.job_name),
            clock=self.clock,
        )
        await ctx.checkpoint()
        try:
            result = await run_bounded(
                job_type.run(ctx),
                ctx,
                time_limit_seconds=self.policy.time_limit_seconds,
                cancel_poll_seconds=self.policy.cancel_poll_seconds,
            )
        except BlobMissing:
            raise PermanentJobError("blob_missing", "the uploaded file no longer exists") from None
        except BlobChanged:
            raise upload_changed() from None
        return result, ctx.sample()

    def _inject_fault(self, job: Job, delivery: JobDelivery) -> None:
        if not self.policy.allow_fault_injection:
            return
        failures = job.data.get(FAULT_INJECTION_FIELD)
        if (
            isinstance(failures, int)
            and not isinstance(failures, bool)
            and delivery.delivery_count <= failures
        ):
            raise TransientJobError(
                "simulated_transient_failure",
                f"simulated transient failure on delivery {delivery.delivery_count}",
            )

    async def _transient(self, job: Job, delivery: JobDelivery, exc: Exception) -> None:
        code = exc.code if isinstance(exc, JobFailure) else "transient_error"
        # An unexpected exception is logged with its traceback; the user reads no class name.
        message = exc.message if isinstance(exc, JobFailure) else UNEXPECTED_FAILURE
        logger.warning(
            "job %s delivery %d failed (%s)",
            job.job_id,
            delivery.delivery_count,
            code,
            exc_info=not isinstance(exc, JobFailure),
        )
        if delivery.delivery_count >= self.policy.max_delivery_count:
            error = JobError(
                "max_deliveries_exceeded",
                f"gave up after {delivery.delivery_count} attempts; last error {code}: {message}",
                retryable=True,
            )
            gave_up = event_draft(JobStatus.FAILED, Stage.DONE, error.message, error=error)
            await self._end(job.job_id, gave_up, job.attempts)
            return
        error = JobError(code, message, retryable=True)
        retrying = event_draft(
            JobStatus.RETRYING,
            Stage.INITIALIZING,
            f"Attempt {delivery.delivery_count} failed; Service Bus will redeliver",
            error=error,
            step=START_LABEL,
        )
        await self.log.append(job.job_id, in_attempt(job.attempts, retrying))
        raise exc

    async def _end(self, job_id: str, draft: EventDraft, attempt: int | None = None) -> None:
        """Record the job's end unless it has ended; `attempt`: only while that attempt is the
        job's latest (else AttemptSuperseded). None: not within an attempt (a cancel before
        the run, a dead letter)."""
        decide = unless_ended(draft) if attempt is None else in_attempt(attempt, draft)
        job, event = await self.log.append(job_id, decide)
        if event is not None and event.is_terminal:
            await self._count(job, event)

    async def _count(self, job: Job, event: JobEvent) -> None:
        """Count the ended job in the queue-wide tally; a store that fails loses the count."""
        if self.counters is None:
            return
        started = job.started_at
        seconds = None if started is None else (event.timestamp - started).total_seconds()
        try:
            await self.counters.count(job.queue_name, event.status, seconds)
        except Exception as exc:
            logger.warning("job %s not counted in the queue tally: %r", job.job_id, exc)
