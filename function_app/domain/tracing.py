"""W3C Trace Context: the `traceparent` a request, a message and a job carry (no I/O).

`00-<trace id: 32 hex>-<parent id: 16 hex>-<flags: 2 hex>`, lowercase; an all-zero trace or
parent id is invalid, and so is version `ff`. A later version is read by its first four
fields, as the recommendation asks. Services pass a `TraceContext` around; the tracer port
(`ports.Tracer`) opens spans under one; only the adapter knows OpenTelemetry.
"""

import re
from dataclasses import dataclass
from typing import Literal

_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})"
    r"(?P<rest>-.*)?"
)
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16
SAMPLED = 0x01
MAX_HEADER_CHARS = 512

# What a span stands for (OpenTelemetry's span kinds, by name).
SpanKind = Literal["internal", "server", "client", "producer", "consumer"]


@dataclass(frozen=True)
class TraceContext:
    """One span's place in a trace: the trace id and that span's id."""

    trace_id: str
    span_id: str
    flags: int = SAMPLED

    def __post_init__(self) -> None:
        if not _is_hex(self.trace_id, 32) or self.trace_id == _INVALID_TRACE:
            raise ValueError(
                f"a trace id is 32 lowercase hex digits, not all zero: {self.trace_id!r}"
            )
        if not _is_hex(self.span_id, 16) or self.span_id == _INVALID_SPAN:
            raise ValueError(
                f"a span id is 16 lowercase hex digits, not all zero: {self.span_id!r}"
            )
        if not 0 <= self.flags <= 0xFF:
            raise ValueError(f"trace flags are one byte, got {self.flags}")

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdef" for c in text)


def parse_traceparent(header: str | None) -> TraceContext | None:
    """The context a `traceparent` header (or message property) names; None when absent or
    malformed (a bad one is ignored and a new trace begins, as W3C Trace Context asks)."""
    if header is None or len(header) > MAX_HEADER_CHARS:
        return None
    match = _TRACEPARENT.fullmatch(header.strip())
    if match is None:
        return None
    version = match.group("version")
    if version == "ff" or (version == "00" and match.group("rest") is not None):
        return None
    trace_id, span_id = match.group("trace"), match.group("span")
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    return TraceContext(trace_id, span_id, int(match.group("flags"), 16))
