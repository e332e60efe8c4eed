"""The small interfaces (ports) services use; one adapter per Azure service implements them.

Services and the domain depend only on these Protocols. Adapters live in
`function_app.adapters` (one file per Azure service); in-memory fakes for unit tests live in
`tests/fakes.py` and are held honest by contract tests under `tests/contract/` that run the
same assertions against the real adapters (Azurite, the Service Bus emulator).

(Over 300 lines on purpose: this is the one list of everything a service may depend on,
each port with the exceptions its adapters raise, grouped by the Azure service behind them.
Each part is a short Protocol; split over files, the list a reader checks first would be
scattered.)
"""

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from function_app.domain.durations import Durations, RunSample
from function_app.domain.errors import DependencyUnavailable
from function_app.domain.feed import FeedEntry, FeedMark
from function_app.domain.idempotency import KeyClaim
from function_app.domain.jobs import EventDraft, Job, JobEvent, JobStatus
from function_app.domain.queue_overview import QueueTally, WorkerBeat
from function_app.domain.sweeping import OpenJob
from function_app.domain.tracing import SpanKind, TraceContext


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        ...


# --- Blob Storage -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BlobInfo:
    """What the store says about one blob. `etag` names this version of its content: an
    opaque string (None when a store cannot tell), passed back to `UploadStore.read`."""

    name: str
    size: int
    content_type: str | None
    etag: str | None = None
    last_modified: datetime | None = None
    # "BlockBlob", "AppendBlob" or "PageBlob" (`domain.uploads.BLOCK_BLOB`, ...): the upload
    # URL can create any of them; only a block blob is an upload.
    blob_type: str = "BlockBlob"
    # The SHA-256 (lowercase hex) the uploader declared with the PUT (metadata `sha256`,
    # `domain.uploads.SHA256_METADATA`), else None. A claim to verify, not a verified digest.
    sha256: str | None = None
    # In a listing with snapshots: the snapshot's time stamp (None for the blob itself).
    snapshot: str | None = None


class UploadSigner(Protocol):
    """Issues a URL that allows creating exactly one new blob, and nothing else."""

    async def sign_upload(
        self, blob_name: str, content_type: str | None, expires_at: datetime
    ) -> str:
        """A create/write-only SAS URL for `blob_name` in the uploads container."""
        ...


class UploadStore(Protocol):
    """Reads uploaded blobs, and deletes the ones that are refused or never used."""

    async def describe(self, blob_name: str) -> BlobInfo | None:
        """Size and content type, or None when the blob does not exist."""
        ...

    def read(
        self, blob_name: str, chunk_size: int = 256 * 1024, *, etag: str | None = None
    ) -> AsyncIterator[bytes]:
        """The blob's bytes as a stream of chunks. Raises BlobMissing if it is gone.

        With `etag` (from `describe`), only that version is read: if the blob's content has
        changed since, or changes while it streams, raises BlobChanged.
        """
        ...

    async def list_uploads(
        self, prefix: str, limit: int, *, snapshots: bool = False
    ) -> list[BlobInfo]:
        """The blobs whose names start with `prefix`, at most `limit` (any order). With
        `snapshots`, each blob's snapshots too (entries whose `snapshot` is set)."""
        ...

    async def head(self, blob_name: str, length: int, *, etag: str | None = None) -> bytes:
        """The blob's first `length` bytes (fewer when it is shorter), one ranged read.
        Raises BlobMissing; with `etag`, BlobChanged when the blob is another version."""
        ...

    async def delete(self, blob_name: str, *, snapshots_only: bool = False) -> bool:
        """Delete the blob with all its snapshots (`snapshots_only`: only its snapshots);
        False when there was no blob."""
        ...


class Uploads(UploadSigner, UploadStore, Protocol):
    """The uploads container: presigned URLs in, the worker's reads out (one adapter)."""


class BlobMissing(Exception):
    """The blob does not exist (any more)."""


class BlobChanged(Exception):
    """The blob is no longer the version the reader named (its ETag moved)."""


class UploadClaims(Protocol):
    """Which job first used an upload: an enqueue that names its upload by file name takes
    the newest one no job has used (`domain.uploads`)."""

    async def used_by(self, blob_name: str) -> str | None:
        """The job id that claimed `blob_name`, or None."""
        ...

    async def claim(self, blob_name: str, job_id: str) -> bool:
        """Record `job_id` as the blob's user; False when a job had claimed it already."""
        ...

    async def release(self, blob_name: str, job_id: str) -> None:
        """Drop `job_id`'s claim (its job was never queued); anyone else's is left alone."""
        ...


# --- Table Storage: the event log ---------------------------------------------------------------


class JobAlreadyExists(Exception):
    """A job with this id is already recorded."""


class JobMissing(Exception):
    """No job with this id."""


class ValueTooLarge(ValueError):
    """A value does not fit the store's documented limits (nothing was written)."""


class ConcurrencyExhausted(DependencyUnavailable):
    """Too many concurrent writers: a conditional write lost its race too many times.

    Reported as storage being unavailable (503 to a caller, a retry for the worker)."""

    def __init__(self, message: str) -> None:
        super().__init__("storage", message)


class EventLog(Protocol):
    """Jobs and their events, one partition per job, sequence assigned under ETag concurrency."""

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        """Store a new job with its first event (sequence 1), atomically.

        Raises JobAlreadyExists when the id is taken.
        """
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        """Append the event `decide(current_job)` returns, with the next sequence number.

        Reads the job, calls `decide`, and writes job record + event atomically on the ETag
        it read; on a concurrent write it re-reads and calls `decide` again. `decide` returning
        None (or the job refusing the transition) records nothing: returns (job, None).
        Raises JobMissing for an unknown job.
        """
        ...

    async def request_cancel(self, job_id: str) -> Job:
        """Set the job's cancel flag (under ETag). Raises JobMissing."""
        ...

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        """Stored events with sequence > after, ascending, at most `limit`."""
        ...


class CallerFeed(Protocol):
    """Every event of an owner's jobs in one ordered feed (`domain.feed`): one range query
    finds all of a caller's recent events. Positions are unique within an owner's feed."""

    async def mark(self, owner: str, job_id: str) -> FeedMark | None:
        """How far the job's events are in the feed; None when none are."""
        ...

    async def extend(
        self, owner: str, mark: FeedMark | None, job: Job, events: Sequence[JobEvent]
    ) -> FeedMark | None:
        """Add `events` (the job's next ones after `mark.through`, in order, at most
        `MAX_FEED_BATCH`) at fresh positions after both the store's clock and
        `mark.last_position`, and move the mark past them, atomically and only if the
        stored mark is still `mark` (None: absent). Returns the new mark, or None when the
        stored mark changed (read it again). A position another job holds is skipped."""
        ...

    async def after(self, owner: str, position: int, limit: int) -> list[FeedEntry]:
        """Entries with a position greater than `position`, ascending, at most `limit`."""
        ...

    async def positions(self, owner: str, low: int, high: int) -> list[int]:
        """The positions in (low, high], ascending (a cheap scan for late arrivals)."""
        ...

    async def unfinished(self, owner: str) -> list[FeedMark]:
        """The marks of the owner's jobs whose terminal event is not in the feed yet."""
        ...


MAX_FEED_BATCH = 99  # events per `extend` (one transaction: 100 operations with the mark)


class OpenJobs(Protocol):
    """The index of jobs that may not have ended (`domain.sweeping`), for the sweeper: it is
    read whole on each sweep, so nothing scans the jobs themselves."""

    async def put(self, entry: OpenJob) -> None:
        """List the job (or replace its entry, e.g. once it is sent)."""
        ...

    async def remove(self, job_id: str) -> None:
        """Forget the job (nothing when it is not listed)."""
        ...

    async def entries(self, limit: int) -> list[OpenJob]:
        """The entries, oldest recorded first; when more than `limit` are listed, a store
        may answer any `limit` of them (the rest wait for a sweep that finds fewer)."""
        ...


class QueueCounters(Protocol):
    """How many jobs the workers ended, by outcome, and how long they ran (queue-wide counts
    for seed 000's `queue-stats`; `domain.queue_overview.QueueTally`)."""

    async def count(self, queue_name: str, status: JobStatus, seconds: float | None) -> None:
        """Count one job that ended `status` in `queue_name` after running `seconds` (None:
        it never started). Concurrent counts all land."""
        ...

    async def totals(self) -> QueueTally:
        """The tally over every queue."""
        ...


class WorkerPresence(Protocol):
    """The worker instances' heartbeats (`domain.queue_overview.WorkerBeat`)."""

    async def beat(self, beat: WorkerBeat) -> None:
        """Store the instance's latest beat (replacing its previous one)."""
        ...

    async def recent(self, since: datetime) -> list[WorkerBeat]:
        """Every instance's latest beat, of those seen at or after `since`."""
        ...


class IdempotencyKeys(Protocol):
    """Remembers which job an (owner, Idempotency-Key) pair created.

    A claim starts unconfirmed, leased for `domain.idempotency.CLAIM_LEASE`; `confirm` makes
    it permanent once the job is recorded. An unconfirmed claim past its lease may be taken
    over by the next `claim` (conditionally on the stored claim: one taker wins).
    """

    async def claim(self, owner: str, key: str, job_id: str, now: datetime | None = None) -> str:
        """Claim the key for `job_id` at `now` (default: the store's clock).

        Returns the job id that holds the key: ours (a new claim, or an abandoned one taken
        over), or the current holder's.
        """
        ...

    async def lookup(self, owner: str, key: str) -> KeyClaim | None:
        """The key's claim, or None. Read-only."""
        ...

    async def confirm(self, owner: str, key: str, job_id: str) -> bool:
        """Make our claim permanent (our job is recorded). False: the claim is not ours any
        more (it was taken over after its lease expired, or released)."""
        ...

    async def release(self, owner: str, key: str, job_id: str) -> None:
        """Drop our claim (the job could not be created)."""
        ...


class SecretStore(Protocol):
    """Small app secrets generated at run time (the stream-token key), never configured."""

    async def get_or_create(self, name: str, factory: Callable[[], bytes]) -> bytes: ...


class StepDurations(Protocol):
    """What past runs of each job type took, step by step (`domain.durations`): read when a
    job starts or is enqueued (ETAs, queue wait), learned from when a job completes."""

    async def get(self, job_name: str) -> Durations:
        """The job type's learned durations; empty `Durations()` when nothing is known."""
        ...

    async def learn(self, job_name: str, sample: RunSample) -> Durations:
        """Fold one completed run into the job type's durations (`Durations.learn`), under
        optimistic concurrency: concurrent learners each get their sample in. Returns the
        stored result."""
        ...


# --- Service Bus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    queue_name: str
    active: int
    dead_letter: int
    scheduled: int


class JobQueue(Protocol):
    async def send(
        self,
        queue_name: str,
        job_id: str,
        body: Mapping[str, Any],
        *,
        trace: TraceContext | None = None,
    ) -> None:
        """Send one message with MessageId = job_id (the broker drops a duplicate send).

        `trace` (the sending span) travels in the message's application properties as the
        Service Bus SDK's own tracing writes it: `Diagnostic-Id` and `traceparent`."""
        ...


class QueueStats(Protocol):
    async def counts(self, queue_name: str) -> QueueCounts: ...


# --- health -------------------------------------------------------------------------------------


class HealthProbe(Protocol):
    """A dependency the app needs. `check` raises DependencyUnavailable when it is down."""

    name: str

    async def check(self) -> None: ...


# --- tracing (OpenTelemetry) --------------------------------------------------------------------

SpanValue = str | int | float | bool


class Span(Protocol):
    """One open span: its place in the trace, and attributes to add while it runs."""

    @property
    def context(self) -> TraceContext: ...

    def set_attribute(self, key: str, value: SpanValue) -> None: ...


class Tracer(Protocol):
    """Opens spans (`domain.tracing`). A span without `parent` is a child of the span open
    around it in this task, else the first of a new trace; with `parent` (a traceparent from a
    request or a message), a child of that one. An exception that leaves the span marks it
    failed and goes on. Never raises for telemetry's sake."""

    def span(
        self,
        name: str,
        *,
        parent: TraceContext | None = None,
        kind: SpanKind = "internal",
        attributes: Mapping[str, SpanValue] | None = None,
    ) -> AbstractContextManager[Span]: ...
