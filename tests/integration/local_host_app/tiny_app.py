"""A tiny function app the local-host tests run (PYTHON_SCRIPT_FILE_NAME=tiny_app.py).

HTTP: path params, methods, a stream that waits for the client between its two chunks.
Service Bus: a queue trigger that records what it got and fails on purpose for its first
`fail_times` attempts and takes `hold_seconds` (application properties); a dead-letter
trigger.
"""

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
from azurefunctions.extensions.http.fastapi import (
    JSONResponse,
    Request,
    Response,
    StreamingResponse,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_received: list[dict[str, Any]] = []
_received_lock = threading.Lock()
_attempts: dict[str, int] = {}
_running: dict[str, int] = {}
_most_running: dict[str, int] = {}
_gates: dict[str, asyncio.Event] = {}


def _gate(token: str) -> asyncio.Event:
    return _gates.setdefault(token, asyncio.Event())


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _record(kind: str, msg: func.ServiceBusMessage) -> None:
    entry = {
        "kind": kind,
        "message_id": msg.message_id,
        "body": msg.get_body().decode("utf-8"),
        "delivery_count": msg.delivery_count,
        "content_type": msg.content_type,
        "correlation_id": msg.correlation_id,
        "application_properties": msg.application_properties,
        "lock_token": msg.lock_token,
        "enqueued_time_utc": _iso(msg.enqueued_time_utc),
        "expires_at_utc": _iso(msg.expires_at_utc),
        "locked_until": _iso(msg.locked_until),
        "user_properties": msg.user_properties,
        "sequence_number": msg.sequence_number,
        "reply_to": msg.reply_to,
        "to": msg.to,
        "subject": msg.subject,
        "label": msg.label,
        "dead_letter_reason": msg.dead_letter_reason,
        "type": type(msg).__module__ + "." + type(msg).__qualname__,
        "pid": os.getpid(),
    }
    with _received_lock:
        _received.append(entry)


@app.route(route="items/{itemId:int}", methods=["GET", "POST"])
async def item(req: Request) -> Response:
    return JSONResponse({"itemId": req.path_params["itemId"], "method": req.method})


@app.route(route="files/{*rest}", methods=["GET"])
async def files(req: Request) -> Response:
    return JSONResponse({"rest": req.path_params.get("rest", "")})


@app.route(route="stream/{token}", methods=["GET"])
async def stream(req: Request) -> StreamingResponse:
    gate = _gate(req.path_params["token"])

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        await gate.wait()
        yield b"second\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@app.route(route="release/{token}", methods=["POST"])
async def release(req: Request) -> Response:
    _gate(req.path_params["token"]).set()
    return Response(status_code=204)


@app.route(route="whoami", methods=["GET"])
async def whoami(req: Request) -> Response:
    # The invocation id header is set only on the way through the worker's HTTP v2 server.
    return JSONResponse({"pid": os.getpid(), "invocationId": req.headers.get("x-ms-invocation-id")})


@app.route(route="received", methods=["GET"])
async def received(req: Request) -> Response:
    with _received_lock:
        return Response(json.dumps(_received), media_type="application/json")


@app.route(route="concurrency/{group}", methods=["GET"])
async def concurrency(req: Request) -> Response:
    with _received_lock:
        return JSONResponse({"most": _most_running.get(req.path_params["group"], 0)})


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="%TINY_QUEUE%", connection="ServiceBusConnection"
)
async def on_message(msg: func.ServiceBusMessage) -> None:
    _record("queue", msg)
    group = str(msg.application_properties.get("group", ""))
    with _received_lock:
        _running[group] = _running.get(group, 0) + 1
        _most_running[group] = max(_most_running.get(group, 0), _running[group])
    try:
        await asyncio.sleep(float(str(msg.application_properties.get("hold_seconds", 0))))
    finally:
        with _received_lock:
            _running[group] -= 1
    fail_times = int(str(msg.application_properties.get("fail_times", 0)))
    with _received_lock:
        _attempts[msg.message_id] = attempt = _attempts.get(msg.message_id, 0) + 1
    if attempt <= fail_times:
        raise RuntimeError(f"failing on purpose, attempt {attempt}")


@app.service_bus_queue_trigger(
    arg_name="msg",
    queue_name="%TINY_QUEUE%/$DeadLetterQueue",
    connection="ServiceBusConnection",
)
def on_dead_letter(msg: func.ServiceBusMessage) -> None:
    _record("dead-letter", msg)
