"""Jobs: enqueue (validate -> record -> send), status, cancel, queue statistics.

Enqueue checks everything it can before it writes anything: the queue and job name, the
blob (the caller's, present, within the size and type limits). The job records the blob's
ETag as validated, so the worker reads that version only (the upload URL can rewrite the
blob until it expires). Then it records the job with its `queued` event and sends one
message whose id is the job id. If the send fails, the job ends `failed` (enqueue_failed,
retryable) and the answer is 503. With an Idempotency-Key, `services.idempotency` answers
repeats and guards the key around those steps (lookup, claim, confirm, release).

Tracing (docs/tracing.md): the enqueue runs in a span whose context the new job keeps; the
send is a producer span the message carries, so the worker's run is its child.

Over 300 lines on purpose: enqueue's steps and the status, cancel and queue-statistics reads
share one set of collaborators (event log, queue, uploads, idempotency, tracer); split apart,
each half would take and check them again.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from function_app.domain.errors import (
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)
from function_app.domain.identity import Caller
from function_app.domain.jobs import (
    EnqueueRequest,
    EventDraft,
    Job,
    JobError,
    JobStatus,
    Stage,
    new_job_id,
)
from function_app.domain.sweeping import OpenJob
from function_app.domain.tracing import TraceContext
from function_app.ports import (
    Clock,
    EventLog,
    JobMissing,
    JobQueue,
    OpenJobs,
    QueueCounts,
    QueueStats,
    Tracer,
)
from function_app.services.idempotency import Idempotency, Prior, check_key, end_unsent
from function_app.services.job_uploads import ChosenUpload, JobUploads
from function_app.services.queue_estimates import QueueEstimate, QueueEstimates
from function_app.services.stream_tokens import StreamTokens
from function_app.services.visibility import visible_job

logger = logging.getLogger(__name__)

NO_ESTIMATE = QueueEstimate()
ENQUEUE_FAILED = JobError("enqueue_failed", "the job queue did not accept the job", True)


@dataclass(frozen=True)
class JobPolicy:
    queues: Mapping[str, tuple[str, ...]]
    # Test hook (ALLOW_FAULT_INJECTION): a job whose data has `"simulateLostSend": true` is
    # recorded and never sent, as if enqueue died between the two (the sweeper sends it).
    allow_fault_injection: bool = False


LOST_SEND_FIELD = "simulateLostSend"


def job_message(job: Job) -> dict[str, Any]:
    """The Service Bus message body of a job (MessageId = the job id)."""
    return {
        "jobId": job.job_id,
        "queueName": job.queue_name,
        "jobName": job.job_name,
        "owner": job.owner,
    }


@dataclass(frozen=True)
class JobAccepted:
    job_id: str
    status: JobStatus
    queue_name: str
    job_name: str
    stream_token: str
    replayed: bool = False
    # Best effort (None when unknown, and on a replay): services/queue_estimates.py.
    queue_position: int | None = None
    estimated_wait_seconds: int | None = None
    # The job's trace (begun by the enqueue that recorded it; a replay answers the original's).
    trace_id: str | None = None


def no_running_limit(_owner: str, _job_id: str) -> AbstractAsyncContextManager[None]:
    return nullcontext()


def queued_event() -> EventDraft:
    return EventDraft(JobStatus.QUEUED, 0, Stage.QUEUED, "Job queued")


@dataclass(frozen=True, eq=False)
class JobService:
    log: EventLog
    idempotency: Idempotency
    queue: JobQueue
    uploads: JobUploads
    stats: QueueStats
    tokens: StreamTokens
    clock: Clock
    policy: JobPolicy
    estimates: QueueEstimates
    # The sweeper's index: a job is listed before it is recorded, marked sent once it is.
    open_jobs: OpenJobs
    # Spans: the enqueue (the job's trace context) and its send (the message carries it).
    tracer: Tracer
    new_id: Callable[[], str] = new_job_id
    # Holds a place for the owner's new job (owner, job id) while it is recorded, or raises
    # Throttled (`services.limits.CallerLimits.running_job`).
    running_job: Callable[[str, str], AbstractAsyncContextManager[None]] = no_running_limit
    # Strong references to shielded record-and-send tasks until they end.
    _unfinished: set[asyncio.Future[Job]] = field(default_factory=set, init=False)

    # --- enqueue --------------------------------------------------------------------------

    async def enqueue(
        self, caller: Caller, request: EnqueueRequest, idempotency_key: str | None = None
    ) -> JobAccepted:
        """Validate, record, send, in a span of their own: a child of the request's (and so
        of the caller's `traceparent`), or the first span of a new trace. A new job keeps
        that span as its trace context."""
        attributes = {"jobstream.queue": request.queue_name, "jobstream.job_name": request.job_name}
        with self.tracer.span("jobstream.enqueue", attributes=attributes) as span:
            accepted = await self._enqueue(caller, request, idempotency_key, span.context)
            span.set_attribute("jobstream.job_id", accepted.job_id)
            span.set_attribute("jobstream.replayed", accepted.replayed)
            return accepted

    async def _enqueue(
        self,
        caller: Caller,
        request: EnqueueRequest,
        idempotency_key: str | None,
        trace: TraceContext,
    ) -> JobAccepted:
        if not caller.may_write:
            raise Unauthenticated("a stream token cannot enqueue jobs", code="read_only_token")
        key = check_key(idempotency_key)
        prior = Prior()
        if key is not None:
            prior = await self.idempotency.lookup(caller, key, request)
            if prior.replay is not None:
                return await self._accepted(prior.replay, replayed=True)

        upload = await self._validate(caller, request)
        job = Job(
            job_id=self.new_id(),
            owner=caller.owner,
            queue_name=request.queue_name,
            job_name=request.job_name,
            data=dict(request.data),
            created_at=self.clock.now(),
            idempotency_key=key,
            upload_etag=upload.blob.etag,
            blob_name=upload.blob.name,
            trace=trace,
        )
        async with self.running_job(caller.owner, job.job_id):
            if key is not None:
                repeat = await self.idempotency.claim(caller, key, job.job_id, request, prior)
                if repeat is not None:
                    return await self._accepted(repeat, replayed=True)
            # Once the job may be recorded it must be sent or end failed, even if this
            # request is cancelled meanwhile (its client went away): that part runs
            # shielded. The queue estimate is read meanwhile.
            async with self.estimates.begin(job.queue_name, job.job_name) as estimate:
                recorded = await self._shielded(self._record_and_send(job, upload))
                return await self._accepted(recorded, estimate=await estimate.result())

    async def _validate(self, caller: Caller, request: EnqueueRequest) -> ChosenUpload:
        """The upload as validated; its ETag pins the version the worker will read."""
        jobs = self.policy.queues.get(request.queue_name)
        if jobs is None:
            raise InvalidRequest(
                f"unknown queueName {request.queue_name[:64]!r}",
                code="unknown_queue",
                details=[{"field": "queueName", "known": sorted(self.policy.queues)}],
            )
        if request.job_name not in jobs:
            raise InvalidRequest(
                f"jobName {request.job_name[:64]!r} is not accepted on queue "
                f"{request.queue_name!r}",
                code="unknown_job_name",
                details=[{"field": "jobName", "known": list(jobs)}],
            )
        return await self.uploads.choose(caller.owner, request.data)

    async def _record_and_send(self, job: Job, upload: ChosenUpload) -> Job:
        owner, key, job_id = job.owner, job.idempotency_key, job.job_id
        holds_upload = False
        entry = OpenJob(job_id, job.queue_name, job.created_at)
        try:
            await self.open_jobs.put(entry)
            holds_upload = await self.uploads.claim(upload, job_id)
            recorded, _ = await self.log.create(job, queued_event())
        except BaseException:
            await self._let_go(job, holds_upload)
            raise
        if key is not None:
            try:
                await self.idempotency.confirm(owner, key, job_id)
            except Conflict:  # the key was taken over: our job ended unsent
                await self._let_go(job, holds_upload, key_too=False)
                raise
            except BaseException:
                await end_unsent(self.log, job_id, ENQUEUE_FAILED)
                await self._let_go(job, holds_upload)
                raise
        if self.policy.allow_fault_injection and job.data.get(LOST_SEND_FIELD) is True:
            logger.warning("job %s: send skipped (%s)", job_id, LOST_SEND_FIELD)
            return recorded
        try:
            await self._send(job)
        except Exception as exc:
            logger.warning("job %s: send to %s failed: %r", job_id, job.queue_name, exc)
            await end_unsent(self.log, job_id, ENQUEUE_FAILED)
            await self._let_go(job, holds_upload)
            raise DependencyUnavailable(
                "servicebus", "the job could not be queued; try again"
            ) from exc
        try:
            await self.open_jobs.put(replace(entry, sent=True))
        except Exception as exc:  # the sweeper resends it; duplicate detection drops the copy
            logger.warning("job %s: not marked sent in the open-jobs index: %r", job_id, exc)
        return recorded

    async def _send(self, job: Job) -> None:
        """Send the job's message in a producer span; the message carries that span."""
        attributes = {
            "messaging.system": "servicebus",
            "messaging.operation.type": "send",
            "messaging.destination.name": job.queue_name,
            "messaging.message.id": job.job_id,
        }
        name = f"send {job.queue_name}"
        with self.tracer.span(name, kind="producer", attributes=attributes) as span:
            await self.queue.send(job.queue_name, job.job_id, job_message(job), trace=span.context)

    async def _let_go(self, job: Job, holds_upload: bool, *, key_too: bool = True) -> None:
        """A job that will not be queued gives its Idempotency-Key and its upload back."""
        if key_too:
            await self.idempotency.release(job.owner, job.idempotency_key, job.job_id)
        if holds_upload and job.blob_name is not None:
            await self.uploads.release(job.blob_name, job.job_id)

    async def _shielded(self, work: Coroutine[Any, Any, Job]) -> Job:
        task = asyncio.ensure_future(work)
        self._unfinished.add(task)  # a strong reference until it ends, cancelled caller or not
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Future[Job]) -> None:
        self._unfinished.discard(task)
        if not task.cancelled():
            # Retrieved here: a caller that was cancelled never will (the log has the cause).
            _ = task.exception()

    async def _accepted(
        self, job: Job, *, replayed: bool = False, estimate: QueueEstimate = NO_ESTIMATE
    ) -> JobAccepted:
        return JobAccepted(
            job_id=job.job_id,
            status=job.status,
            queue_name=job.queue_name,
            job_name=job.job_name,
            stream_token=await self.tokens.issue(job.owner, job.job_id),
            replayed=replayed,
            queue_position=estimate.position,
            estimated_wait_seconds=estimate.wait_seconds,
            trace_id=job.trace_id,
        )

    # --- status and cancel ----------------------------------------------------------------

    async def status(self, caller: Caller, job_id: str) -> Job:
        """The caller's job; NotFound when it is unknown, someone else's or out of scope."""
        return await visible_job(self.log, caller, job_id, self.clock.now())

    async def cancel(self, caller: Caller, job_id: str) -> Job:
        """Queued: ends `cancelled` now. Running: flags it; the worker stops at its next
        checkpoint. Already ended: Conflict."""
        if not caller.may_write:
            raise Unauthenticated("a stream token cannot cancel jobs", code="read_only_token")
        job = await visible_job(self.log, caller, job_id, self.clock.now())
        if job.is_terminal:
            raise Conflict(f"job already {job.status}", code="job_finished")

        def cancel_if_queued(current: Job) -> EventDraft | None:
            if current.status is not JobStatus.QUEUED:
                return None
            return EventDraft(
                JobStatus.CANCELLED, current.progress, Stage.DONE, "Cancelled before it started"
            )

        try:
            job, event = await self.log.append(job_id, cancel_if_queued)
            if event is not None:
                return job
            if job.is_terminal:
                raise Conflict(f"job already {job.status}", code="job_finished")
            return await self.log.request_cancel(job_id)
        except JobMissing:
            raise NotFound("job not found") from None

    async def queue_stats(self, caller: Caller, queue_name: str) -> QueueCounts:
        if caller.is_stream_token:
            raise Unauthenticated("a stream token only reads its own job", code="read_only_token")
        if queue_name not in self.policy.queues:
            raise NotFound(f"unknown queue {queue_name[:64]!r}", code="unknown_queue")
        return await self.stats.counts(queue_name)
