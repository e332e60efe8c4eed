"""Jobs and their event log: statuses, transitions, and the event a writer appends.

A job's state is the fold of its events. Writers (the API, the worker, a redelivered worker)
describe what they want recorded as an `EventDraft`; `Job.record` decides whether it may be
recorded and produces the next `Job` and the stored `JobEvent` with the next sequence number.
The event log adapter runs `record` under optimistic concurrency, so the sequence is gapless.
"""

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from function_app.domain.errors import TransitionRefused
from function_app.domain.tracing import TraceContext

# Job ids are uuid4 hex; anything that does not look like one cannot be a job (no lookup).
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(text: str) -> bool:
    return _JOB_ID.fullmatch(text) is not None


class JobStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class Stage(StrEnum):
    """The stages a job goes through; job types report progress in these."""

    QUEUED = "queued"
    INITIALIZING = "initializing"
    FETCHING = "fetching"
    PARSING = "parsing"
    ANALYZING = "analyzing"
    STORING = "storing"
    DONE = "done"


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    retryable: bool = False


@dataclass(frozen=True, kw_only=True)
class EventNotes:
    """What an event may say besides its status, progress, stage and message: a draft's as the
    writer asks, a stored event's as recorded (keyword-only fields of both)."""

    phase: str | None = None
    detail: str | None = None
    eta_seconds: int | None = None
    result: Mapping[str, Any] | None = None
    error: JobError | None = None
    # The label of the job type's current step ("Reading the file"), shown as `currentStep`.
    step: str | None = None
    # The worker instance that runs this attempt (on `started` events).
    worker: str | None = None
    # A sub-step log line (a "thought"): `phase` is its machine key, `message` its text. It
    # changes nothing of the job's state (progress, stage, step, phase, detail, message).
    log: bool = False


# The notes' field names: a stored event carries its draft's notes as written.
NOTE_FIELDS = tuple(f.name for f in fields(EventNotes))


@dataclass(frozen=True)
class EventDraft(EventNotes):
    """What a writer asks to record. Sequence and timestamp are assigned by the log."""

    status: JobStatus
    progress: int
    stage: str
    message: str

    def __post_init__(self) -> None:
        if not 0 <= self.progress <= 100:
            raise ValueError(f"progress must be 0-100, got {self.progress}")
        if self.log and self.status is not JobStatus.IN_PROGRESS:
            raise ValueError(f"a log event is in_progress, not {self.status}")
        if self.log and (self.eta_seconds, self.result, self.error, self.worker) != (None,) * 4:
            raise ValueError("a log event carries no eta, result, error or worker")


@dataclass(frozen=True)
class JobEvent(EventNotes):
    """One stored event. `sequence` starts at 1 and has no gaps within a job."""

    job_id: str
    sequence: int
    timestamp: datetime
    status: JobStatus
    progress: int
    stage: str
    message: str
    attempt: int = 0
    # The trace it was recorded in: its job's (None: stored before traces were kept).
    trace_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


# What a job shows of the last event it recorded (a log line changes only the status).
_SHOWN_FROM_EVENT = ("status", "progress", "stage", "message", "step", "phase", "detail")


@dataclass(frozen=True)
class Job:
    job_id: str
    owner: str
    queue_name: str
    job_name: str
    data: Mapping[str, Any]
    created_at: datetime
    status: JobStatus = JobStatus.QUEUED
    progress: int = 0
    stage: str = Stage.QUEUED
    message: str = ""
    # The current step's label, phase label and detail, as the last progress event said.
    step: str | None = None
    phase: str | None = None
    detail: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # When its last event was recorded (None: never, or stored before the field existed).
    updated_at: datetime | None = None
    attempts: int = 0
    last_event_id: int = 0
    result: Mapping[str, Any] | None = None
    error: JobError | None = None
    cancel_requested: bool = False
    idempotency_key: str | None = None
    # The ETag of the upload as enqueue validated it (an opaque string): the worker reads
    # only that version. None when the upload store cannot tell versions.
    upload_etag: str | None = None
    # The upload the job runs on, as enqueue chose it (data may name it by fileName only).
    blob_name: str | None = None
    # The enqueue's span (W3C trace context): the worker's run is its child, and every event
    # records its trace id. None for a job recorded before traces were kept.
    trace: TraceContext | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def trace_id(self) -> str | None:
        return None if self.trace is None else self.trace.trace_id

    def record(self, draft: EventDraft, at: datetime) -> tuple["Job", JobEvent]:
        """Apply a draft: the next job state and the event to store with the next sequence.

        Rules: nothing is recorded after a terminal event; `started` begins a new attempt
        (progress may restart there); within an attempt progress never goes backwards; a log
        event changes only the status and the last event id (it carries the current
        progress, stage and step).
        """
        if self.is_terminal:
            raise TransitionRefused(f"job {self.job_id} already ended {self.status}")
        sequence = self.last_event_id + 1
        if draft.log:
            event = self._event(
                draft, sequence, at, self.attempts, self.progress, self.stage, self.step
            )
            return replace(self, status=draft.status, last_event_id=sequence, updated_at=at), event
        new_attempt = draft.status is JobStatus.STARTED
        attempts = self.attempts + 1 if new_attempt else self.attempts
        progress = draft.progress if new_attempt else max(self.progress, draft.progress)
        if draft.status is JobStatus.COMPLETED:
            progress = 100
        event = self._event(draft, sequence, at, attempts, progress, draft.stage, draft.step)
        job = replace(
            self,
            **{name: getattr(event, name) for name in _SHOWN_FROM_EVENT},
            attempts=attempts,
            last_event_id=sequence,
            started_at=self.started_at or (at if new_attempt else None),
            completed_at=at if draft.status.is_terminal else None,
            updated_at=at,
            result=draft.result if draft.result is not None else self.result,
            error=draft.error if draft.error is not None else self.error,
        )
        return job, event

    def _event(
        self,
        draft: EventDraft,
        sequence: int,
        at: datetime,
        attempt: int,
        progress: int,
        stage: str,
        step: str | None,
    ) -> JobEvent:
        """The stored event of `draft`: the draft as written (its notes all carried over),
        numbered and timed, with the attempt, progress, stage and step the rules of `record`
        decided."""
        notes: dict[str, Any] = {name: getattr(draft, name) for name in NOTE_FIELDS}
        notes["step"] = step
        return JobEvent(
            job_id=self.job_id,
            sequence=sequence,
            timestamp=at,
            status=draft.status,
            progress=progress,
            stage=stage,
            message=draft.message,
            attempt=attempt,
            trace_id=self.trace_id,
            **notes,
        )

    def record_decided(
        self, decide: Callable[["Job"], EventDraft | None], now: Callable[[], datetime]
    ) -> tuple["Job", JobEvent] | None:
        """What an event log's `append` records: `decide`'s draft, recorded at `now()`.

        None when `decide` declines or the transition is refused (the job already ended).
        """
        draft = decide(self)
        if draft is None:
            return None
        try:
            return self.record(draft, now())
        except TransitionRefused:
            return None


@dataclass(frozen=True)
class EnqueueRequest:
    """What a caller asks to run. Two requests with the same fields are the same request:
    an Idempotency-Key answers a repeat from its job only for the same request."""

    queue_name: str
    job_name: str
    data: Mapping[str, Any]

    def made(self, job: Job) -> bool:
        """Whether `job` was recorded for this very request."""
        return (job.queue_name, job.job_name, dict(job.data)) == (
            self.queue_name,
            self.job_name,
            dict(self.data),
        )
