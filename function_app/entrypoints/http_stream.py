"""Live progress over Server-Sent Events: the job stream and this instance's stream stats.

`GET v1/jobs/{jobId}/stream` (also `v1/sse/job/{jobId}`): authenticates (`?token=` stream
token or JWT, or the Authorization header), asks the stream hub where to start (404 / 204 /
stream), and frames what the hub yields. The contract's payloads are built here, at the edge.
Tokens are never logged: only the job id and the connection id are.
"""

import asyncio
import logging
from collections.abc import AsyncIterable
from dataclasses import replace
from typing import Any

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

# The extension re-exports FastAPI's classes; this one is subclassed, so take it typed.
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from function_app.bootstrap import app_services
from function_app.domain.errors import InvalidRequest
from function_app.entrypoints.auth import caller_of, stream_caller_of
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.response_models import StreamStatsOut, answer
from function_app.entrypoints.schemas import iso
from function_app.entrypoints.sse import (
    STREAM_HEADERS,
    event_stream,
    parse_last_event_id,
)
from function_app.entrypoints.stream_vocabularies import parse_vocabularies
from function_app.services.limits import StreamSlot
from function_app.services.streaming import HubStats

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]

_RAW_STREAM_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in STREAM_HEADERS.items()
)


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse that always closes its generator when the response ends.

    (`media_type` is the class's: `STREAM_HEADERS` carries the full Content-Type.)

    Starlette cancels the sending task when the client disconnects; if that happens while the
    generator waits at a `yield`, nothing would close it until garbage collection. Closing it
    here runs the hub's `finally` at once: the viewer and, for the last one, the poller go.
    The stream's slot in its caller's limit (`slot`) is given back then too. Every stream
    answers with `STREAM_HEADERS` (the type, no caching, no proxy buffering).

    Before ASGI 2.4 (uvicorn says 2.3) a disconnect is only seen by awaiting `receive`, and
    Starlette does that in an anyio task group around two tasks, for every open stream. Here
    one plain task listens and cancels the streaming one: the same behaviour with a fraction
    of the memory an idle stream holds (docs/scaling.md has the figures).
    """

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterable[bytes], *, slot: StreamSlot | None = None) -> None:
        # What StreamingResponse's __init__ sets, with the header pairs encoded once for
        # every stream: each response gets its own list (middleware may add to it) of the
        # shared pairs, instead of 14 new bytes objects and tuples per open stream.
        self.body_iterator = frames
        self.status_code = 200
        self.background = None
        self.raw_headers = list(_RAW_STREAM_HEADERS)
        self.slot = slot
        self.gone = False  # the client left (set by the disconnect listener)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["type"] == "http" and _spec_version(scope) < (2, 4):
                await self._stream_until_disconnect(receive, send)
                if self.background is not None:
                    await self.background()
            else:
                await super().__call__(scope, receive, send)
        finally:
            try:
                close = getattr(self.body_iterator, "aclose", None)
                if close is not None:
                    await close()
            finally:
                if self.slot is not None:
                    self.slot.release()

    async def _stream_until_disconnect(self, receive: Receive, send: Send) -> None:
        streaming = asyncio.current_task()
        assert streaming is not None
        self.gone = False
        # A method, not a closure: no function object and cells held per open stream.
        listener = asyncio.get_running_loop().create_task(self._listen(receive, streaming))
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not self.gone:
                raise
            streaming.uncancel()  # our own cancel: the client left, the response just ends
        finally:
            if self.gone:
                if streaming.cancelling():
                    streaming.uncancel()  # asked for, never delivered: rescind it
            else:
                listener.cancel()

    async def _listen(self, receive: Receive, streaming: "asyncio.Task[Any]") -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        streaming.cancel()


def _spec_version(scope: Scope) -> tuple[int, ...]:
    return tuple(map(int, scope.get("asgi", {}).get("spec_version", "2.0").split(".")))


async def _open_stream(req: Request) -> Response:
    svc = app_services()
    caller = await stream_caller_of(req)
    try:
        position = parse_last_event_id(
            req.headers.get("last-event-id"), req.query_params.get("since")
        )
        vocabularies = parse_vocabularies(req.query_params.get("events"))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    job_id = str(req.path_params.get("jobId", ""))
    after = position.complete_through
    slot = svc.limits.stream(caller)  # 429 over the caller's open streams, before any read
    try:
        stream = await svc.streams.open(caller, job_id, after, req.query_params.get("queueName"))
    except BaseException:
        slot.release()
        raise
    if stream is None:
        slot.release()
        # Finished and fully seen: 204 tells EventSource to stop reconnecting.
        return Response(status_code=204, headers={"Cache-Control": "no-cache"})
    if stream.after >= 1:
        # One event earlier, read for context only: whether the first one sent changes step.
        stream = replace(stream, after=stream.after - 1)
    logger.info("stream %s opened for job %s after %d", stream.connection_id, job_id, after)
    return EventStreamResponse(
        event_stream(
            stream, svc.streams.config.retry_ms, vocabularies=vocabularies, position=position
        ),
        slot=slot,
    )


@bp.route(route="v1/jobs/{jobId}/stream", methods=["GET"])
@answers_errors
async def job_stream(req: Request) -> Response:
    return await _open_stream(req)


@bp.route(route="v1/sse/job/{jobId}", methods=["GET"])
@answers_errors
async def sse_job_stream(req: Request) -> Response:
    return await _open_stream(req)


def stats_payload(stats: HubStats) -> dict[str, Any]:
    return answer(
        StreamStatsOut,
        {
            "totalConnections": stats.total_connections,
            "totalJobSubscriptions": stats.total_job_subscriptions,
            "connections": [
                {
                    "connectionId": c.connection_id,
                    "jobId": c.job_id,
                    "connectedAt": iso(c.connected_at),
                    "eventsSent": c.events_sent,
                }
                for c in stats.connections
            ],
        },
    )


@bp.route(route="v1/sse/stats", methods=["GET"])
@answers_errors
async def sse_stats(req: Request) -> Response:
    stats = app_services().streams.stats_for(await caller_of(req))
    return JSONResponse(ok(stats_payload(stats)), headers=NO_STORE)
