"""What a job type sees while it runs: `RunContext` implements `JobContext` for the worker.

`job_upload` finds the upload a job runs on (the version enqueue validated, within the size
bound). The context streams it (never past its size) reporting read progress, records the
job type's progress and log lines with the step label, phase label, detail and the ETA
learned from past runs, times each step for the run's `RunSample`, and answers checkpoints
(cancel requested).
"""

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from function_app.domain.durations import Durations, RunSample, eta_seconds, remaining_seconds
from function_app.domain.errors import AttemptSuperseded, JobCancelled, PermanentJobError
from function_app.domain.jobs import EventDraft, Job, JobError, JobStatus, Stage
from function_app.jobtypes.steps import DOWNLOAD, Step, Steps
from function_app.ports import BlobInfo, Clock, EventLog, UploadStore

FETCH_START = 5
FETCH_END = 40
# Report read progress each time another 5 % of the file has arrived.
FETCH_REPORT_FRACTION = 0.05
# Event messages stay short (the event log bounds text columns).
MAX_MESSAGE_CHARS = 1000


def event_draft(
    status: JobStatus,
    stage: str,
    message: str,
    error: JobError | None = None,
    *,
    progress: int = 0,
    result: Mapping[str, Any] | None = None,
    step: str | None = None,
    worker: str | None = None,
) -> EventDraft:
    if error is not None and len(error.message) > MAX_MESSAGE_CHARS:
        error = JobError(error.code, error.message[:MAX_MESSAGE_CHARS], error.retryable)
    return EventDraft(
        status,
        progress,
        stage,
        message[:MAX_MESSAGE_CHARS],
        error=error,
        result=result,
        step=step,
        worker=worker,
    )


def unless_ended(draft: EventDraft) -> Callable[[Job], EventDraft | None]:
    """A `decide` for EventLog.append: record `draft` unless the job has ended."""
    return lambda job: None if job.is_terminal else draft


def in_attempt(attempt: int, draft: EventDraft) -> Callable[[Job], EventDraft | None]:
    """A `decide` for one attempt's writes (the fence): record `draft` unless the job has
    ended; raise AttemptSuperseded when a later delivery started a newer attempt. The log
    decides on the job it just read and writes on that read's ETag, so a newer attempt's
    `started` either lands first (this write is refused) or after (it is recorded before)."""

    def decide(job: Job) -> EventDraft | None:
        if job.attempts != attempt:
            raise AttemptSuperseded(job.job_id, attempt, job.attempts)
        return None if job.is_terminal else draft

    return decide


def upload_changed() -> PermanentJobError:
    return PermanentJobError(
        "upload_changed", "the uploaded file was replaced after the job was enqueued"
    )


async def job_upload(uploads: UploadStore, job: Job, max_bytes: int) -> BlobInfo:
    """The upload `job` runs on, pinned to the version enqueue validated (`job.upload_etag`),
    or the PermanentJobError that ends the job: gone, replaced, or over `max_bytes`."""
    blob_name = job.blob_name or job.data.get("blobName")
    blob = await uploads.describe(blob_name) if isinstance(blob_name, str) else None
    if blob is None:
        raise PermanentJobError("blob_missing", "the uploaded file no longer exists")
    if job.upload_etag is not None:
        # The upload URL may rewrite its blob until it expires: read only the version
        # enqueue validated (a store that cannot tell versions records no ETag).
        if blob.etag is not None and blob.etag != job.upload_etag:
            raise upload_changed()
        blob = replace(blob, etag=job.upload_etag)
    if blob.size > max_bytes:
        raise PermanentJobError(
            "file_too_large", f"the upload is {blob.size} bytes; the limit is {max_bytes}"
        )
    return blob


class RunContext:
    """What a job type sees while it runs (implements `JobContext`).

    `read` streams exactly the blob version `blob.etag` names (the one enqueue validated) and
    never more than `blob.size` bytes. Each progress event names the step of its stage (from
    the job type's `steps`) and carries the ETA; the context times each step for `sample`.
    """

    def __init__(
        self,
        job: Job,
        blob: BlobInfo,
        log: EventLog,
        uploads: UploadStore,
        *,
        steps: Steps,
        durations: Durations,
        clock: Clock,
    ) -> None:
        """`job`: as its attempt's `started` event left it (`job.attempts` is this attempt)."""
        self.job_id = job.job_id
        self.attempt = job.attempts
        self.data: Mapping[str, Any] = job.data
        self.blob = blob
        self._log = log
        self._uploads = uploads
        self._steps = steps
        self._durations = durations
        self._clock = clock
        self._began = clock.now()
        self._current: Step | None = None
        self._step_began = self._began
        self._timings: dict[str, float] = {}

    async def read(self, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        total = max(self.blob.size, 1)
        done = 0
        reported = 0.0
        await self._report_read(FETCH_START, 0, 0.0)
        chunks = self._uploads.read(self.blob.name, chunk_size, etag=self.blob.etag)
        async for chunk in chunks:
            done += len(chunk)
            if done > self.blob.size:  # only a store ignoring the ETag gets here
                raise upload_changed()
            fraction = min(done / total, 1.0)
            if fraction - reported >= FETCH_REPORT_FRACTION or (fraction >= 1.0 > reported):
                reported = fraction
                pct = FETCH_START + round((FETCH_END - FETCH_START) * fraction)
                await self._report_read(pct, done, fraction)
            yield chunk

    async def _report_read(self, percent: int, done: int, fraction: float) -> None:
        size = self.blob.size
        message, detail = f"Read {done} of {size} bytes", f"{done:,} of {size:,} bytes"
        await self._report(Stage.FETCHING, percent, message, DOWNLOAD.key, fraction, detail)

    async def progress(
        self,
        stage: Stage,
        percent: int,
        message: str,
        *,
        phase: str | None = None,
        detail: str | None = None,
    ) -> None:
        await self._report(stage, percent, message, phase, None, detail)

    async def log(self, phase: str, message: str) -> None:
        draft = EventDraft(
            JobStatus.IN_PROGRESS, 0, Stage.INITIALIZING, message[:MAX_MESSAGE_CHARS],
            phase=phase[:MAX_MESSAGE_CHARS], log=True,
        )  # fmt: skip
        await self._log.append(self.job_id, in_attempt(self.attempt, draft))

    async def _report(
        self,
        stage: Stage,
        percent: int,
        message: str,
        phase: str | None,
        fraction: float | None,
        detail: str | None = None,
    ) -> None:
        step = self._enter(stage)
        draft = EventDraft(
            JobStatus.IN_PROGRESS,
            max(0, min(percent, 99)),
            stage,
            message[:MAX_MESSAGE_CHARS],
            phase=phase if step is None else step.phase_label(phase),
            detail=None if detail is None else detail[:MAX_MESSAGE_CHARS],
            eta_seconds=self._eta(stage, fraction),
            step=None if step is None else step.label,
        )
        await self._log.append(self.job_id, in_attempt(self.attempt, draft))

    def _enter(self, stage: Stage) -> Step | None:
        """The declared step of `stage`; entering a new one ends the timing of the last."""
        step = self._steps.get(stage)
        if step is not None and step is not self._current:
            now = self._clock.now()
            self._close(now)
            self._current, self._step_began = step, now
        return step

    def _close(self, now: datetime) -> None:
        if self._current is not None:
            seconds = (now - self._step_began).total_seconds()
            stage = str(self._current.stage)
            self._timings[stage] = self._timings.get(stage, 0.0) + seconds

    def _eta(self, stage: Stage, fraction: float | None) -> int | None:
        elapsed = (self._clock.now() - self._step_began).total_seconds()
        remaining = remaining_seconds(
            self._durations,
            self._steps.from_(stage),
            self.blob.size,
            elapsed=elapsed,
            fraction_done=fraction,
        )
        return eta_seconds(remaining)

    def sample(self) -> RunSample:
        """The run's step timings once it has returned (the last step ends now)."""
        now = self._clock.now()
        self._close(now)
        self._current = None
        return RunSample(
            size=self.blob.size,
            steps=dict(self._timings),
            total_seconds=(now - self._began).total_seconds(),
        )

    async def checkpoint(self) -> None:
        job = await self._log.get(self.job_id)
        if job is not None and job.attempts != self.attempt:
            raise AttemptSuperseded(self.job_id, self.attempt, job.attempts)
        if job is None or job.cancel_requested or job.is_terminal:
            raise JobCancelled(self.job_id)
