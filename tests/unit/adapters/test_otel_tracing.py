"""The OpenTelemetry tracer adapter: parents, nesting, failures, and ids without an SDK."""

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode

from function_app.adapters.otel_tracing import OpenTelemetryTracer
from function_app.domain.tracing import TraceContext

REMOTE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exported: InMemorySpanExporter) -> OpenTelemetryTracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    return OpenTelemetryTracer(provider)


def test_a_span_with_a_parent_is_its_child(
    tracer: OpenTelemetryTracer, exported: InMemorySpanExporter
) -> None:
    with tracer.span("work", parent=REMOTE, kind="consumer", attributes={"a": 1}) as span:
        span.set_attribute("b", "two")
    assert span.context.trace_id == REMOTE.trace_id
    assert span.context.span_id != REMOTE.span_id
    [done] = exported.get_finished_spans()
    assert done.parent is not None
    assert f"{done.parent.span_id:016x}" == REMOTE.span_id
    assert done.kind is SpanKind.CONSUMER
    assert dict(done.attributes or {}) == {"a": 1, "b": "two"}


def test_a_span_without_a_parent_nests_in_the_one_around_it(
    tracer: OpenTelemetryTracer, exported: InMemorySpanExporter
) -> None:
    with tracer.span("outer") as outer, tracer.span("inner") as inner:
        pass
    assert inner.context.trace_id == outer.context.trace_id
    by_name = {s.name: s for s in exported.get_finished_spans()}
    assert by_name["inner"].parent is not None
    assert f"{by_name['inner'].parent.span_id:016x}" == outer.context.span_id
    assert by_name["outer"].parent is None


def test_a_parent_of_the_trace_already_open_nests_under_the_open_span(
    tracer: OpenTelemetryTracer, exported: InMemorySpanExporter
) -> None:
    """The Functions host's invocation span continues the same traceparent: ours go under it."""
    with tracer.span("host", parent=REMOTE) as host, tracer.span("ours", parent=REMOTE):
        pass
    ours = next(s for s in exported.get_finished_spans() if s.name == "ours")
    assert ours.parent is not None
    assert f"{ours.parent.span_id:016x}" == host.context.span_id


def test_a_parent_of_another_trace_wins_over_the_open_span(
    tracer: OpenTelemetryTracer, exported: InMemorySpanExporter
) -> None:
    with tracer.span("around"), tracer.span("message", parent=REMOTE) as message:
        pass
    assert message.context.trace_id == REMOTE.trace_id


def test_an_exception_marks_the_span_failed_and_goes_on(
    tracer: OpenTelemetryTracer, exported: InMemorySpanExporter
) -> None:
    with pytest.raises(RuntimeError, match="boom"), tracer.span("failing"):
        raise RuntimeError("boom")
    [done] = exported.get_finished_spans()
    assert done.status.status_code is StatusCode.ERROR


def test_without_an_sdk_provider_ids_are_still_made_and_nest() -> None:
    tracer = OpenTelemetryTracer(NoOpTracerProvider())
    with tracer.span("new") as first, tracer.span("inside") as inside:
        assert trace.get_current_span().get_span_context().is_valid
    assert len(first.context.trace_id) == 32
    assert inside.context.trace_id == first.context.trace_id
    assert inside.context.span_id != first.context.span_id
    with tracer.span("child", parent=REMOTE) as child:
        pass
    assert child.context.trace_id == REMOTE.trace_id
    assert child.context.span_id != REMOTE.span_id


def test_an_unsampled_parent_keeps_its_trace_and_exports_nothing(
    tracer: OpenTelemetryTracer, exported: InMemorySpanExporter
) -> None:
    """`traceparent` flags 00: the caller asked not to record; the ids still flow (events and
    answers keep the trace id, the message carries flags 00)."""
    unsampled = TraceContext(REMOTE.trace_id, REMOTE.span_id, 0)
    with tracer.span("request", parent=unsampled) as request, tracer.span("inner") as inner:
        pass
    assert request.context.trace_id == inner.context.trace_id == REMOTE.trace_id
    assert inner.context.span_id not in (request.context.span_id, REMOTE.span_id)
    assert not inner.context.sampled
    assert inner.context.traceparent.endswith("-00")
    assert exported.get_finished_spans() == ()
