"""Seed 000's queue catalogue: event names and payloads, pure.

Job events (a caller's own jobs only), one per stored job event:
- `job-queued` `{jobId, type, priority, queuePosition, estimatedWait, estimatedWaitSeconds,
  queueName, queuedAt}`: `type` is the job name, `priority` always "normal" (queues are
  FIFO); position and wait are estimates made when the event is relayed (None: unknown);
- `job-started` `{jobId, workerId, startedAt, attempt}`;
- `job-progress` `{jobId, stage, progress, message, step}`; a retry (`retrying`) is a
  `job-progress` with `stage: "retrying"` and `retrying: true`: the job goes on;
- `job-completed` `{jobId, status: "success", duration, resultId, resultUrl, completedAt}`:
  `duration` in whole seconds from the first start, `resultId` the job id (the result is
  in `GET resultUrl`);
- `job-failed` `{jobId, status: "failed" | "cancelled", error, message, failedAt,
  retryable}`: `error` the error code; `retryable` whether enqueueing again may succeed.
Queue-wide (counts only): `queue-status`, `queue-stats`, `worker-status`, `system-alert`,
`heartbeat` `{timestamp, serverTime}`.
"""

from datetime import datetime
from typing import Any

from function_app.domain.feed import FeedEntry
from function_app.domain.jobs import JobStatus
from function_app.domain.queue_overview import QueueOverview, WorkerChange, wait_text
from function_app.entrypoints.schemas import iso
from function_app.entrypoints.stream_vocabularies import with_trace


def seconds_iso(at: datetime) -> str:
    """`2024-09-24T19:15:00Z` (seed 000's `timestamp`)."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def millis_iso(at: datetime) -> str:
    """`2024-09-24T19:25:30.123Z` (seed 000's `serverTime`)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def queue_status(overview: QueueOverview) -> dict[str, Any]:
    waiting = overview.waiting()
    running = overview.running if overview.beats is not None else None
    total = None if waiting is None or running is None else waiting + running
    return {
        "totalJobs": total,
        "activeJobs": running,
        "queuedJobs": waiting,
        "timestamp": seconds_iso(overview.at),
    }


def queue_stats(overview: QueueOverview) -> dict[str, Any]:
    tally = overview.tally
    return {
        "totalProcessed": None if tally is None else tally.processed,
        "successRate": None if tally is None else tally.success_rate,
        "averageProcessingTime": None if tally is None else tally.average_seconds,
        "activeWorkers": None if overview.beats is None else len(overview.online),
        "timestamp": seconds_iso(overview.at),
    }


def worker_status(change: WorkerChange, at: datetime) -> dict[str, Any]:
    return {
        "workerId": change.worker_id,
        "status": change.status,
        "reason": change.reason,
        "affectedJobs": list(change.affected_jobs),
        "timestamp": seconds_iso(at),
    }


def system_alert(level: str, overview: QueueOverview, threshold: int) -> dict[str, Any]:
    waiting = overview.waiting()
    if level == "warning":
        message = f"Queue backlog growing: {threshold}+ jobs waiting ({waiting} now)"
        action = "consider_scaling"
    else:
        message = f"Queue backlog back under {threshold} jobs ({waiting} waiting)"
        action = "none"
    return {
        "level": level,
        "message": message,
        "action": action,
        "queuedJobs": waiting,
        "threshold": threshold,
        "timestamp": seconds_iso(overview.at),
    }


def heartbeat(at: datetime) -> dict[str, Any]:
    return {"timestamp": seconds_iso(at), "serverTime": millis_iso(at)}


def job_queued(entry: FeedEntry, position: int | None, wait_seconds: int | None) -> dict[str, Any]:
    return with_trace(_job_queued(entry, position, wait_seconds), entry.event)


def _job_queued(entry: FeedEntry, position: int | None, wait_seconds: int | None) -> dict[str, Any]:
    return {
        "jobId": entry.event.job_id,
        "type": entry.job_name,
        "priority": "normal",
        "queuePosition": position,
        "estimatedWait": wait_text(wait_seconds),
        "estimatedWaitSeconds": wait_seconds,
        "queueName": entry.queue_name,
        "queuedAt": iso(entry.event.timestamp),
    }


def job_event(entry: FeedEntry, run_seconds: float | None = None) -> tuple[str, dict[str, Any]]:
    """The catalogue event for a job event other than `queued` (see the module docstring),
    with the event's `traceId` when it has one."""
    name, payload = _job_event(entry, run_seconds)
    return name, with_trace(payload, entry.event)


def _job_event(entry: FeedEntry, run_seconds: float | None) -> tuple[str, dict[str, Any]]:
    event = entry.event
    job_id = event.job_id
    match event.status:
        case JobStatus.STARTED:
            return "job-started", {
                "jobId": job_id,
                "workerId": event.worker,
                "startedAt": iso(event.timestamp),
                "attempt": event.attempt,
            }
        case JobStatus.COMPLETED:
            return "job-completed", {
                "jobId": job_id,
                "status": "success",
                "duration": None if run_seconds is None else round(run_seconds),
                "resultId": job_id,
                "resultUrl": f"/api/v1/jobs/{job_id}",
                "completedAt": iso(event.timestamp),
            }
        case JobStatus.FAILED | JobStatus.CANCELLED:
            cancelled = event.status is JobStatus.CANCELLED
            error = event.error
            return "job-failed", {
                "jobId": job_id,
                "status": "cancelled" if cancelled else "failed",
                "error": "cancelled" if cancelled else (error.code if error else "failed"),
                "message": error.message if error else event.message,
                "failedAt": iso(event.timestamp),
                "retryable": bool(error and error.retryable) and not cancelled,
            }
        case _:
            payload: dict[str, Any] = {
                "jobId": job_id,
                "stage": "retrying" if event.status is JobStatus.RETRYING else event.stage,
                "progress": event.progress,
                "message": event.message,
                "step": event.step,
            }
            if event.status is JobStatus.RETRYING:
                payload["retrying"] = True
            return "job-progress", payload
