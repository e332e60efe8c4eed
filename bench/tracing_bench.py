"""What tracing costs (docs/tracing.md): `python -m bench tracing`.

- One span opened and closed through the `Tracer` adapter, nested in another (as every
  service span is), µs per span: with an SDK provider that exports nothing (the default
  locally), with the `TRACE_EXPORT=file:...` JSON-lines export, and without an SDK provider
  (the adapter makes the ids itself).
- How many spans one small job makes, from the presign to its last event, over the fakes
  (the same services and blueprints the app runs), so that per-span cost x spans = what a
  job pays.
"""

import asyncio
import importlib
import json
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NoOpTracerProvider

from function_app.adapters.otel_tracing import OpenTelemetryTracer
from function_app.domain.tracing import TraceContext

SPANS = 20_000
PARENT = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def per_span_us(tracer: OpenTelemetryTracer, spans: int = SPANS) -> float:
    with tracer.span("outer", parent=PARENT):
        start = time.perf_counter()
        for n in range(spans):
            with tracer.span("inner", attributes={"n": n}) as span:
                span.set_attribute("jobstream.recorded", True)
        return (time.perf_counter() - start) / spans * 1e6


def span_costs() -> None:
    from function_app.entrypoints.telemetry import local_exporter

    print(
        f"SDK provider, no export:     {per_span_us(OpenTelemetryTracer(TracerProvider())):.1f} µs"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        exporter = local_exporter(f"file:{path}")
        assert exporter is not None
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        cost = per_span_us(OpenTelemetryTracer(provider), SPANS // 4)
        lines = len(path.read_text("utf-8").splitlines())
        print(f"SDK provider, file export:   {cost:.1f} µs  ({lines:,} lines written)")
    own_ids = per_span_us(OpenTelemetryTracer(NoOpTracerProvider()))
    print(f"no SDK provider (own ids):   {own_ids:.1f} µs")


async def spans_of_one_job() -> None:
    import httpx
    from azure.functions.servicebus import ServiceBusMessage

    import main
    from devstack.host.http_app import build_http_app
    from function_app.bootstrap import override_app_services
    from function_app.entrypoints import sb_worker

    # The test fakes, looked up at run time (bench/ is type-checked, tests/ is not).
    world = importlib.import_module("tests.fakes").fake_world()
    override_app_services(world.services)
    app = build_http_app(main.app.get_functions(), "api")
    headers = {"traceparent": PARENT.traceparent}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://app"
        ) as api:
            presign = await api.post(
                "/api/v1/upload/presigned-url",
                json={"fileName": "a.txt", "contentType": "text/plain"},
                headers=headers,
            )
            blob = presign.json()["data"]["blobName"]
            world.uploads.put(blob, b"Plain text.\nTwo lines.\n", "text/plain")
            await api.post(
                "/api/v1/jobs",
                json={
                    "queueName": "document-analysis",
                    "jobName": "analyze-document",
                    "data": {"blobName": blob},
                },
                headers=headers,
            )
        [sent] = world.queue.sent
        properties = sent.application_properties()
        await sb_worker._worker("document-analysis")(
            ServiceBusMessage(
                body=json.dumps(sent.body).encode(),
                message_id=sent.message_id,
                delivery_count=1,
                application_properties=dict(properties),
                user_properties=dict(properties),
            )
        )
    finally:
        override_app_services(None)
    spans = world.spans.get_finished_spans()
    events = len(world.log.events[sent.message_id])
    print(f"one analyze-document job: {len(spans)} spans ({events} events recorded)")


def main(argv: list[str] | None = None) -> None:
    span_costs()
    asyncio.run(spans_of_one_job())


if __name__ == "__main__":
    main()
