"""The `data:` of each Server-Sent Event the stream routes send, as pydantic models.

Grouped by stream: `JOB_STREAM_EVENTS` (`GET v1/jobs/{jobId}/stream`: our `jobstream`
vocabulary and the `steps` one), `FEED_EVENTS` (`GET events`, seed 002's names) and
`CATALOGUE_EVENTS` (`GET v1/queue/events`, seed 000's names). `openapi.py` publishes them
under each stream's `text/event-stream` media type (`x-sse-events`: event name -> schema);
the unit tests check the payload builders' output against them.
"""

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from function_app.domain.jobs import JobStatus
from function_app.entrypoints.response_models import QueueCountsOut, Timestamp


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the job stream: jobstream vocabulary ------------------------------------------------------


class ConnectedEvent(_Event):
    connectionId: str
    jobId: str
    timestamp: int  # epoch milliseconds (seed 001)
    connectedAt: Timestamp
    message: str


class JobUpdateEvent(_Event):
    type: Literal["job_update"]
    jobId: str
    sequence: int
    status: JobStatus
    progress: int
    stage: str
    message: str
    attempt: int
    timestamp: Timestamp
    currentStep: str | None = None
    log: Literal[True] | None = None
    phase: str | None = None
    detail: str | None = None
    etaSeconds: int | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    errorCode: str | None = None
    retryable: bool | None = None
    traceId: str | None = None


class HeartbeatEvent(_Event):
    timestamp: Timestamp


class QueueStatsEvent(QueueCountsOut):
    timestamp: Timestamp


class TimeoutEvent(_Event):
    jobId: str
    lastEventId: int


# --- the job stream: steps vocabulary (seed 003/004) -------------------------------------------


class StepChangeEvent(_Event):
    progress: int
    currentStep: str | None
    estimatedTimeRemaining: int | None
    traceId: str | None = None


class ProgressUpdateEvent(_Event):
    progress: int
    currentStep: str | None
    phase: str | None
    detail: str | None
    estimatedTimeRemaining: int | None
    traceId: str | None = None


class CompleteEvent(_Event):
    result: dict[str, Any] | None
    traceId: str | None = None


class FailedEvent(_Event):
    error: str
    errorCode: str
    traceId: str | None = None


class ScrapePhaseEvent(_Event):
    phase: str | None
    message: str
    traceId: str | None = None


# --- the caller's feed (seed 002) ---------------------------------------------------------------


class FeedControlEvent(_Event):
    type: Literal["hello", "ping"]
    epochMs: float  # epoch milliseconds with a microsecond fraction (`?since=` takes it back)
    timestamp: Timestamp
    connectionId: str | None = None


class FeedProgress(_Event):
    current: int
    total: int
    percent: int


class FeedJobEvent(_Event):
    type: Literal["queued", "started", "progress", "completed", "failed"]
    jobId: str
    jobName: str
    queueName: str
    epochMs: float  # epoch milliseconds with a microsecond fraction (`?since=` takes it back)
    sequence: int
    status: JobStatus
    progress: FeedProgress
    message: str
    timestamp: Timestamp
    data: dict[str, Any] | None
    retrying: Literal[True] | None = None
    error: str | None = None
    errorCode: str | None = None
    traceId: str | None = None


# --- the queue catalogue (seed 000) -------------------------------------------------------------


class CatalogueEvent(BaseModel):
    """Seed 000's payloads: an object each (their fields: docs/api.md, "The queue catalogue
    (seed 000)")."""

    model_config = ConfigDict(extra="allow", frozen=True)


JOB_STREAM_EVENTS: Mapping[str, type[BaseModel]] = {
    "connected": ConnectedEvent,
    "job_update": JobUpdateEvent,
    "heartbeat": HeartbeatEvent,
    "queue_stats": QueueStatsEvent,
    "timeout": TimeoutEvent,
    "step-change": StepChangeEvent,
    "progress-update": ProgressUpdateEvent,
    "complete": CompleteEvent,
    "failed": FailedEvent,
    "scrape-phase": ScrapePhaseEvent,
}

FEED_EVENTS: Mapping[str, type[BaseModel]] = {
    "hello": FeedControlEvent,
    "ping": FeedControlEvent,
    "job": FeedJobEvent,
}

CATALOGUE_EVENTS: Mapping[str, type[BaseModel]] = dict.fromkeys(
    (
        "queue-status",
        "queue-stats",
        "worker-status",
        "system-alert",
        "heartbeat",
        "job-queued",
        "job-started",
        "job-progress",
        "job-completed",
        "job-failed",
    ),
    CatalogueEvent,
)
