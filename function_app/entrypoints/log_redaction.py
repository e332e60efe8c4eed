"""Credentials never reach a log line: every record the process writes has the value of each
`token=` / `access_token=` query parameter replaced.

Stream URLs carry `?token=<stream token>` (EventSource cannot send headers). Our own code never
logs a URL, but other code in the process may: in Azure, the Python worker's HTTP server and
the FastAPI extension that serve streaming routes; locally, the host's uvicorn access log. A
filter on one logger does not see what other loggers write, so `install()` wraps the
process's log-record factory instead: every record, from any logger, is redacted as it is
created, before any handler (the worker's, which forwards to Application Insights, included)
sees it. `main.py` installs it when the app is imported.

The Functions host's own telemetry is set in host.json (see docs/security.md): request
telemetry leaves query strings out (the host's default), the host-to-worker HTTP proxy call is
not tracked as a dependency, and ASP.NET Core's request-starting lines are not logged.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

CREDENTIAL_PARAMETER = re.compile(r"(?i)([?&](?:access_)?token=)[^&#\s\"']*")
REDACTED = "[redacted]"


def redact_credentials(text: str) -> str:
    """`text` with the value of every `token=` / `access_token=` query parameter replaced."""
    return CREDENTIAL_PARAMETER.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value: Any) -> Any:
    return redact_credentials(value) if isinstance(value, str) else value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message and string arguments redacted in place. The arguments keep
    their shape (uvicorn's access formatter unpacks them by position)."""
    if isinstance(record.msg, str):
        record.msg = redact_credentials(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redacted(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redacted(v) for k, v in record.args.items()}
    return record


class _RedactingFactory:
    """A log-record factory that redacts what the factory it wraps makes."""

    def __init__(self, wrapped: Callable[..., logging.LogRecord]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.wrapped(*args, **kwargs))


def install() -> None:
    """Redact every log record this process creates from now on. Idempotent."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


def installed() -> bool:
    return isinstance(logging.getLogRecordFactory(), _RedactingFactory)
