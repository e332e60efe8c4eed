"""Server-Sent Events framing: pure functions from fields to the bytes on the wire.

The format is the WHATWG "text/event-stream" one: a frame is `field: value` lines ended by
an empty line; `data` is split on every line break so a multi-line payload stays one event.
Field values that the format cannot carry (a line break in `event` or `id`, a NUL in `id`)
are refused rather than silently corrupting the stream.
"""

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from function_app.domain.jobs import JobEvent
from function_app.services.streaming import (
    Connected,
    Heartbeat,
    JobStream,
    QueueSnapshot,
    StreamItem,
    TimedOut,
    Update,
)

LINE_BREAK = re.compile(r"\r\n|\r|\n")
DECIMAL = re.compile(r"[0-9]{1,18}")

# Headers every stream answers with: the type, no caching, and no proxy buffering (nginx reads
# X-Accel-Buffering; Azure's front end honours Cache-Control no-transform).
STREAM_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}


@dataclass(frozen=True)
class ServerSentEvent:
    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry_ms: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(f": {line}" for line in LINE_BREAK.split(self.comment))
        if self.id is not None:
            if LINE_BREAK.search(self.id) or "\0" in self.id:
                raise ValueError("an SSE id cannot hold a line break or NUL")
            lines.append(f"id: {self.id}")
        if self.event is not None:
            if LINE_BREAK.search(self.event):
                raise ValueError("an SSE event name cannot hold a line break")
            lines.append(f"event: {self.event}")
        if self.retry_ms is not None:
            if self.retry_ms < 0:
                raise ValueError("retry must be a non-negative number of milliseconds")
            lines.append(f"retry: {self.retry_ms}")
        if self.data is not None:
            lines.extend(f"data: {line}" for line in LINE_BREAK.split(self.data))
        if not lines:
            raise ValueError("an SSE frame needs at least one field")
        return ("\n".join(lines) + "\n\n").encode("utf-8")


def json_event(event: str, payload: Mapping[str, Any], *, event_id: int | None = None) -> bytes:
    """One named event whose data is compact JSON (always a single `data:` line)."""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return ServerSentEvent(
        data=data, event=event, id=None if event_id is None else str(event_id)
    ).encode()


def retry_hint(milliseconds: int) -> bytes:
    """The reconnection delay EventSource should use."""
    return ServerSentEvent(retry_ms=milliseconds).encode()


def parse_last_event_id(header: str | None, since: str | None) -> int:
    """The client's resume point: `Last-Event-ID` header, else `?since=`, else 0 (replay all).

    Anything that is not a non-negative integer is a client error.
    """
    raw = header if header not in (None, "") else since
    if raw is None or raw == "":
        return 0
    raw = raw.strip()
    if not DECIMAL.fullmatch(raw):
        raise ValueError(f"Last-Event-ID / since must be a non-negative integer, got {raw[:40]!r}")
    return int(raw)


# --- the stream's events (docs/api.md, "The stream in detail") --------------------------------


def iso_timestamp(at: datetime) -> str:
    """UTC timestamps as the contract writes them: ISO 8601 with a Z."""
    return at.isoformat().replace("+00:00", "Z")


def job_update_payload(event: JobEvent) -> dict[str, Any]:
    """The `job_update` data: the contract's fields; optional ones only when set."""
    payload: dict[str, Any] = {
        "type": "job_update",
        "jobId": event.job_id,
        "sequence": event.sequence,
        "status": str(event.status),
        "progress": event.progress,
        "stage": event.stage,
        "message": event.message,
        "attempt": event.attempt,
        "timestamp": iso_timestamp(event.timestamp),
    }
    optional: Mapping[str, Any] = {
        "currentStep": event.step,
        "log": True if event.log else None,
        "phase": event.phase,
        "detail": event.detail,
        "etaSeconds": event.eta_seconds,
        "result": None if event.result is None else dict(event.result),
    }
    payload.update({k: v for k, v in optional.items() if v is not None})
    if event.error is not None:
        # The seed frontends read `data.error` as text; the code and retryable sit beside it.
        payload["error"] = event.error.message
        payload["errorCode"] = event.error.code
        payload["retryable"] = event.error.retryable
    return payload


def frame(item: StreamItem) -> bytes:
    """One hub item as SSE bytes. Only `job_update` carries an `id:`."""
    match item:
        case Update(event=event):
            return json_event("job_update", job_update_payload(event), event_id=event.sequence)
        case Connected(connection_id=connection_id, job_id=job_id, at=at):
            return json_event(
                "connected",
                {
                    "connectionId": connection_id,
                    "jobId": job_id,
                    "timestamp": iso_timestamp(at),
                    "message": f"Connected to the progress stream of job {job_id}",
                },
            )
        case Heartbeat(at=at):
            return json_event("heartbeat", {"timestamp": iso_timestamp(at)})
        case QueueSnapshot(counts=counts, at=at):
            return json_event(
                "queue_stats",
                {
                    "queueName": counts.queue_name,
                    "activeMessages": counts.active,
                    "deadLetterMessages": counts.dead_letter,
                    "scheduledMessages": counts.scheduled,
                    "timestamp": iso_timestamp(at),
                },
            )
        case TimedOut(job_id=job_id, last_event_id=last_event_id):
            return json_event("timeout", {"jobId": job_id, "lastEventId": last_event_id})


async def event_stream(stream: JobStream, retry_ms: int) -> AsyncIterator[bytes]:
    yield retry_hint(retry_ms)
    # `aclosing`: closing this generator must close the hub's one too (runs its `finally`).
    async with aclosing(aiter(stream)) as items:
        async for item in items:
            yield frame(item)
