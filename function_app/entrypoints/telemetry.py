"""OpenTelemetry for the process, set up once from the entry module (`main.py`), and the span
every HTTP request runs in.

Which tracer provider serves the app's spans (`adapters/otel_tracing.py`), decided once:
- one is already installed: the Functions Python worker's, set up when
  `PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true` (it calls azure-monitor-opentelemetry
  before it imports this app, and gives each invocation the host's trace context, with
  host.json `telemetryMode: OpenTelemetry`). It is used as it is;
- else, with `APPLICATIONINSIGHTS_CONNECTION_STRING`: `configure_azure_monitor` (the exporter
  authenticates with `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`'s managed identity when set);
- else a plain SDK provider that exports nothing (trace ids still exist).
`TRACE_EXPORT` then adds a local export to whichever it is: `console` writes each span as
one JSON line to stdout, `file:PATH` appends them to PATH (docs/tracing.md has the fields).

`main.py` calls `install()` at import; the set-up itself runs when the app's services are
first built (`bootstrap.when_built`), so no setting is read at import.
"""

import functools
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azurefunctions.extensions.http.fastapi import Request, Response
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from function_app.bootstrap import app_services, when_built
from function_app.domain.tracing import parse_traceparent
from function_app.ports import Span
from function_app.settings import Settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_configured: tuple[str, ...] | None = None


def install() -> None:
    """Set up tracing from the app's settings when its services are first built (on the
    first request or trigger, not at import: settings are never read then)."""
    when_built(configure)


def configure(settings: Settings) -> tuple[str, ...]:
    """Set up the process's tracer provider and exports once (later calls change nothing);
    what was set up, e.g. ("azure-monitor", "file")."""
    global _configured
    with _lock:
        if _configured is None:
            try:
                _configured = _configure(settings)
            except Exception:  # telemetry must never stop the app (trace ids still exist)
                logger.exception("tracing not set up")
                _configured = ("failed",)
            logger.info("tracing: %s", ", ".join(_configured))
        return _configured


def _configure(settings: Settings) -> tuple[str, ...]:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        how = "existing provider"
    elif settings.APPLICATIONINSIGHTS_CONNECTION_STRING:
        from azure.monitor.opentelemetry import configure_azure_monitor  # heavy: only when used

        configure_azure_monitor(connection_string=settings.APPLICATIONINSIGHTS_CONNECTION_STRING)
        how = "azure-monitor"
    else:
        trace.set_tracer_provider(TracerProvider())
        how = "no export"
    exporter = local_exporter(settings.TRACE_EXPORT)
    provider = trace.get_tracer_provider()
    if exporter is None or not isinstance(provider, TracerProvider):
        return (how,)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return (how, settings.TRACE_EXPORT.split(":", 1)[0])


def local_exporter(setting: str) -> SpanExporter | None:
    """The exporter `TRACE_EXPORT` names (`none`: None)."""
    if setting == "console":
        return JsonLinesExporter(_stdout)
    if setting.startswith("file:"):
        path = Path(setting.removeprefix("file:").strip())
        return JsonLinesExporter(functools.partial(_append, path))
    return None


def _stdout(lines: str) -> None:
    sys.stdout.write(lines)
    sys.stdout.flush()


def _append(path: Path, lines: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(lines)


def _iso(nanoseconds: int | None) -> str | None:
    if nanoseconds is None:
        return None
    at = datetime.fromtimestamp(nanoseconds / 1e9, UTC)
    return at.isoformat().replace("+00:00", "Z")


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One span as a JSON object (the `TRACE_EXPORT` line format, docs/tracing.md)."""
    context = span.get_span_context()
    parent = span.parent
    start, end = span.start_time, span.end_time
    return {
        "name": span.name,
        "traceId": None if context is None else f"{context.trace_id:032x}",
        "spanId": None if context is None else f"{context.span_id:016x}",
        "parentSpanId": None if parent is None else f"{parent.span_id:016x}",
        "kind": span.kind.name.lower(),
        "start": _iso(start),
        "end": _iso(end),
        "durationMs": None if start is None or end is None else round((end - start) / 1e6, 3),
        "status": span.status.status_code.name.lower(),
        "attributes": dict(span.attributes or {}),
    }


class JsonLinesExporter(SpanExporter):
    """Writes each finished span as one JSON line through `write` (serialised by a lock)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(
            json.dumps(span_record(s), separators=(",", ":"), default=str) + "\n" for s in spans
        )
        try:
            with self._lock:
                self._write(lines)
        except OSError as exc:
            logger.warning("spans not written: %s", exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


# --- the request span -------------------------------------------------------------------------


@contextmanager
def request_span(req: Request, name: str) -> Iterator[Span | None]:
    """The server span `req` runs in: a child of its `traceparent` (a malformed one is
    ignored), else the first span of a new trace. None when the app's services cannot be
    built (the handler reports why)."""
    try:
        tracer = app_services().tracer
    except Exception:
        yield None
        return
    attributes = {"http.request.method": req.method, "url.path": req.url.path}
    parent = parse_traceparent(req.headers.get("traceparent"))
    with tracer.span(name, parent=parent, kind="server", attributes=attributes) as span:
        yield span


def traced(
    name: str, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """`handler` in its request span, named `name`, with the answer's status on it."""

    @functools.wraps(handler)
    async def in_span(req: Request) -> Response:
        with request_span(req, name) as span:
            response = await handler(req)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            return response

    return in_span
