"""Query-string credentials never reach a log line, from whichever logger writes them, and the
Functions host's own telemetry is told (host.json) to leave them out too."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from function_app.entrypoints import log_redaction

REPO_ROOT = Path(__file__).resolve().parents[3]
URL = "/api/v1/jobs/j1/stream?since=2&token=eyJhbGciOi.PAYLOAD.SIG&x=1"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def collected() -> Iterator[Collect]:
    before = logging.getLogRecordFactory()
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    log_redaction.install()
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        logging.setLogRecordFactory(before)


def test_the_value_of_every_credential_parameter_is_replaced() -> None:
    assert log_redaction.redact_credentials(URL) == (
        "/api/v1/jobs/j1/stream?since=2&token=[redacted]&x=1"
    )
    assert log_redaction.redact_credentials("GET /x?ACCESS_TOKEN=abc HTTP/1.1") == (
        "GET /x?ACCESS_TOKEN=[redacted] HTTP/1.1"
    )
    assert log_redaction.redact_credentials("a mytoken=abc stays") == "a mytoken=abc stays"


@pytest.mark.parametrize("name", ["uvicorn.access", "azure_functions_worker", "some.library"])
def test_records_of_any_logger_are_redacted_in_message_and_arguments(
    collected: Collect, name: str
) -> None:
    logger = logging.getLogger(name)
    # Straight to the handler: uvicorn's loggers may be set not to propagate to the root.
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(collected)
    try:
        logger.warning('%s - "GET %s HTTP/1.1" %d', "10.0.0.1", URL, 200)  # positional args
        logger.warning("opened %(url)s", {"url": URL})  # mapping args
        logger.warning(f"formatted first: {URL}")
    finally:
        logger.removeHandler(collected)
        logger.propagate = propagate
    assert len(collected.lines) == 3
    for line in collected.lines:
        assert "PAYLOAD" not in line
        assert "token=[redacted]" in line
    assert (
        collected.lines[0]
        == '10.0.0.1 - "GET /api/v1/jobs/j1/stream?since=2&token=[redacted]&x=1 HTTP/1.1" 200'
    )


def test_install_is_idempotent_and_leaves_other_records_alone(collected: Collect) -> None:
    log_redaction.install()
    log_redaction.install()
    factory = logging.getLogRecordFactory()
    assert log_redaction.installed()
    assert not isinstance(getattr(factory, "wrapped", None), type(factory))  # wrapped once
    logging.getLogger("x").warning("job %s ended after %d events", "j1", 7)
    assert collected.lines == ["job j1 ended after 7 events"]


def test_host_json_keeps_tokens_out_of_the_hosts_own_telemetry() -> None:
    # In Azure the Functions host proxies each HTTP request to the worker's HTTP server (the
    # streaming path) and reports that call, full URL with ?token=, as a dependency; ASP.NET
    # Core logs a "Request starting ...?token=" line at Information. Both are off; request
    # telemetry itself records no query string (the host's default, never switched on here).
    host = json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
    logging_section = host["logging"]
    assert logging_section["applicationInsights"]["enableDependencyTracking"] is False
    level = logging_section["logLevel"]["Microsoft.AspNetCore.Hosting.Diagnostics"]
    assert level in {"Warning", "Error", "Critical", "None"}
    assert "enableQueryStringTracing" not in json.dumps(host)
