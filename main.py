"""Functions entry module (PYTHON_SCRIPT_FILE_NAME=main.py): the one FunctionApp.

It only builds the app, registers the blueprints from `function_app.entrypoints`, keeps
query-string tokens out of every log record (`log_redaction`) and sets up OpenTelemetry
once for the process (`telemetry`: Azure Monitor, a local span export, docs/tracing.md).
"""

import azure.functions as func

from function_app.entrypoints import (
    http_catalog,
    http_feeds,
    http_jobs,
    http_long_poll,
    http_stream,
    http_system,
    http_uploads,
    log_redaction,
    sb_worker,
    telemetry,
    timers,
)

# Query-string credentials (stream tokens) are redacted from every log record of the process.
log_redaction.install()
# Spans: the Functions worker's provider, else Azure Monitor; a local export (TRACE_EXPORT).
# Set up when the services are first built, from the same settings.
telemetry.install()

# Every blueprint the app serves, in registration order.
BLUEPRINTS = (
    http_uploads.bp,
    http_jobs.bp,
    http_system.bp,
    http_catalog.bp,
    http_stream.bp,
    http_long_poll.bp,
    http_feeds.bp,
    sb_worker.bp,
    timers.bp,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
