"""Server-Sent Events framing: pure functions from fields to the bytes on the wire.

The format is the WHATWG "text/event-stream" one: a frame is `field: value` lines ended by
an empty line; `data` is split on every line break so a multi-line payload stays one event.
Field values that the format cannot carry (a line break in `event` or `id`, a NUL in `id`)
are refused rather than silently corrupting the stream.
"""

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from function_app.domain.jobs import JobEvent
from function_app.entrypoints.schemas import iso, queue_counts_out
from function_app.entrypoints.stream_vocabularies import (
    VOCABULARIES,
    NamedEvent,
    Position,
    group,
    parse_position,
    step_of,
)
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


def json_event(
    event: str,
    payload: Mapping[str, Any],
    *,
    event_id: int | str | None = None,
    retry_ms: int | None = None,
) -> bytes:
    """One named event whose data is compact JSON (always a single `data:` line)."""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return ServerSentEvent(
        data=data,
        event=event,
        id=None if event_id is None else str(event_id),
        retry_ms=retry_ms,
    ).encode()


def retry_hint(milliseconds: int) -> bytes:
    """The reconnection delay EventSource should use."""
    return ServerSentEvent(retry_ms=milliseconds).encode()


def parse_last_event_id(header: str | None, since: str | None) -> Position:
    """The client's resume point: `Last-Event-ID` header, else `?since=`, else the start.

    Anything that is not an id this stream writes (`N` or `N.k`) is a client error.
    """
    raw = header if header not in (None, "") else since
    return parse_position(raw)


# --- the stream's events (docs/api.md, "The stream in detail") --------------------------------


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
        "timestamp": iso(event.timestamp),
    }
    optional: Mapping[str, Any] = {
        "currentStep": event.step,
        "log": True if event.log else None,
        "phase": event.phase,
        "detail": event.detail,
        "etaSeconds": event.eta_seconds,
        "result": None if event.result is None else dict(event.result),
        "traceId": event.trace_id,
    }
    payload.update({k: v for k, v in optional.items() if v is not None})
    if event.error is not None:
        # The seed frontends read `data.error` as text; the code and retryable sit beside it.
        payload["error"] = event.error.message
        payload["errorCode"] = event.error.code
        payload["retryable"] = event.error.retryable
    return payload


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def control_frame(
    item: Connected | Heartbeat | QueueSnapshot | TimedOut, *, retry_ms: int | None = None
) -> bytes:
    """A hub item that is not a job event, as SSE bytes (no `id:`: they are not resumed).

    `retry_ms` goes into the `connected` block (`retry:` beside its `data:`): a block of its
    own would be a data-less event, which some libraries hand over as an empty message."""
    match item:
        case Connected(connection_id=connection_id, job_id=job_id, at=at):
            # Seed 001 reads `timestamp` as epoch milliseconds; the ISO time is `connectedAt`.
            return json_event(
                "connected",
                {
                    "connectionId": connection_id,
                    "jobId": job_id,
                    "timestamp": epoch_ms(at),
                    "connectedAt": iso(at),
                    "message": "SSE connection established",
                },
                retry_ms=retry_ms,
            )
        case Heartbeat(at=at):
            return json_event("heartbeat", {"timestamp": iso(at)})
        case QueueSnapshot(counts=counts, at=at):
            return json_event("queue_stats", {**queue_counts_out(counts), "timestamp": iso(at)})
        case TimedOut(job_id=job_id, last_event_id=last_event_id):
            return json_event("timeout", {"jobId": job_id, "lastEventId": last_event_id})


def frame(item: StreamItem) -> bytes:
    """One hub item as SSE bytes in our vocabulary alone (a `job_update`'s id: its sequence)."""
    if isinstance(item, Update):
        event = item.event
        return json_event("job_update", job_update_payload(event), event_id=event.sequence)
    return control_frame(item)


class GroupFrames:
    """The bytes of one stored event's group (all its SSE events, one chunk), encoded once
    for every viewer: a job's viewers are all sent the same event object from the hub's ring,
    so the JSON is built once per event instead of once per viewer. Bounded: the oldest
    entries go first. A group depends on the event, the step before it and the vocabularies,
    nothing else (an entry is used only for an equal event)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._groups: dict[tuple[str, int, str | None, tuple[str, ...]], tuple[JobEvent, bytes]]
        self._groups = {}

    def encoded(
        self, event: JobEvent, previous_step: str | None, vocabularies: Sequence[str]
    ) -> bytes:
        key = (event.job_id, event.sequence, previous_step, tuple(vocabularies))
        hit = self._groups.get(key)
        if hit is not None and (hit[0] is event or hit[0] == event):
            return hit[1]
        named = group(event, previous_step, vocabularies, job_update_payload, current_step)
        chunk = b"".join(json_event(one.name, one.payload, event_id=one.id) for one in named)
        self._groups[key] = (event, chunk)
        if len(self._groups) > self._size:
            del self._groups[next(iter(self._groups))]
        return chunk


GROUP_FRAMES = GroupFrames()


def current_step(event: JobEvent) -> str | None:
    """`currentStep`: the job type's step label (None on events outside a step)."""
    return event.step


class Groups:
    """Stored events, in order, to the named events a client resumed at `position` is sent
    (`stream_vocabularies.group`): the stream and the long-poll route alike, so both give
    the same events with the same ids.

    `context`: the first event given is the one at `position.complete_through`, read only to
    know its step (whether the next one changes step); nothing is sent for it."""

    __slots__ = ("_context", "_position", "_previous_step", "_vocabularies")

    def __init__(
        self, vocabularies: Sequence[str], position: Position, *, context: bool = False
    ) -> None:
        self._vocabularies = vocabularies
        self._position = position
        self._context = context
        self._previous_step: str | None = None

    def named(self, event: JobEvent) -> list[NamedEvent]:
        position = self._position
        if self._context:
            self._context = False
            if event.sequence <= position.complete_through:
                self._previous_step = step_of(event)
                return []
        named = group(
            event, self._previous_step, self._vocabularies, job_update_payload, current_step
        )
        if event.sequence == position.sequence and position.part:
            named = named[position.part :]
        self._previous_step = step_of(event)
        return named

    def frames(self, event: JobEvent) -> bytes:
        """`named` as SSE bytes, one chunk per group; a whole group's bytes come from
        `GROUP_FRAMES`, built once for all the job's viewers."""
        position = self._position
        if self._context or (event.sequence == position.sequence and position.part):
            named = self.named(event)
            return b"".join(json_event(one.name, one.payload, event_id=one.id) for one in named)
        chunk = GROUP_FRAMES.encoded(event, self._previous_step, self._vocabularies)
        self._previous_step = step_of(event)
        return chunk


async def event_stream(
    stream: JobStream,
    retry_ms: int,
    *,
    vocabularies: Sequence[str] = VOCABULARIES,
    position: Position | None = None,
) -> AsyncIterator[bytes]:
    """The stream's bytes: each stored event as its group in the asked vocabularies
    (`stream_vocabularies`), one chunk per group, resumed at `position`.

    `stream` must start one event before the first group to send when `position` is past the
    start: that event is read for context only (whether the next one changes step)."""
    position = position or Position(0)
    groups = Groups(vocabularies, position, context=position.complete_through >= 1)
    hinted = False  # the `retry:` hint rides in the first block, the `connected` event's
    # Closing this generator must close the hub's one too (runs its `finally`): the
    # `finally` below, rather than an `aclosing` object held by every open stream.
    items = aiter(stream)
    try:
        async for item in items:
            if not hinted:
                hinted = True
                if isinstance(item, Connected):
                    yield control_frame(item, retry_ms=retry_ms)
                    continue
                yield retry_hint(retry_ms)  # the hub always starts with `connected`; in case
            if not isinstance(item, Update):
                yield control_frame(item)
                continue
            chunk = groups.frames(item.event)
            if chunk:
                yield chunk  # the whole group in one write
    finally:
        await items.aclose()
