"""HTTP functions through the worker's HTTP v2 server, as the Functions host runs them.

With the FastAPI extension the Python worker starts its own HTTP server (the runtime's
`http_v2.initialize_http_server`) and tells the host its address (the `HttpUri`
capability). For each request the host matched to a function it (1) forwards the request
as is to that server with an `x-ms-invocation-id` header and (2) sends the matching
`InvocationRequest`, whose trigger data carries the route values it matched; the runtime
pairs the two by the id, calls the function with FastAPI's `Request`, and its server sends
the function's `Response`, which the host relays chunk by chunk, so a stream streams.
When the client goes away the host closes the forwarded request, which the function's
response sees as a disconnect.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import httpx
from starlette.types import Message, Receive, Scope, Send

from devstack.host import protos
from devstack.host.http_app import HttpFunction, error_response
from devstack.host.trigger_data import http_trigger_data
from devstack.host.worker_client import InvocationFailed, WorkerClient, WorkerGone, invocation

log = logging.getLogger("devstack.host.http")

INVOCATION_ID_HEADER = "x-ms-invocation-id"
# Not forwarded either way: they describe one connection, not the message.
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}
)
# The host's own server writes these on its answer.
FROM_THE_HOST = frozenset({b"server", b"date", b"transfer-encoding"})
FAILED_INVOCATION_WAIT_SECONDS = 10.0
WORKER_KEEPALIVE_SECONDS = 2.0


class ClientGone(Exception):
    """The client disconnected while its request body was being forwarded."""


class WorkerHttpInvoker:
    """`FunctionsHttpApp`'s way of running an HTTP function in the worker."""

    def __init__(self, worker: WorkerClient, function_ids: dict[str, str]) -> None:
        assert worker.http_uri is not None
        self.worker = worker
        self.base_url = worker.http_uri
        self.function_ids = function_ids
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                # One connection per request in flight, as many as the clients hold open.
                # An idle connection is dropped here before the worker's server would close
                # it (uvicorn: 5 s), else a request sent as it closes fails (seen: ReadError
                # on 16 enqueues of one burst).
                limits=httpx.Limits(
                    max_connections=None,
                    max_keepalive_connections=256,
                    keepalive_expiry=WORKER_KEEPALIVE_SECONDS,
                ),
                timeout=httpx.Timeout(None, connect=10.0),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def __call__(
        self,
        function: HttpFunction,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        invocation_id = str(uuid.uuid4())
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        headers.append((INVOCATION_ID_HEADER.encode(), invocation_id.encode()))
        query = scope.get("query_string", b"")
        url = self.base_url + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if query:
            url += "?" + query.decode("latin-1")
        sent = asyncio.create_task(
            self._invoke(function, params, scope, url, invocation_id), name=invocation_id
        )
        sent.add_done_callback(_retrieve)
        request = self._http().build_request(
            scope["method"],
            url,
            headers=headers,
            # No body announced, none sent (an empty generator would go as a chunked body).
            content=_body(receive) if _has_body(scope) else None,
        )
        try:
            upstream = await self._http().send(request, stream=True)
        except (httpx.HTTPError, ClientGone) as exc:
            sent.cancel()
            if not isinstance(exc, ClientGone):
                log.error("%s: the worker's HTTP server failed: %r", function.name, exc)
                await error_response(502, "internal_error", "the function host failed")(
                    scope, receive, send
                )
            return
        try:
            if upstream.status_code >= 500 and await _failed(sent):
                await error_response(500, "internal_error", "the function failed")(
                    scope, receive, send
                )
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": upstream.status_code,
                    "headers": [
                        (k, v)
                        for k, v in upstream.headers.raw
                        if k.lower() not in HOP_BY_HOP and k.lower() not in FROM_THE_HOST
                    ],
                }
            )
            await _relay(upstream, receive, send)
        finally:
            await upstream.aclose()

    async def _invoke(
        self,
        function: HttpFunction,
        params: dict[str, str],
        scope: Scope,
        url: str,
        invocation_id: str,
    ) -> None:
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1")
            value = v.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        data = http_trigger_data(scope["method"], url, headers, query, params)
        try:
            await self.worker.invoke_or_raise(
                invocation(
                    self.function_ids[function.name],
                    [protos.ParameterBinding(name=function.arg_name, data=data)],
                    invocation_id=invocation_id,
                )
            )
        except InvocationFailed as exc:
            log.error("function %s failed: %s", function.name, exc)
            raise
        except WorkerGone:
            log.error("function %s: the worker process is gone", function.name)
            raise


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark the invocation's outcome as seen (it was logged when it failed)."""
    if not task.cancelled():
        task.exception()


def _has_body(scope: Scope) -> bool:
    names = {k.lower() for k, _ in scope["headers"]}
    return b"content-length" in names or b"transfer-encoding" in names


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as the client sends it."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


async def _failed(sent: asyncio.Task[None]) -> bool:
    """Whether the invocation behind a 5xx answer failed (then the host answers for it)."""
    try:
        await asyncio.wait_for(asyncio.shield(sent), FAILED_INVOCATION_WAIT_SECONDS)
    except (InvocationFailed, WorkerGone):
        return True
    except TimeoutError:
        return False
    return False


async def _relay(upstream: httpx.Response, receive: Receive, send: Send) -> None:
    """Send the worker's body on as it comes; stop when the client disconnects."""

    async def pump() -> None:
        async for chunk in upstream.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def disconnected() -> None:
        message: Message = await receive()
        while message["type"] != "http.disconnect":
            message = await receive()

    pumping = asyncio.create_task(pump())
    watching = asyncio.create_task(disconnected())
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        for task in (pumping, watching):
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError, OSError):
                await task
