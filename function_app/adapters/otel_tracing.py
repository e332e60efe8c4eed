"""OpenTelemetry, the tracer: implements `ports.Tracer` on the OpenTelemetry API.

Spans go to whatever tracer provider the process has (`entrypoints/telemetry.py` sets it up
once: Azure Monitor, a local console or file export, or none of them). A span given a
`parent` (a request's or a message's traceparent) is its child; when the span open in this
task is already part of that trace (the Functions host opened one for the invocation from the
same traceparent), the new span nests under it instead, so the host's request span, ours and
the job's stay one tree.

Without an SDK tracer provider the API hands out spans with no ids of their own (none, or
their parent's); then this adapter makes the ids itself (random, W3C shaped) and makes that
context current, so that trace ids in events and answers exist whether or not anything is
exported.
"""

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TracerProvider,
)

from function_app.domain.tracing import SpanKind, TraceContext
from function_app.ports import SpanValue

INSTRUMENTATION_NAME: Final = "jobstream"

_KINDS: Final = {
    "internal": trace.SpanKind.INTERNAL,
    "server": trace.SpanKind.SERVER,
    "client": trace.SpanKind.CLIENT,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
}


def to_span_context(context: TraceContext) -> SpanContext:
    return SpanContext(
        trace_id=int(context.trace_id, 16),
        span_id=int(context.span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(context.flags),
    )


def from_span_context(context: SpanContext) -> TraceContext | None:
    if not context.is_valid:
        return None
    return TraceContext(
        f"{context.trace_id:032x}", f"{context.span_id:016x}", int(context.trace_flags)
    )


class OpenTelemetrySpan:
    """`ports.Span` over an OpenTelemetry span."""

    def __init__(self, span: trace.Span, context: TraceContext) -> None:
        self._span = span
        self._context = context

    @property
    def context(self) -> TraceContext:
        return self._context

    def set_attribute(self, key: str, value: SpanValue) -> None:
        self._span.set_attribute(key, value)


class OpenTelemetryTracer:
    """`ports.Tracer` on OpenTelemetry (`provider`: tests pass their own; default: the
    process's global provider, looked up on each span, so one set up later is used)."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider

    def _tracer(self) -> trace.Tracer:
        if self._provider is not None:
            return self._provider.get_tracer(INSTRUMENTATION_NAME)
        return trace.get_tracer(INSTRUMENTATION_NAME)

    @contextmanager
    def span(
        self,
        name: str,
        *,
        parent: TraceContext | None = None,
        kind: SpanKind = "internal",
        attributes: Mapping[str, SpanValue] | None = None,
    ) -> Iterator[OpenTelemetrySpan]:
        outer = from_span_context(trace.get_current_span().get_span_context())
        with self._tracer().start_as_current_span(
            name,
            context=_parent_context(parent),
            kind=_KINDS[kind],
            attributes=dict(attributes or {}),
        ) as span:
            context = from_span_context(span.get_span_context())
            above = parent or outer
            if context is not None and (above is None or context.span_id != above.span_id):
                yield OpenTelemetrySpan(span, context)
                return
            # No SDK provider: ids of our own, current for the spans opened inside.
            made = _made_up(above)
            with trace.use_span(NonRecordingSpan(to_span_context(made)), end_on_exit=False):
                yield OpenTelemetrySpan(span, made)


def _parent_context(parent: TraceContext | None) -> Context | None:
    """The context a new span starts in: the current one unless `parent` names another
    trace (or there is no current span)."""
    if parent is None:
        return None
    current = trace.get_current_span().get_span_context()
    if current.is_valid and f"{current.trace_id:032x}" == parent.trace_id:
        return None
    return trace.set_span_in_context(NonRecordingSpan(to_span_context(parent)))


def _made_up(base: TraceContext | None) -> TraceContext:
    """A child of `base` (the parent, or the span around), or the first span of a new trace."""
    trace_id = base.trace_id if base is not None else secrets.token_hex(16)
    flags = base.flags if base is not None else 1
    return TraceContext(trace_id, secrets.token_hex(8), flags)
