"""Composition root: settings -> adapters -> services, built once, on first use.

Entry points call `app_services()`; tests call `override_app_services(...)` to run the same entry
points over in-memory fakes. Nothing here runs at import time: a bad setting surfaces as a
clear error on the first call, never as an app the host cannot index.

The Azure SDK's async clients belong to the event loop they first run in. The Functions
worker and the local host each run one loop, so one build serves the process; if `app_services()`
is called from a different running loop (a test runner with a loop per test), it builds a
fresh set for that loop.

(Over 300 lines on purpose: `wire_services` is the one place where every service meets its
adapters and settings; it only passes values along, and a reader tracing where a setting
goes follows it here in one pass.)
"""

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from function_app.domain.identity import TokenGrants
from function_app.domain.queue_overview import worker_id_of
from function_app.domain.sweeping import SweepPolicy
from function_app.domain.uploads import ContentTypePolicy
from function_app.jobtypes.base import JobType
from function_app.jobtypes.reading.sandbox import process_sandbox
from function_app.jobtypes.registry import build_registry
from function_app.ports import (
    CallerFeed,
    Clock,
    EventLog,
    HealthProbe,
    IdempotencyKeys,
    JobQueue,
    OpenJobs,
    QueueCounters,
    QueueStats,
    SecretStore,
    StepDurations,
    Tracer,
    UploadClaims,
    Uploads,
    WorkerPresence,
)
from function_app.services.caller_feed import FeedingEventLog, FeedWriter
from function_app.services.event_log_layer import NudgingEventLog
from function_app.services.health import HealthService
from function_app.services.idempotency import Idempotency
from function_app.services.identity import Authenticator, UserTokenVerifier
from function_app.services.job_uploads import JobUploads, UploadRules
from function_app.services.jobs import JobPolicy, JobService
from function_app.services.limits import CallerLimits, LimitPolicy
from function_app.services.queue_estimates import QueueEstimates
from function_app.services.queue_overview import OverviewConfig, QueueCatalogue, QueueOverviews
from function_app.services.stream_tokens import StreamTokens
from function_app.services.streaming import FeedHub, StreamConfig, StreamHub
from function_app.services.sweeper import Sweeper
from function_app.services.traced_log import TracedEventLog
from function_app.services.upload_sweeper import UploadSweeper
from function_app.services.uploads import UploadPolicy, UploadService
from function_app.services.worker import WorkerPolicy, WorkerService
from function_app.services.worker_presence import PresenceReporter
from function_app.settings import Settings, get_settings

logger = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    authenticator: Authenticator
    stream_tokens: StreamTokens
    uploads: UploadService
    jobs: JobService
    worker: WorkerService
    health: HealthService
    event_log: EventLog
    queue_stats: QueueStats
    streams: StreamHub
    feeds: FeedHub
    queue_catalogue: QueueCatalogue
    sweeper: Sweeper
    upload_sweeper: UploadSweeper
    limits: CallerLimits
    tracer: Tracer


def stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        max_age_seconds=float(settings.STREAM_MAX_AGE_SECONDS),
        heartbeat_seconds=settings.STREAM_HEARTBEAT_SECONDS,
        retry_ms=settings.STREAM_RETRY_MS,
        fast_poll_seconds=settings.STREAM_POLL_SECONDS,
        long_poll_wait_seconds=settings.LONG_POLL_WAIT_SECONDS,
    )


def caller_limits(
    settings: Settings, feed: CallerFeed, writer: FeedWriter, monotonic: Callable[[], float]
) -> CallerLimits:
    return CallerLimits(
        LimitPolicy(
            streams_per_caller=settings.LIMIT_STREAMS_PER_CALLER,
            enqueues_per_minute=settings.LIMIT_ENQUEUES_PER_MINUTE,
            presigns_per_minute=settings.LIMIT_PRESIGNS_PER_MINUTE,
            running_jobs_per_caller=settings.LIMIT_RUNNING_JOBS_PER_CALLER,
            stream_max_age_seconds=float(settings.STREAM_MAX_AGE_SECONDS),
        ),
        feed,
        writer.repair,
        monotonic=monotonic,
    )


def wire_services(
    settings: Settings,
    *,
    clock: Clock,
    event_log: EventLog,
    idempotency_keys: IdempotencyKeys,
    secrets: SecretStore,
    uploads: Uploads,
    upload_claims: UploadClaims,
    job_queue: JobQueue,
    queue_stats: QueueStats,
    step_durations: StepDurations,
    caller_feed: CallerFeed,
    worker_presence: WorkerPresence,
    queue_counters: QueueCounters,
    open_jobs: OpenJobs,
    worker_id: str,
    probes: Sequence[HealthProbe],
    job_types: Mapping[str, JobType],
    tracer: Tracer,
    health_timeout_seconds: float = 5.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> Services:
    """The services over the given adapters (real ones here, fakes in `tests/fakes.py`).

    Every writer records through a `FeedingEventLog`: each job event is copied into its
    owner's feed after the job's own log stores it (`services.caller_feed`), and in a span
    of its own (`services.traced_log`); as soon as the job's log stored it (before the feed
    copy), this instance's stream poller of the job is nudged (`NudgingEventLog`: the
    worker's events reach their viewers without waiting out a poll interval). `monotonic`
    is the clock of the per-caller limits' windows (`services.limits`)."""
    feed_writer = FeedWriter(event_log, caller_feed, clock.now)
    limits = caller_limits(settings, caller_feed, feed_writer, monotonic)
    queues = settings.queues
    # The hub only reads, and the layers pass reads through unchanged.
    streams = StreamHub(
        event_log,
        clock,
        stream_config(settings),
        queue_stats=queue_stats,
        known_queues=frozenset(queues),
    )
    nudging = NudgingEventLog(event_log, streams.nudge)
    event_log = TracedEventLog(FeedingEventLog(nudging, feed_writer), tracer)
    tokens = StreamTokens.from_settings(
        settings.STREAM_TOKEN_SECRET,
        secrets,
        clock,
        settings.STREAM_TOKEN_TTL_SECONDS,
        grace_seconds=settings.STREAM_TOKEN_GRACE_SECONDS,
    )
    user_tokens = None
    if settings.AUTH_MODE == "jwt":
        user_tokens = UserTokenVerifier(
            secret=settings.JWT_SECRET,
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE,
            jwks_url=settings.JWT_JWKS_URL,
            grants=TokenGrants(
                roles=settings.JWT_REQUIRED_ROLES,
                scopes=settings.JWT_REQUIRED_SCOPES,
                client_ids=settings.JWT_ALLOWED_CLIENT_IDS,
            ),
        )
    content_types = ContentTypePolicy(settings.ALLOWED_CONTENT_TYPES)
    return Services(
        settings=settings,
        clock=clock,
        authenticator=Authenticator(settings.AUTH_MODE, tokens, user_tokens),
        stream_tokens=tokens,
        uploads=UploadService(
            uploads,
            clock,
            UploadPolicy(
                max_bytes=settings.MAX_UPLOAD_BYTES,
                content_types=content_types,
                url_ttl_seconds=settings.UPLOAD_URL_TTL_SECONDS,
                container=settings.UPLOADS_CONTAINER,
            ),
            tracer,
        ),
        jobs=JobService(
            log=event_log,
            idempotency=Idempotency(event_log, idempotency_keys, clock),
            queue=job_queue,
            uploads=JobUploads(
                uploads,
                upload_claims,
                UploadRules(max_bytes=settings.MAX_UPLOAD_BYTES, content_types=content_types),
            ),
            stats=queue_stats,
            tokens=tokens,
            clock=clock,
            policy=JobPolicy(
                queues=settings.accepted_queues,
                allow_fault_injection=settings.ALLOW_FAULT_INJECTION,
            ),
            estimates=QueueEstimates(queue_stats, step_durations),
            open_jobs=open_jobs,
            tracer=tracer,
            running_job=limits.running_job,
        ),
        worker=WorkerService(
            event_log,
            uploads,
            job_types,
            WorkerPolicy(
                max_delivery_count=settings.SERVICEBUS_MAX_DELIVERY_COUNT,
                max_upload_bytes=settings.MAX_UPLOAD_BYTES,
                allow_fault_injection=settings.ALLOW_FAULT_INJECTION,
                retry_delay_seconds=settings.WORKER_RETRY_DELAY_SECONDS,
                time_limit_seconds=settings.JOB_TIME_LIMIT_SECONDS,
            ),
            durations=step_durations,
            clock=clock,
            tracer=tracer,
            presence=PresenceReporter(
                worker_presence, worker_id, clock, settings.WORKER_HEARTBEAT_SECONDS
            ),
            counters=queue_counters,
        ),
        health=HealthService(probes, timeout_seconds=health_timeout_seconds),
        event_log=event_log,
        queue_stats=queue_stats,
        streams=streams,
        feeds=FeedHub(caller_feed, feed_writer, clock, stream_config(settings)),
        queue_catalogue=QueueCatalogue(
            QueueOverviews(
                queue_counters,
                worker_presence,
                queue_stats,
                list(queues),
                clock,
                OverviewConfig(
                    refresh_seconds=settings.QUEUE_STATS_SECONDS / 2,
                    offline_seconds=settings.WORKER_OFFLINE_SECONDS,
                    backlog_threshold=settings.BACKLOG_ALERT_THRESHOLD,
                ),
            ),
            event_log,
            step_durations,
        ),
        sweeper=Sweeper(
            open_jobs,
            event_log,
            job_queue,
            clock,
            SweepPolicy(
                resend_seconds=settings.SWEEP_RESEND_SECONDS,
                lost_seconds=settings.WORKER_LOST_SECONDS,
                queued_lost_seconds=settings.SWEEP_QUEUED_LOST_SECONDS,
            ),
        ),
        upload_sweeper=UploadSweeper(
            uploads, upload_claims, clock, settings.UNUSED_UPLOAD_TTL_SECONDS
        ),
        limits=limits,
        tracer=tracer,
    )


def instance_worker_id(settings: Settings) -> str:
    """This instance's worker id: from Azure's WEBSITE_INSTANCE_ID, else host and process."""
    return worker_id_of(settings.WEBSITE_INSTANCE_ID or f"{socket.gethostname()}:{os.getpid()}")


def build_services(settings: Settings) -> Services:
    """Wire the real adapters (Azure SDK clients, created without I/O) into the services."""
    from function_app.adapters.factory import build_adapters  # keeps SDK imports lazy

    adapters = build_adapters(settings)
    worker_id = instance_worker_id(settings)
    return wire_services(
        settings,
        clock=SystemClock(),
        event_log=adapters.table_storage.event_log,
        idempotency_keys=adapters.table_storage.idempotency_keys,
        secrets=adapters.table_storage.secrets,
        uploads=adapters.uploads,
        upload_claims=adapters.table_storage.upload_claims,
        job_queue=adapters.job_queue,
        queue_stats=adapters.queue_stats,
        step_durations=adapters.table_storage.step_durations,
        caller_feed=adapters.table_storage.caller_feed,
        worker_presence=adapters.table_storage.worker_presence,
        queue_counters=adapters.table_storage.queue_counters(worker_id),
        open_jobs=adapters.table_storage.open_jobs,
        worker_id=worker_id,
        probes=adapters.probes,
        job_types=build_registry(
            test_types=settings.ALLOW_FAULT_INJECTION,
            extract=process_sandbox(settings.EXTRACTION_MEMORY_LIMIT_MB),
        ),
        tracer=adapters.tracer,
    )


_built: tuple[asyncio.AbstractEventLoop | None, Services] | None = None
_override: Services | None = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def app_services() -> Services:
    """The app's services: the test override if set, else built once per event loop."""
    global _built
    if _override is not None:
        return _override
    loop = _running_loop()
    if _built is None or (_built[0] is not None and loop is not None and _built[0] is not loop):
        if _built is not None:
            logger.info("services requested from a new event loop: building a fresh set")
        settings = get_settings()
        for hook in _on_build:
            hook(settings)
        _built = (loop, build_services(settings))
    return _built[1]


_on_build: list[Callable[[Settings], object]] = []


def when_built(hook: Callable[[Settings], object]) -> None:
    """Call `hook(settings)` before the app's services are built, each time they are (the
    entry module sets up OpenTelemetry so: on first use, never at import)."""
    if hook not in _on_build:
        _on_build.append(hook)


def override_app_services(replacement: Services | None) -> None:
    """Serve `replacement` from `app_services()` (None removes the override)."""
    global _override
    _override = replacement


def reset_app_services() -> None:
    """Forget the built services and the cached settings (tests that change the env)."""
    global _built, _override
    _built = None
    _override = None
    get_settings.cache_clear()
