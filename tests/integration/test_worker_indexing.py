"""The real Python worker (azure-functions-runtime, Python 3.13) indexes every function.

Each check runs in a fresh interpreter (the worker's registries are module-global) with the
app root as working directory and PYTHON_SCRIPT_FILE_NAME=main.py, and replays the worker's
own start-up: `load_binding_registry()` then `handle_event.load_function_metadata(root)`,
which imports the entry module, takes its one FunctionApp, and runs `Registry.
add_indexed_function` on every function: the parameter and annotation checks that reject a
`func.HttpRequest` handler once the FastAPI extension is loaded, or a route parameter
declared as an argument. The generated protobuf modules the worker normally receives from
its gRPC layer are not shipped; the few names indexing touches are stood in for with the
enum values of the public FunctionRpc.proto (BindingInfo.Direction in=0, out=1, inout=2;
DataType undefined=0). What comes out is each function's raw bindings, as sent to the host.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from function_app.topology import topology

REPO_ROOT = Path(__file__).resolve().parents[2]

WORKER_INDEX = textwrap.dedent(
    """
    import inspect, json, os, sys, types, typing
    root = os.getcwd()
    sys.path.insert(0, root)

    import azure_functions_runtime.handle_event as handle_event
    from azure_functions_runtime.bindings.meta import load_binding_registry


    class Message:
        def __init__(self, **fields):
            self.__dict__.update(fields)


    class BindingInfo(Message):
        out, inout = 1, 2
        undefined, string, binary, stream = 0, 1, 2, 3


    setattr(BindingInfo, "in", 0)
    # The worker forwards every log record to the host (Application Insights in Azure): a
    # handler on the root logger, installed before the app is loaded, stands in for it.
    import logging
    forwarded = []

    class Forward(logging.Handler):
        def emit(self, record):
            forwarded.append(self.format(record))

    logging.getLogger().addHandler(Forward())
    handle_event.protos = types.SimpleNamespace(
        BindingInfo=BindingInfo, RpcFunctionMetadata=Message, RpcRetryOptions=Message
    )
    load_binding_registry()
    try:
        handle_event.load_function_metadata(root, caller_info="worker_indexing_test")
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(0)

    functions = {}
    for meta in handle_event._metadata_result or []:
        info = handle_event._functions.get_function(meta.function_id)
        fn = info.func
        hints = typing.get_type_hints(fn)
        functions[meta.name] = {
            "raw_bindings": [json.loads(b) for b in meta.raw_bindings],
            "params": list(inspect.signature(fn).parameters),
            "annotations": {
                k: f"{v.__module__}.{v.__qualname__}" for k, v in hints.items()
            },
            "is_coroutine": inspect.iscoroutinefunction(fn),
        }
    # A request line as an HTTP server in the worker process would log it.
    logging.getLogger("uvicorn.access").warning(
        '%s - "%s %s HTTP/1.1" %d', "10.0.0.1", "GET",
        "/api/v1/jobs/j1/stream?token=eyJhbGciOi.SECRET.sig&since=3", 200,
    )
    print(json.dumps({
        "functions": functions,
        "http_v2": bool(handle_event.HttpV2Registry.http_v2_enabled()),
        "forwarded": forwarded,
    }))
    """
)


def index_with_worker(root: Path, script: str = "main.py") -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON_SCRIPT")}
    env["PYTHON_SCRIPT_FILE_NAME"] = script
    env["PYTHONPATH"] = str(root)
    done = subprocess.run(
        [sys.executable, "-c", WORKER_INDEX],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


EXPECTED_HTTP = {
    "presign_upload": ("v1/upload/presigned-url", ["POST"]),
    "enqueue_job": ("v1/jobs", ["POST"]),
    "queue_add": ("v1/queue/add", ["POST"]),
    "job_status": ("v1/jobs/{jobId}", ["GET"]),
    "job_status_alias": ("v1/jobs/{jobId}/status", ["GET"]),
    "cancel_job": ("v1/jobs/{jobId}/cancel", ["POST"]),
    "health": ("v1/health", ["GET"]),
    "queue_stats": ("v1/queues/{queueName}/stats", ["GET"]),
    "list_queues": ("v1/queues", ["GET"]),
    "openapi_json": ("v1/openapi.json", ["GET"]),
    "job_stream": ("v1/jobs/{jobId}/stream", ["GET"]),
    "sse_job_stream": ("v1/sse/job/{jobId}", ["GET"]),
    "job_events": ("v1/jobs/{jobId}/events", ["GET"]),
    "sse_stats": ("v1/sse/stats", ["GET"]),
    "caller_events": ("events", ["GET"]),
    "caller_job_events": ("jobs/events", ["GET"]),
    "feed_token": ("v1/events/token", ["POST"]),
    "queue_events": ("v1/queue/events", ["GET"]),
}

# Per queue in function_app/queues.json: a worker and a dead-letter trigger, named after the
# file's queue name, bound to the queue by its app setting (%SETTING%), which Azure resolves.
EXPECTED_QUEUES = {
    name: binding
    for queue in topology().queues
    for name, binding in (
        (f"worker_{queue.name.replace('-', '_')}", f"%{queue.setting}%"),
        (f"dead_letter_{queue.name.replace('-', '_')}", f"%{queue.setting}%/$DeadLetterQueue"),
    )
}

# The sweeper: a timer trigger whose schedule is an app setting Azure resolves.
EXPECTED_TIMERS = {
    "sweep_jobs": "%SWEEP_SCHEDULE%",
    "sweep_uploads": "%UPLOAD_SWEEP_SCHEDULE%",
}

REQUEST = "starlette.requests.Request"


def test_the_expected_triggers_name_the_settings_not_the_queues() -> None:
    assert EXPECTED_QUEUES["worker_resume_analysis"] == "%RESUME_ANALYSIS_QUEUE%"
    assert EXPECTED_QUEUES["dead_letter_document_analysis"] == (
        "%DOCUMENT_ANALYSIS_QUEUE%/$DeadLetterQueue"
    )
    assert len(EXPECTED_QUEUES) == 2 * len(topology().queues)


@pytest.fixture(scope="module")
def indexed() -> dict[str, Any]:
    return index_with_worker(REPO_ROOT)


def test_the_worker_indexes_exactly_the_expected_functions(indexed: dict[str, Any]) -> None:
    assert "error" not in indexed, indexed.get("error")
    assert set(indexed["functions"]) == set(EXPECTED_HTTP) | set(EXPECTED_QUEUES) | set(
        EXPECTED_TIMERS
    )
    assert indexed["http_v2"] is True  # the FastAPI extension is active: streaming works


def test_the_loaded_app_keeps_query_string_tokens_out_of_every_log_record(
    indexed: dict[str, Any],
) -> None:
    # Loading main.py, as the worker does, installs the redaction for the whole process.
    line = next(line for line in indexed["forwarded"] if "/api/v1/jobs/j1/stream" in line)
    assert "SECRET" not in line
    assert "/api/v1/jobs/j1/stream?token=[redacted]&since=3" in line


@pytest.mark.parametrize("name", sorted(EXPECTED_HTTP))
def test_http_functions_have_their_route_methods_and_types(
    indexed: dict[str, Any], name: str
) -> None:
    fn = indexed["functions"][name]
    trigger, output = fn["raw_bindings"]
    route, methods = EXPECTED_HTTP[name]
    assert trigger["type"] == "httpTrigger"
    assert trigger["direction"] == "IN"
    assert trigger["route"] == route
    assert trigger["methods"] == methods
    assert trigger["authLevel"] == "ANONYMOUS"
    assert trigger["name"] == "req"
    assert output["type"] == "http"
    assert output["direction"] == "OUT"
    assert output["name"] == "$return"
    # No route value as an argument (it would break indexing): only `req`.
    assert fn["params"] == ["req"]
    assert fn["annotations"]["req"] == REQUEST
    assert fn["annotations"]["return"].startswith("starlette.responses.")
    assert fn["is_coroutine"]


@pytest.mark.parametrize("name", sorted(EXPECTED_QUEUES))
def test_queue_triggers_bind_each_queue_and_its_dead_letter_queue(
    indexed: dict[str, Any], name: str
) -> None:
    fn = indexed["functions"][name]
    (trigger,) = fn["raw_bindings"]
    assert trigger["type"] == "serviceBusTrigger"
    assert trigger["direction"] == "IN"
    assert trigger["queueName"] == EXPECTED_QUEUES[name]
    assert trigger["connection"] == "ServiceBusConnection"
    assert fn["params"] == ["msg"]
    assert fn["annotations"]["msg"] == "azure.functions._servicebus.ServiceBusMessage"
    assert fn["is_coroutine"]


@pytest.mark.parametrize("name", sorted(EXPECTED_TIMERS))
def test_timer_triggers_take_their_schedule_from_a_setting(
    indexed: dict[str, Any], name: str
) -> None:
    fn = indexed["functions"][name]
    (trigger,) = fn["raw_bindings"]
    assert trigger["type"] == "timerTrigger"
    assert trigger["direction"] == "IN"
    assert trigger["schedule"] == EXPECTED_TIMERS[name]
    assert trigger["runOnStartup"] is False
    assert fn["params"] == ["timer"]
    assert fn["annotations"]["timer"] == "azure.functions._timer.TimerRequest"
    assert fn["is_coroutine"]


BAD_APPS = {
    "old_request_type": """
        import azure.functions as func
        from azurefunctions.extensions.http.fastapi import JSONResponse, Request

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="v1/a", methods=["GET"])
        async def ok(req: Request) -> JSONResponse:
            return JSONResponse({})

        @app.route(route="v1/b", methods=["GET"])
        async def old(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("x")
    """,
    "route_param_argument": """
        import azure.functions as func
        from azurefunctions.extensions.http.fastapi import JSONResponse, Request

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="v1/jobs/{jobId}", methods=["GET"])
        async def job(req: Request, jobId: str) -> JSONResponse:
            return JSONResponse({})
    """,
}


@pytest.mark.parametrize("mistake", sorted(BAD_APPS))
def test_the_replay_catches_what_the_worker_refuses(tmp_path: Path, mistake: str) -> None:
    (tmp_path / "entry.py").write_text(textwrap.dedent(BAD_APPS[mistake]), encoding="utf-8")
    result = index_with_worker(tmp_path, "entry.py")
    assert "FunctionLoadError" in result.get("error", ""), result
