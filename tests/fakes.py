"""In-memory fakes behind the ports in `function_app.ports`, for unit tests: the only fakes.

Each fake keeps the semantics of the real part it stands in for, and the contract tests under
`tests/contract/` run the same assertions against both (Azurite, the Service Bus emulator):
FakeEventLog against the table adapter (event log, idempotency keys and secrets, and reads
while storage is down), FakeIdempotencyKeys and FakeSecretStore likewise, FakeUploads
against Blob Storage, FakeJobQueue against Service Bus, FakeQueueStats against the
emulator's statistics, FakeProbe against the storage and Service Bus probes, FixedClock and
VirtualClock against the system clock, and VirtualClock's sleep against asyncio's.
"""

import asyncio
import heapq
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from function_app.adapters.otel_tracing import OpenTelemetryTracer
from function_app.bootstrap import Services, wire_services
from function_app.domain.durations import Durations, RunSample
from function_app.domain.errors import DependencyUnavailable, InvalidRequest, NotFound
from function_app.domain.feed import FeedEntry, FeedMark, mark_moved, position_at
from function_app.domain.idempotency import KeyClaim, new_claim
from function_app.domain.jobs import EventDraft, Job, JobEvent, JobStatus
from function_app.domain.queue_overview import QueueTally, WorkerBeat
from function_app.domain.sweeping import OpenJob
from function_app.domain.tracing import TraceContext
from function_app.domain.uploads import (
    BLOCK_BLOB,
    declared_sha256,
    new_upload_id,
    upload_blob_name,
)
from function_app.jobtypes.base import JobType
from function_app.jobtypes.registry import build_registry
from function_app.ports import (
    MAX_FEED_BATCH,
    BlobChanged,
    BlobInfo,
    BlobMissing,
    JobAlreadyExists,
    JobMissing,
    QueueCounts,
    Uploads,
)
from function_app.settings import DEFAULT_QUEUES, Settings


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class VirtualClock:
    """Virtual time for code that takes a `monotonic` clock and its `sleep` (the stream hub).

    `sleep(seconds)` parks the caller until virtual time reaches its deadline. Time moves
    only when nothing else on the event loop can run: then it jumps to the earliest
    deadline and wakes that one sleeper (equal deadlines in call order), and so on. So a
    sleep takes no real time, every run is the same, and the code sees exactly the
    intervals it asked for. A cancelled sleep is forgotten (time never jumps to it).

    Also a `Clock`: `now()` is `start` plus the virtual seconds elapsed.

    Only for code that awaits nothing but in-memory things (fakes): while real I/O or a
    real timer is pending the loop looks idle, and virtual time would jump past it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._jumper: asyncio.Handle | None = None

    # Every clock's pending jump (all clocks share the one event loop of a test session).
    _jumpers: ClassVar[set[asyncio.Handle | None]] = set()

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._elapsed)

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if not hasattr(loop, "_ready"):
            raise RuntimeError("VirtualClock needs asyncio's own event loop")
        wake: asyncio.Future[None] = loop.create_future()
        deadline = self._elapsed + max(seconds, 0.0)
        heapq.heappush(self._sleepers, (deadline, next(self._order), wake))
        if self._jumper is None:
            self._schedule(loop)
        await wake

    def _jump(self, loop: asyncio.AbstractEventLoop) -> None:
        self._jumpers.discard(self._jumper)
        # The loop's queue of callbacks ready to run (CPython's asyncio keeps it in `_ready`):
        # while anything else can run, it runs first. Other clocks' jumps do not count (two
        # clocks would otherwise wait for each other forever).
        ready = loop._ready  # type: ignore[attr-defined]
        if any(handle not in self._jumpers for handle in ready):
            self._schedule(loop)
            return
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled
        if not self._sleepers:
            self._jumper = None
            return
        deadline, _, wake = heapq.heappop(self._sleepers)
        self._elapsed = max(self._elapsed, deadline)
        wake.set_result(None)
        self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._jumper = loop.call_soon(self._jump, loop)
        self._jumpers.add(self._jumper)


class InMemoryKeyClaims:
    """`IdempotencyKeys` over a dict, with the adapter's lease rules (`KeyClaim`): an
    unconfirmed claim past its lease is taken over by the next claim; confirm fails once the
    claim is someone else's. Every step is one synchronous block, so concurrent callers see
    each other's claims as the ETag-guarded table writes make them."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.keys: dict[tuple[str, str], KeyClaim] = {}
        self.writes = 0

    async def claim(self, owner: str, key: str, job_id: str, now: datetime | None = None) -> str:
        now = now or self._clock()
        current = self.keys.get((owner, key))
        if current is not None and (current.job_id == job_id or not current.is_abandoned(now)):
            return current.job_id
        self.keys[(owner, key)] = new_claim(job_id, now)
        self.writes += 1
        return job_id

    async def lookup(self, owner: str, key: str) -> KeyClaim | None:
        return self.keys.get((owner, key))

    async def confirm(self, owner: str, key: str, job_id: str) -> bool:
        current = self.keys.get((owner, key))
        if current is None or current.job_id != job_id:
            return False
        if not current.confirmed:
            self.keys[(owner, key)] = replace(current, confirmed=True)
            self.writes += 1
        return True

    async def release(self, owner: str, key: str, job_id: str) -> None:
        current = self.keys.get((owner, key))
        if current is not None and current.job_id == job_id:
            del self.keys[(owner, key)]


class FakeEventLog(InMemoryKeyClaims):
    """EventLog + IdempotencyKeys + SecretStore in memory, like the one-table adapter.

    For tests: `add_job` and `record` write at once (no await), `reads` lists every
    `events_after(job_id, after)` asked, and `unavailable_reads = n` makes the next n event
    reads fail as the adapter does when storage is down (`DependencyUnavailable("storage")`).
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(clock)
        self.jobs: dict[str, Job] = {}
        self.events: dict[str, list[JobEvent]] = {}
        self.secrets: dict[str, bytes] = {}
        self.reads: list[tuple[str, int]] = []
        self.unavailable_reads = 0
        self._lock = asyncio.Lock()

    # --- EventLog ---------------------------------------------------------------------------

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        async with self._lock:
            if job.job_id in self.jobs:
                raise JobAlreadyExists(job.job_id)
            recorded, event = job.record(first, self._clock())
            self.jobs[job.job_id] = recorded
            self.events[job.job_id] = [event]
            self.writes += 1
            return recorded, event

    async def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        async with self._lock:
            return self._append_now(job_id, decide)

    def _append_now(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobMissing(job_id)
        decided = job.record_decided(decide, self._clock)
        if decided is None:
            return job, None
        recorded, event = decided
        self.jobs[job_id] = recorded
        self.events[job_id].append(event)
        self.writes += 1
        return recorded, event

    async def request_cancel(self, job_id: str) -> Job:
        async with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise JobMissing(job_id)
            if job.cancel_requested:
                return job
            flagged = replace(job, cancel_requested=True)
            self.jobs[job_id] = flagged
            self.writes += 1
            return flagged

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        self.reads.append((job_id, after))
        if self.unavailable_reads > 0:
            self.unavailable_reads -= 1
            raise DependencyUnavailable("storage", "table storage is down (fake)")
        if limit <= 0:
            return []
        return [e for e in self.events.get(job_id, []) if e.sequence > after][:limit]

    # --- SecretStore ------------------------------------------------------------------------

    async def get_or_create(self, name: str, factory: Callable[[], bytes]) -> bytes:
        async with self._lock:
            if name not in self.secrets:
                self.secrets[name] = factory()
            return self.secrets[name]

    # --- helpers for tests ------------------------------------------------------------------

    def add_job(
        self,
        job_id: str,
        owner: str = "alice",
        *,
        queue_name: str = "resume-analysis",
        job_name: str = "analyze-resume",
    ) -> Job:
        """A queued job, recorded at once (what `create` stores, without awaiting)."""
        if job_id in self.jobs:
            raise JobAlreadyExists(job_id)
        job = Job(job_id, owner, queue_name, job_name, {}, self._clock())
        recorded, event = job.record(
            EventDraft(JobStatus.QUEUED, 0, "queued", "queued"), job.created_at
        )
        self.jobs[job_id] = recorded
        self.events[job_id] = [event]
        self.writes += 1
        return recorded

    def record(self, job_id: str, draft: EventDraft) -> JobEvent | None:
        """Append `draft` at once (what `append` records, without awaiting)."""
        return self._append_now(job_id, lambda _job: draft)[1]

    def statuses(self, job_id: str) -> list[str]:
        return [str(e.status) for e in self.events.get(job_id, [])]


_etags = itertools.count(1)


def _new_etag() -> str:
    return f'"0x{next(_etags):016X}"'


_writes = itertools.count(1)


def _write_time() -> datetime:
    """Strictly increasing, like the order of writes: a later put is newer."""
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=next(_writes))


@dataclass
class StoredBlob:
    data: bytes
    content_type: str | None
    etag: str = ""
    last_modified: datetime = field(default_factory=_write_time)
    blob_type: str = BLOCK_BLOB
    metadata: dict[str, str] = field(default_factory=dict)
    # Snapshot time stamps, as a listing with snapshots reports them.
    snapshots: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.etag = self.etag or _new_etag()


class FakeUploads:
    """UploadSigner + UploadStore over a dict of blobs. Every `put` is a new version with a
    new ETag; a read pinned to another ETag, or a blob replaced while it streams, raises
    `BlobChanged` (as Blob Storage's If-Match does). `put(..., blob_type=, metadata=)` and
    `snapshot` stand in for what a holder of the upload URL can do besides a block upload."""

    def __init__(self, container: str = "uploads") -> None:
        self.container = container
        self.blobs: dict[str, StoredBlob] = {}
        self.signed: list[tuple[str, str | None, datetime]] = []
        self.reads = 0
        self.deleted: list[str] = []

    def put(
        self,
        blob_name: str,
        data: bytes,
        content_type: str | None = None,
        *,
        blob_type: str = BLOCK_BLOB,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.blobs[blob_name] = StoredBlob(
            data, content_type, blob_type=blob_type, metadata=dict(metadata or {})
        )

    def snapshot(self, blob_name: str) -> str:
        """Take a snapshot of the blob (the upload URL allows it); its time stamp."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        self.blobs[blob_name].snapshots.append(stamp)
        return stamp

    async def sign_upload(
        self, blob_name: str, content_type: str | None, expires_at: datetime
    ) -> str:
        self.signed.append((blob_name, content_type, expires_at))
        stamp = int(expires_at.timestamp())
        return f"https://fake.blob/{self.container}/{blob_name}?sp=cw&se={stamp}&sig=fake"

    async def describe(self, blob_name: str) -> BlobInfo | None:
        blob = self.blobs.get(blob_name)
        if blob is None:
            return None
        return self._info(blob_name, blob)

    async def list_uploads(
        self, prefix: str, limit: int, *, snapshots: bool = False
    ) -> list[BlobInfo]:
        found: list[BlobInfo] = []
        for name in sorted(name for name in self.blobs if name.startswith(prefix)):
            blob = self.blobs[name]
            if snapshots:  # a listing gives a blob's snapshots first, oldest first
                found += [replace(self._info(name, blob), snapshot=s) for s in blob.snapshots]
            found.append(self._info(name, blob))
        return found[:limit]

    async def head(self, blob_name: str, length: int, *, etag: str | None = None) -> bytes:
        if length <= 0:
            raise ValueError("length must be positive")
        blob = self.blobs.get(blob_name)
        if blob is None:
            raise BlobMissing(blob_name)
        if etag is not None and etag != blob.etag:
            raise BlobChanged(blob_name)
        return blob.data[:length]

    async def delete(self, blob_name: str, *, snapshots_only: bool = False) -> bool:
        blob = self.blobs.get(blob_name)
        if blob is None:
            return False
        if snapshots_only:
            blob.snapshots.clear()
            return True
        del self.blobs[blob_name]
        self.deleted.append(blob_name)
        return True

    @staticmethod
    def _info(blob_name: str, blob: StoredBlob) -> BlobInfo:
        return BlobInfo(
            name=blob_name,
            size=len(blob.data),
            content_type=blob.content_type,
            etag=blob.etag,
            last_modified=blob.last_modified,
            blob_type=blob.blob_type,
            sha256=declared_sha256(blob.metadata),
        )

    async def read(
        self, blob_name: str, chunk_size: int = 256 * 1024, *, etag: str | None = None
    ) -> AsyncIterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        blob = self.blobs.get(blob_name)
        if blob is None:
            raise BlobMissing(blob_name)
        if etag is not None and etag != blob.etag:
            raise BlobChanged(blob_name)
        self.reads += 1
        for start in range(0, len(blob.data), chunk_size):
            await asyncio.sleep(0)
            current = self.blobs.get(blob_name)
            if current is None:
                raise BlobMissing(blob_name)
            if current is not blob:
                raise BlobChanged(blob_name)
            yield blob.data[start : start + chunk_size]


# The two roles separately, for tests that want only one.
FakeUploadStore = FakeUploads
FakeUploadSigner = FakeUploads


@dataclass(frozen=True)
class SentMessage:
    queue_name: str
    message_id: str
    body: Mapping[str, Any]
    # The sending span (the real adapter writes it as `Diagnostic-Id` and `traceparent`).
    trace: TraceContext | None = None

    def application_properties(self) -> dict[str, str]:
        """What the real adapter puts in the message's application properties."""
        properties = {k: str(self.body[k]) for k in ("jobName", "owner") if k in self.body}
        if self.trace is not None:
            properties |= {"Diagnostic-Id": self.trace.traceparent}
            properties |= {"traceparent": self.trace.traceparent}
        return properties


class FakeJobQueue:
    """`JobQueue` in memory, like `ServiceBusJobQueue`: a queue outside `known_queues` (default:
    the app's queues; None: any) is refused before anything else with
    `InvalidRequest(code="unknown_queue")`; the body is stored as the JSON the broker carries
    (`default=str`); a duplicate message id per queue is dropped like Service Bus duplicate
    detection. `fail_with` makes every send to a known queue raise (the broker is down)."""

    def __init__(self, known_queues: Iterable[str] | None = tuple(DEFAULT_QUEUES)) -> None:
        self.known_queues = None if known_queues is None else frozenset(known_queues)
        self.sent: list[SentMessage] = []
        self.send_calls = 0  # duplicates included
        self.fail_with: Exception | None = None
        self._ids: set[tuple[str, str]] = set()

    async def send(
        self,
        queue_name: str,
        job_id: str,
        body: Mapping[str, Any],
        *,
        trace: TraceContext | None = None,
    ) -> None:
        if self.known_queues is not None and queue_name not in self.known_queues:
            raise InvalidRequest(f"unknown queue {queue_name!r}", code="unknown_queue")
        payload = json.loads(json.dumps(dict(body), separators=(",", ":"), default=str))
        if self.fail_with is not None:
            raise self.fail_with
        self.send_calls += 1
        if (queue_name, job_id) in self._ids:
            return
        self._ids.add((queue_name, job_id))
        self.sent.append(SentMessage(queue_name, job_id, payload, trace))

    def active(self, queue_name: str) -> int:
        """Messages sent to `queue_name` (nothing receives from this fake)."""
        return sum(1 for m in self.sent if m.queue_name == queue_name)


class FakeQueueStats:
    """`QueueStats` like the real adapters: a queue outside `known_queues` (the namespace's
    queues; default: the app's) raises `NotFound(code="unknown_queue")`. Counts come from
    `counts_by_queue` when a test sets them, else from `queue` (a `FakeJobQueue`'s sends are
    active messages), else zeros."""

    def __init__(
        self,
        known_queues: Iterable[str] = tuple(DEFAULT_QUEUES),
        queue: FakeJobQueue | None = None,
    ) -> None:
        self.known_queues = frozenset(known_queues)
        self.queue = queue
        self.counts_by_queue: dict[str, QueueCounts] = {}

    async def counts(self, queue_name: str) -> QueueCounts:
        if queue_name not in self.known_queues:
            raise NotFound(f"queue {queue_name!r} does not exist", code="unknown_queue")
        if queue_name in self.counts_by_queue:
            return self.counts_by_queue[queue_name]
        active = self.queue.active(queue_name) if self.queue is not None else 0
        return QueueCounts(queue_name, active=active, dead_letter=0, scheduled=0)


class FakeIdempotencyKeys(InMemoryKeyClaims):
    """Stand-alone IdempotencyKeys (FakeEventLog also implements the port)."""


class FakeSecretStore:
    def __init__(self) -> None:
        self.secrets: dict[str, bytes] = {}

    async def get_or_create(self, name: str, factory: Callable[[], bytes]) -> bytes:
        if name not in self.secrets:
            self.secrets[name] = factory()
        return self.secrets[name]


class FakeProbe:
    """A HealthProbe that answers, fails, or hangs as told."""

    def __init__(self, name: str, *, down: bool = False, hang: bool = False) -> None:
        self.name = name
        self.down = down
        self.hang = hang

    async def check(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.down:
            raise DependencyUnavailable(self.name, f"{self.name} is down")


# --- the whole app over fakes ---------------------------------------------------------------


def test_settings(**overrides: Any) -> Settings:
    """Settings for unit tests: valid, local, independent of the environment."""
    values: dict[str, Any] = {
        "STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "ServiceBusConnection": (
            "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
        ),
        "SERVICEBUS_EMULATOR_ADMIN_URL": "http://127.0.0.1:5673",
        "AUTH_MODE": "none",
        "MAX_UPLOAD_BYTES": 1024 * 1024,
        "STREAM_TOKEN_SECRET": None,
        # A failed delivery is abandoned at once (the delay has its own test).
        "WORKER_RETRY_DELAY_SECONDS": 0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


test_settings.__test__ = False  # type: ignore[attr-defined]


@dataclass
class FakeWorld:
    """Every fake behind the app's services, for assertions."""

    clock: FixedClock
    log: FakeEventLog
    uploads: Uploads  # a FakeUploads unless the test passed another
    queue: FakeJobQueue
    stats: FakeQueueStats
    probes: list[FakeProbe]
    services: Services
    upload_claims: "FakeUploadClaims"
    durations: "FakeStepDurations"
    feed: "FakeCallerFeed"
    presence: "FakeWorkerPresence"
    counters: "FakeQueueCounters"
    open_jobs: "FakeOpenJobs"
    # Every span the services ended (the real OpenTelemetry adapter, exported in memory).
    spans: InMemorySpanExporter

    def upload(
        self, owner: str, file_name: str, data: bytes, content_type: str | None = "text/plain"
    ) -> str:
        """Put a blob where a presigned upload for `owner` would have put it."""
        name = upload_blob_name(owner, new_upload_id(file_name), file_name)
        self.uploads.put(name, data, content_type)
        return name


def fake_world(
    settings: Settings | None = None,
    job_types: Mapping[str, JobType] | None = None,
    *,
    uploads: Uploads | None = None,
    clock: FixedClock | None = None,
) -> FakeWorld:
    """The app's services wired over in-memory fakes (what `bootstrap` does with adapters).

    `uploads` swaps in another uploads container (a real adapter, for integration tests);
    `clock` starts the world at another time (the default is a fixed day)."""
    settings = settings or test_settings()
    clock = clock or FixedClock()
    log = FakeEventLog(clock.now)
    uploads = uploads or FakeUploads(settings.UPLOADS_CONTAINER)
    queue = FakeJobQueue(settings.queues)
    stats = FakeQueueStats(settings.queues, queue)
    probes = [FakeProbe("storage"), FakeProbe("servicebus")]
    upload_claims = FakeUploadClaims()
    durations = FakeStepDurations()
    feed = FakeCallerFeed(clock.now)
    presence = FakeWorkerPresence()
    counters = FakeQueueCounters()
    open_jobs = FakeOpenJobs()
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    services = wire_services(
        settings,
        clock=clock,
        event_log=log,
        idempotency_keys=log,
        secrets=log,
        uploads=uploads,
        upload_claims=upload_claims,
        job_queue=queue,
        queue_stats=stats,
        step_durations=durations,
        caller_feed=feed,
        worker_presence=presence,
        queue_counters=counters,
        open_jobs=open_jobs,
        worker_id=FAKE_WORKER_ID,
        probes=probes,
        job_types=job_types if job_types is not None else build_registry(),
        tracer=OpenTelemetryTracer(provider),
        health_timeout_seconds=0.2,
    )
    return FakeWorld(
        clock,
        log,
        uploads,
        queue,
        stats,
        probes,
        services,
        upload_claims,
        durations,
        feed,
        presence,
        counters,
        open_jobs,
        spans,
    )


class FakeUploadClaims:
    """UploadClaims over a dict: blob name -> the job that claimed it first."""

    def __init__(self) -> None:
        self.claims: dict[str, str] = {}

    async def used_by(self, blob_name: str) -> str | None:
        return self.claims.get(blob_name)

    async def claim(self, blob_name: str, job_id: str) -> bool:
        await asyncio.sleep(0)
        if blob_name in self.claims:
            return False
        self.claims[blob_name] = job_id
        return True

    async def release(self, blob_name: str, job_id: str) -> None:
        if self.claims.get(blob_name) == job_id:
            del self.claims[blob_name]


FAKE_WORKER_ID = "worker-fake"


class FakeOpenJobs:
    """`OpenJobs` over a dict. `fail_with` makes every call raise (the store is down)."""

    def __init__(self) -> None:
        self.by_job: dict[str, OpenJob] = {}
        self.fail_with: Exception | None = None

    async def put(self, entry: OpenJob) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.by_job[entry.job_id] = entry

    async def remove(self, job_id: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.by_job.pop(job_id, None)

    async def entries(self, limit: int) -> list[OpenJob]:
        if self.fail_with is not None:
            raise self.fail_with
        return sorted(self.by_job.values(), key=lambda e: e.recorded_at)[:limit]


class FakeWorkerPresence:
    """`WorkerPresence` over a dict: each instance's latest beat. `fail_with` makes every
    call raise (the store is down)."""

    def __init__(self) -> None:
        self.beats: dict[str, WorkerBeat] = {}
        self.written: list[WorkerBeat] = []
        self.fail_with: Exception | None = None

    async def beat(self, beat: WorkerBeat) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.beats[beat.worker_id] = beat
        self.written.append(beat)

    async def recent(self, since: datetime) -> list[WorkerBeat]:
        if self.fail_with is not None:
            raise self.fail_with
        return [b for b in self.beats.values() if b.seen_at >= since]


class FakeQueueCounters:
    """`QueueCounters` over a dict per queue (each count one synchronous block: none lost).
    `fail_with` makes every call raise."""

    def __init__(self) -> None:
        self.by_queue: dict[str, QueueTally] = {}
        self.fail_with: Exception | None = None

    async def count(self, queue_name: str, status: JobStatus, seconds: float | None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.by_queue[queue_name] = self.by_queue.get(queue_name, QueueTally()).counting(
            status, seconds
        )

    async def totals(self) -> QueueTally:
        if self.fail_with is not None:
            raise self.fail_with
        total = QueueTally()
        for tally in self.by_queue.values():
            total = total + tally
        return total


class FakeStepDurations:
    """`StepDurations` over a dict, folding samples with `Durations.learn` like the table
    adapter (each learn is one synchronous block: no sample lost to a race). `fail_with`
    makes every call raise (the store is down)."""

    def __init__(self) -> None:
        self.by_job: dict[str, Durations] = {}
        self.samples: list[tuple[str, RunSample]] = []
        self.fail_with: Exception | None = None

    async def get(self, job_name: str) -> Durations:
        if self.fail_with is not None:
            raise self.fail_with
        return self.by_job.get(job_name, Durations())

    async def learn(self, job_name: str, sample: RunSample) -> Durations:
        if self.fail_with is not None:
            raise self.fail_with
        learned = self.by_job.get(job_name, Durations()).learn(sample)
        self.by_job[job_name] = learned
        self.samples.append((job_name, sample))
        return learned


class FakeCallerFeed:
    """CallerFeed over dicts, with the adapter's rules: positions unique per owner and after
    both the clock and the job's last one; `extend` conditional on the mark's version (a
    moved mark answers None); a taken position is skipped. `failing_extends = n` makes the
    next n extends raise as the adapter does when storage is down."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.entries: dict[str, dict[int, FeedEntry]] = {}
        self.marks: dict[tuple[str, str], FeedMark] = {}
        self.failing_extends = 0
        self.extends = 0
        self._versions = itertools.count(1)

    async def mark(self, owner: str, job_id: str) -> FeedMark | None:
        return self.marks.get((owner, job_id))

    async def extend(
        self, owner: str, mark: FeedMark | None, job: Job, events: Sequence[JobEvent]
    ) -> FeedMark | None:
        if not events:
            return mark
        if len(events) > MAX_FEED_BATCH:
            raise ValueError(f"at most {MAX_FEED_BATCH} events per extend")
        if self.failing_extends > 0:
            self.failing_extends -= 1
            raise DependencyUnavailable("storage", "table storage is down (fake)")
        if mark_moved(self.marks.get((owner, job.job_id)), mark):
            return None
        taken = self.entries.setdefault(owner, {})
        now = self._clock()
        position = max(position_at(now), (mark.last_position if mark else 0) + 1)
        while any(position + i in taken for i in range(len(events))):
            position += 1
        for i, event in enumerate(events):
            taken[position + i] = FeedEntry(position + i, job.job_name, job.queue_name, event)
        written = FeedMark(
            job_id=job.job_id,
            through=events[-1].sequence,
            last_position=position + len(events) - 1,
            ended=events[-1].is_terminal,
            version=str(next(self._versions)),
            updated_at=now,
        )
        self.marks[(owner, job.job_id)] = written
        self.extends += 1
        return written

    async def after(self, owner: str, position: int, limit: int) -> list[FeedEntry]:
        if limit <= 0:
            return []
        taken = self.entries.get(owner, {})
        return [taken[p] for p in sorted(p for p in taken if p > position)][:limit]

    async def positions(self, owner: str, low: int, high: int) -> list[int]:
        return sorted(p for p in self.entries.get(owner, {}) if low < p <= high)

    async def unfinished(self, owner: str) -> list[FeedMark]:
        return [m for (o, _), m in self.marks.items() if o == owner and not m.ended]

    def events_of(self, owner: str) -> list[tuple[str, int]]:
        """(job id, sequence) of the owner's entries in position order (for assertions)."""
        taken = self.entries.get(owner, {})
        return [(taken[p].job_id, taken[p].event.sequence) for p in sorted(taken)]
