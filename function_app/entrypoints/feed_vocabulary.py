"""A caller's feed in seed 002's vocabulary: `hello`, `ping` and one `job` event per stored
job event, as seed 002's `useJobEvents` hook and browser-console snippet listen for. Pure.

`job` data: `{type, jobId, jobName, epochMs, progress: {current, total, percent}, data,
error, timestamp}`. `type` folds our statuses into seed 002's four: `started`, `progress`
(in_progress and log lines; `retrying` too, with `retrying: true`: the job goes on),
`completed` (`data` = the result) and `failed` (failed, and cancelled with
`errorCode: "cancelled"`); a freshly enqueued job is `queued`, which seed 002's clients
ignore. `epochMs` is the event's feed position in milliseconds with a microsecond fraction:
unique within the caller's feed, so `?since=<epochMs>` resumes exactly after it.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from function_app.domain.feed import FeedEntry, epoch_ms, position_at
from function_app.domain.jobs import JobStatus
from function_app.entrypoints.schemas import iso
from function_app.entrypoints.stream_vocabularies import with_trace

SEED_TYPES: Mapping[JobStatus, str] = {
    JobStatus.QUEUED: "queued",
    JobStatus.STARTED: "started",
    JobStatus.IN_PROGRESS: "progress",
    JobStatus.RETRYING: "progress",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}


def micro_iso(at: datetime) -> str:
    """ISO 8601 UTC with microseconds always (seed 002's `nowIsoMicroUtc`)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_payload(entry: FeedEntry) -> dict[str, Any]:
    event = entry.event
    payload: dict[str, Any] = {
        "type": SEED_TYPES[event.status],
        "jobId": event.job_id,
        "jobName": entry.job_name,
        "queueName": entry.queue_name,
        "epochMs": epoch_ms(entry.position),
        "sequence": event.sequence,
        "status": str(event.status),
        "progress": {"current": event.progress, "total": 100, "percent": event.progress},
        "message": event.message,
        "timestamp": micro_iso(event.timestamp),
    }
    if event.status is JobStatus.COMPLETED:
        payload["data"] = None if event.result is None else dict(event.result)
    else:
        details = {"stage": event.stage, "step": event.step, "phase": event.phase}
        payload["data"] = {k: v for k, v in details.items() if v is not None}
    if event.status is JobStatus.RETRYING:
        payload["retrying"] = True
    if event.status is JobStatus.CANCELLED:
        payload["error"] = event.error.message if event.error else event.message or "cancelled"
        payload["errorCode"] = "cancelled"
    elif event.error is not None:
        payload["error"] = event.error.message
        payload["errorCode"] = event.error.code
    return with_trace(payload, event)


def control_payload(kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """`hello` / `ping` data: the type, the server's epochMs and timestamp."""
    return {"type": kind, "epochMs": epoch_ms(position_at(at)), "timestamp": iso(at), **extra}
