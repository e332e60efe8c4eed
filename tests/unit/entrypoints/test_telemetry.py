"""Tracing set-up (entrypoints/telemetry.py): the local span export and TRACE_EXPORT."""

import io
import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from function_app.adapters.otel_tracing import OpenTelemetryTracer
from function_app.domain.tracing import TraceContext
from function_app.entrypoints import telemetry
from function_app.settings import SettingsError
from tests.fakes import test_settings

PARENT = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def traced_with(exporter: telemetry.SpanExporter) -> OpenTelemetryTracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryTracer(provider)


def test_file_export_appends_one_json_line_per_span(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    exporter = telemetry.local_exporter(f"file:{path}")
    assert exporter is not None
    tracer = traced_with(exporter)
    with (
        tracer.span("outer", parent=PARENT, kind="server", attributes={"k": "v"}) as outer,
        tracer.span("inner"),
    ):
        pass
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [line["name"] for line in lines] == ["inner", "outer"]
    inner, first = lines
    assert first["traceId"] == inner["traceId"] == PARENT.trace_id
    assert first["parentSpanId"] == PARENT.span_id
    assert first["spanId"] == outer.context.span_id == inner["parentSpanId"]
    assert first["kind"] == "server"
    assert first["attributes"] == {"k": "v"}
    assert first["status"] == "unset"
    assert first["start"].endswith("Z")
    assert first["durationMs"] >= 0


def test_console_export_writes_json_lines_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    exporter = telemetry.local_exporter("console")
    assert exporter is not None
    with traced_with(exporter).span("printed"):
        pass
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["name"] == "printed"


def test_none_exports_nothing() -> None:
    assert telemetry.local_exporter("none") is None


def test_a_write_that_fails_loses_the_spans_not_the_request() -> None:
    def broken(_lines: str) -> None:
        raise OSError("disk full")

    exporter = telemetry.JsonLinesExporter(broken)
    with traced_with(exporter).span("lost"):
        pass  # no exception: the span is dropped and logged
    out = io.StringIO()
    exporter = telemetry.JsonLinesExporter(out.write)
    with traced_with(exporter).span("kept"):
        pass
    assert json.loads(out.getvalue())["name"] == "kept"


@pytest.mark.parametrize("value", ["console", "none", "file:/tmp/spans.jsonl"])
def test_trace_export_accepts_its_three_forms(value: str) -> None:
    assert value == test_settings(TRACE_EXPORT=value).TRACE_EXPORT


@pytest.mark.parametrize("value", ["stdout", "file:", "file:  ", "otlp"])
def test_trace_export_refuses_anything_else(value: str) -> None:
    with pytest.raises((SettingsError, ValueError), match="TRACE_EXPORT"):
        test_settings(TRACE_EXPORT=value)


# --- set-up once per process (each case in a fresh interpreter: the provider is global) -------

LOCAL_ENV = {
    "STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": (
        "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
    ),
    "SERVICEBUS_EMULATOR_ADMIN_URL": "http://127.0.0.1:5673",
}

SET_UP = """
import json, sys
{before}
import main
from function_app.bootstrap import app_services
from function_app.entrypoints import telemetry
from function_app.settings import get_settings
assert get_settings.cache_info().currsize == 0, "settings read at import"
assert telemetry._configured is None, "set up at import"
services = app_services()
with services.tracer.span("probe") as span:
    pass
print(json.dumps({{"how": list(telemetry._configured), "traceId": span.context.trace_id}}))
"""

FAKE_AZURE_MONITOR = """
import azure.monitor.opentelemetry as distro
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
def configure_azure_monitor(**options):
    print("configure_azure_monitor", sorted(options), flush=True)
    trace.set_tracer_provider(TracerProvider())
distro.configure_azure_monitor = configure_azure_monitor
"""

WORKER_PROVIDER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
trace.set_tracer_provider(TracerProvider())
"""


def run_app(env: dict[str, str], before: str = "") -> tuple[dict[str, object], str]:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    keep = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    done = subprocess.run(
        [sys.executable, "-c", SET_UP.format(before=before)],
        cwd=root,
        env={**keep, **LOCAL_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *rest, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(rest)


def test_tracing_is_set_up_on_first_use_with_the_file_export(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    result, _ = run_app({"TRACE_EXPORT": f"file:{path}"})
    assert result["how"] == ["no export", "file"]
    [line] = path.read_text("utf-8").splitlines()
    assert json.loads(line)["traceId"] == result["traceId"]


def test_with_a_connection_string_azure_monitor_is_configured_once(tmp_path: Path) -> None:
    result, printed = run_app(
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"},
        before=FAKE_AZURE_MONITOR,
    )
    assert result["how"] == ["azure-monitor"]
    assert printed.count("configure_azure_monitor ['connection_string']") == 1


def test_the_functions_workers_provider_is_used_as_it_is(tmp_path: Path) -> None:
    """PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: the worker set Azure Monitor up already."""
    result, printed = run_app(
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"},
        before=WORKER_PROVIDER + FAKE_AZURE_MONITOR,
    )
    assert result["how"] == ["existing provider"]
    assert "configure_azure_monitor" not in printed


def test_set_up_runs_once_however_many_first_uses_race(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    calls: list[str] = []

    def slow_configure(_settings: object) -> tuple[str, ...]:
        calls.append("set up")
        time.sleep(0.05)  # a window for the others to race into
        return ("no export",)

    monkeypatch.setattr(telemetry, "_configured", None)
    monkeypatch.setattr(telemetry, "_configure", slow_configure)
    settings = test_settings()
    results: list[tuple[str, ...]] = []
    threads = [
        threading.Thread(target=lambda: results.append(telemetry.configure(settings)))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["set up"]
    assert results == [("no export",)] * 16


def test_a_set_up_that_fails_leaves_the_app_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_settings: object) -> tuple[str, ...]:
        raise ValueError("bad connection string")

    monkeypatch.setattr(telemetry, "_configured", None)
    monkeypatch.setattr(telemetry, "_configure", broken)
    assert telemetry.configure(test_settings()) == ("failed",)
