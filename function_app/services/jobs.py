"""Jobs: enqueue (validate, claim the idempotency key, record, send), status, cancel, stats.

A request repeating an Idempotency-Key the caller already used for the same request is
answered from the recorded job first (even if its blob is gone by now). Otherwise enqueue
checks everything it can before it writes anything: the queue and job name, the blob (the
caller's, present, within the size and type limits). The job records the blob's ETag as
validated, so the worker reads that version only (the upload URL can rewrite the blob
until it expires). Only then does it claim the Idempotency-Key, record the job with its
`queued` event, confirm the key's claim and send one message whose id is the job id. If
the send fails, the job ends `failed` (enqueue_failed, retryable) and the key is released,
so the client may retry with the same key. A claim that is never confirmed (the process
died before recording the job) is leased (`domain.idempotency.CLAIM_LEASE`): a retry after
the lease may take the key over.
"""

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any

from function_app.domain.errors import (
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unprocessable,
    UnsupportedType,
)
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, Job, JobError, JobStatus, Stage
from function_app.domain.uploads import content_type_for, is_owned_upload, normalize_content_type
from function_app.ports import (
    BlobInfo,
    Clock,
    EventLog,
    IdempotencyKeys,
    JobMissing,
    JobQueue,
    QueueCounts,
    QueueStats,
    UploadStore,
)
from function_app.services.stream_tokens import StreamTokens

logger = logging.getLogger(__name__)

# Job ids are uuid4 hex; the stream hub accepts the same shape.
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
API_PREFIX = "/api/v1"

ENQUEUE_FAILED = JobError("enqueue_failed", "the job queue did not accept the job", True)
ABANDONED = JobError(
    "enqueue_abandoned",
    "the request that created this job stopped before queueing it; a retry with the same "
    "Idempotency-Key created another job",
    True,
)
CLAIM_LOST = JobError(
    "idempotency_claim_lost",
    "another request with the same Idempotency-Key took the key over; this job was not queued",
    False,
)


@dataclass(frozen=True)
class JobPolicy:
    queues: Mapping[str, tuple[str, ...]]
    max_bytes: int
    allowed_content_types: frozenset[str]


@dataclass(frozen=True)
class EnqueueRequest:
    queue_name: str
    job_name: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class JobAccepted:
    job_id: str
    status: JobStatus
    queue_name: str
    job_name: str
    status_url: str
    stream_url: str
    stream_token: str
    replayed: bool = False


def new_job_id() -> str:
    return uuid.uuid4().hex


def status_url(job_id: str) -> str:
    return f"{API_PREFIX}/jobs/{job_id}"


def stream_url(job_id: str) -> str:
    return f"{API_PREFIX}/jobs/{job_id}/stream"


def _same_request(job: Job, request: EnqueueRequest) -> bool:
    return (
        job.queue_name == request.queue_name
        and job.job_name == request.job_name
        and dict(job.data) == dict(request.data)
    )


def queued_event() -> EventDraft:
    return EventDraft(JobStatus.QUEUED, 0, Stage.QUEUED, "Job queued")


class JobService:
    def __init__(
        self,
        log: EventLog,
        keys: IdempotencyKeys,
        queue: JobQueue,
        uploads: UploadStore,
        stats: QueueStats,
        tokens: StreamTokens,
        clock: Clock,
        policy: JobPolicy,
        new_id: Callable[[], str] = new_job_id,
    ) -> None:
        self._log = log
        self._keys = keys
        self._queue = queue
        self._uploads = uploads
        self._stats = stats
        self._tokens = tokens
        self._clock = clock
        self._policy = policy
        self._new_id = new_id
        self._unfinished: set[asyncio.Future[Job]] = set()

    # --- enqueue --------------------------------------------------------------------------

    async def enqueue(
        self, caller: Caller, request: EnqueueRequest, idempotency_key: str | None = None
    ) -> JobAccepted:
        if not caller.may_write:
            raise Unauthenticated("a stream token cannot enqueue jobs", code="read_only_token")
        if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidRequest(
                "Idempotency-Key must be 1-200 printable ASCII characters without spaces",
                code="invalid_idempotency_key",
            )
        abandoned: str | None = None
        if idempotency_key is not None:
            claim = await self._keys.lookup(caller.owner, idempotency_key)
            if claim is not None and claim.is_abandoned(self._clock.now()):
                abandoned = claim.job_id
            elif claim is not None:
                # A replay answers from what was recorded, before validation: the blob may
                # have been deleted since; the claim and the job are the caller's.
                replayed = await self._replay_recorded(caller, claim.job_id, request)
                if replayed is not None:
                    return replayed
        upload = await self._validate(caller, request)

        job_id = self._new_id()
        if idempotency_key is not None:
            holder = await self._keys.claim(
                caller.owner, idempotency_key, job_id, now=self._clock.now()
            )
            if holder != job_id:
                return await self._replay(caller, holder, request)
            if abandoned is not None and abandoned != job_id:
                await self._end_abandoned(caller.owner, abandoned)

        job = Job(
            job_id=job_id,
            owner=caller.owner,
            queue_name=request.queue_name,
            job_name=request.job_name,
            data=dict(request.data),
            created_at=self._clock.now(),
            idempotency_key=idempotency_key,
            upload_etag=upload.etag,
        )
        # Once the job may be recorded it must be sent or end failed, even if this request
        # is cancelled meanwhile (its client went away): that part runs shielded.
        recorded = await self._shielded(self._record_and_send(job))
        return await self._accepted(recorded)

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

    async def _record_and_send(self, job: Job) -> Job:
        owner, key, job_id = job.owner, job.idempotency_key, job.job_id
        try:
            recorded, _ = await self._log.create(job, queued_event())
        except BaseException:
            await self._release(owner, key, job_id)
            raise
        if key is not None:
            await self._confirm(owner, key, job_id)

        body = {
            "jobId": job_id,
            "queueName": job.queue_name,
            "jobName": job.job_name,
            "owner": owner,
        }
        try:
            await self._queue.send(job.queue_name, job_id, body)
        except Exception as exc:
            logger.warning("job %s: send to %s failed: %r", job_id, job.queue_name, exc)
            await self._fail_unsent(job_id)
            await self._release(owner, key, job_id)
            raise DependencyUnavailable(
                "servicebus", "the job could not be queued; try again"
            ) from exc
        return recorded

    async def _validate(self, caller: Caller, request: EnqueueRequest) -> BlobInfo:
        """The upload as validated; its ETag pins the version the worker will read."""
        jobs = self._policy.queues.get(request.queue_name)
        if jobs is None:
            raise InvalidRequest(
                f"unknown queueName {request.queue_name[:64]!r}",
                code="unknown_queue",
                details=[{"field": "queueName", "known": sorted(self._policy.queues)}],
            )
        if request.job_name not in jobs:
            raise InvalidRequest(
                f"jobName {request.job_name[:64]!r} is not accepted on queue "
                f"{request.queue_name!r}",
                code="unknown_job_name",
                details=[{"field": "jobName", "known": list(jobs)}],
            )
        blob_name = request.data.get("blobName")
        if not isinstance(blob_name, str) or not blob_name:
            raise InvalidRequest(
                "data.blobName is required",
                details=[{"field": "data.blobName", "problem": "required string"}],
            )
        if not is_owned_upload(caller.owner, blob_name):
            # Someone else's (or a made-up) blob looks exactly like a missing one.
            raise NotFound("blob not found", code="blob_not_found")
        info = await self._uploads.describe(blob_name)
        if info is None:
            raise NotFound("blob not found", code="blob_not_found")
        if info.size > self._policy.max_bytes:
            raise TooLarge(
                f"the upload is {info.size} bytes; the limit is {self._policy.max_bytes}",
                details=[{"maxBytes": self._policy.max_bytes}],
            )
        if info.size == 0:
            raise Unprocessable("the upload is empty", code="empty_upload")
        content_type = (
            normalize_content_type(info.content_type)
            if info.content_type
            else content_type_for(blob_name)
        )
        if content_type not in self._policy.allowed_content_types:
            raise UnsupportedType(
                f"the upload's content type {str(content_type)[:100]!r} is not allowed",
                details=[{"allowed": sorted(self._policy.allowed_content_types)}],
            )
        return info

    async def _replay_recorded(
        self, caller: Caller, holder: str, request: EnqueueRequest
    ) -> JobAccepted | None:
        """The caller's job `holder` if it was recorded for this same request, else None (then
        enqueue goes the usual way: validate, claim, and answer any conflict there)."""
        existing = await self._log.get(holder)
        if existing is None or existing.owner != caller.owner:
            return None
        if not _same_request(existing, request):
            return None
        return replace(await self._accepted(existing), replayed=True)

    async def _replay(self, caller: Caller, holder: str, request: EnqueueRequest) -> JobAccepted:
        existing = await self._log.get(holder)
        if existing is None or existing.owner != caller.owner:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed",
                code="idempotency_in_progress",
            )
        if not _same_request(existing, request):
            raise Conflict(
                "this Idempotency-Key was used for a different request",
                code="idempotency_key_reused",
            )
        return replace(await self._accepted(existing), replayed=True)

    async def _confirm(self, owner: str, key: str, job_id: str) -> None:
        """Make the key's claim permanent before the job is sent; a claim that was taken over
        (its lease ran out before we got here) means another request owns the key now: this
        job ends unsent and the caller is told the key is in use."""
        try:
            confirmed = await self._keys.confirm(owner, key, job_id)
        except BaseException:
            await self._fail_unsent(job_id)
            await self._release(owner, key, job_id)
            raise
        if not confirmed:
            logger.warning("job %s: its idempotency claim was taken over; not sent", job_id)
            await self._fail_unsent(job_id, CLAIM_LOST)
            raise Conflict(
                "a request with this Idempotency-Key is still being processed",
                code="idempotency_in_progress",
            )

    async def _end_abandoned(self, owner: str, job_id: str) -> None:
        """We took the key over from a claim never confirmed: if that request got as far as
        recording its job, the job was never sent (sending needs the confirm) and nobody
        will; end it rather than leave it `queued` forever."""
        try:
            job = await self._log.get(job_id)
            if job is None or job.owner != owner:
                return
            draft = EventDraft(
                JobStatus.FAILED, 0, Stage.QUEUED, "The job was never queued", error=ABANDONED
            )
            await self._log.append(
                job_id, lambda current: draft if current.status is JobStatus.QUEUED else None
            )
        except Exception as exc:  # best effort: the new job goes ahead regardless
            logger.warning("job %s: could not end the abandoned job: %r", job_id, exc)

    async def _fail_unsent(self, job_id: str, error: JobError = ENQUEUE_FAILED) -> None:
        draft = EventDraft(
            JobStatus.FAILED, 0, Stage.QUEUED, "The job could not be queued", error=error
        )
        try:
            await self._log.append(job_id, lambda _job: draft)
        except Exception as exc:  # the log may be down too; the 503 still goes out
            logger.warning("job %s: could not record enqueue_failed: %r", job_id, exc)

    async def _release(self, owner: str, key: str | None, job_id: str) -> None:
        if key is None:
            return
        try:
            await self._keys.release(owner, key, job_id)
        except Exception as exc:
            logger.warning("job %s: could not release its idempotency key: %r", job_id, exc)

    async def _accepted(self, job: Job) -> JobAccepted:
        return JobAccepted(
            job_id=job.job_id,
            status=job.status,
            queue_name=job.queue_name,
            job_name=job.job_name,
            status_url=status_url(job.job_id),
            stream_url=stream_url(job.job_id),
            stream_token=await self._tokens.issue(job.owner, job.job_id),
        )

    # --- status and cancel ----------------------------------------------------------------

    async def status(self, caller: Caller, job_id: str) -> Job:
        """The caller's job; NotFound when it is unknown, someone else's or out of scope."""
        if not JOB_ID.fullmatch(job_id):
            raise NotFound("job not found")
        job = await self._log.get(job_id)
        if job is None or not caller.may_read(job.job_id, job.owner):
            raise NotFound("job not found")
        return job

    async def cancel(self, caller: Caller, job_id: str) -> Job:
        """Queued: ends `cancelled` now. Running: flags it; the worker stops at its next
        checkpoint. Already ended: Conflict."""
        if not caller.may_write:
            raise Unauthenticated("a stream token cannot cancel jobs", code="read_only_token")
        job = await self.status(caller, job_id)
        if job.is_terminal:
            raise Conflict(f"job already {job.status}", code="job_finished")

        def cancel_if_queued(current: Job) -> EventDraft | None:
            if current.status is not JobStatus.QUEUED:
                return None
            return EventDraft(
                JobStatus.CANCELLED, current.progress, Stage.DONE, "Cancelled before it started"
            )

        try:
            job, event = await self._log.append(job_id, cancel_if_queued)
            if event is not None:
                return job
            if job.is_terminal:
                raise Conflict(f"job already {job.status}", code="job_finished")
            return await self._log.request_cancel(job_id)
        except JobMissing:
            raise NotFound("job not found") from None

    async def queue_stats(self, caller: Caller, queue_name: str) -> QueueCounts:
        if caller.is_stream_token:
            raise Unauthenticated("a stream token only reads its own job", code="read_only_token")
        if queue_name not in self._policy.queues:
            raise NotFound(f"unknown queue {queue_name[:64]!r}", code="unknown_queue")
        return await self._stats.counts(queue_name)
