"""Server-Sent Events framing: pure functions from fields to the bytes on the wire.

The format is the WHATWG "text/event-stream" one: a frame is `field: value` lines ended by
an empty line; `data` is split on every line break so a multi-line payload stays one event.
Field values that the format cannot carry (a line break in `event` or `id`, a NUL in `id`)
are refused rather than silently corrupting the stream.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
