"""One ASGI app serving every HTTP-triggered function at its route, like the Functions host.

Each request is matched against the functions' route templates (prefix from host.json),
then against the trigger's methods; the user function gets FastAPI's `Request` with the
route values in `req.path_params` and its `Response` is sent as is, so a
`StreamingResponse` streams. The demo page under `web/` is served at `/` and `/web/...`
(a local convenience: in Azure it is hosted separately). CORS follows local.settings.json
`Host.CORS`. Anything else gets a JSON error envelope.
"""

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import compile_path
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devstack.host.loader import IndexedFunction
from devstack.host.routes import RouteTemplate, compile_route

log = logging.getLogger("devstack.host.http")

UserFunction = Callable[..., Any]

# Azure's front end refuses request bodies over 100 MB (210 MB on some plans); so does the host.
MAX_REQUEST_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    arg_name: str
    user_function: UserFunction

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods


def http_functions(functions: Sequence[IndexedFunction], route_prefix: str) -> list[HttpFunction]:
    """The HTTP-triggered functions, most specific route first (literals before parameters)."""
    found = []
    for function in functions:
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        spec = trigger.get_dict_repr()
        name = str(function.get_function_name())
        route = str(spec.get("route") or name)
        raw_methods = spec.get("methods")
        methods = (
            frozenset(str(getattr(m, "value", m)).upper() for m in raw_methods)
            if raw_methods
            else None
        )
        found.append(
            HttpFunction(
                name=name,
                route=compile_route(route_prefix, route),
                methods=methods,
                arg_name=str(spec["name"]),
                user_function=function.get_user_function(),
            )
        )
    found.sort(key=lambda f: (f.route.precedence, f.route.template))
    return found


# The worker's HTTP v2 server (azurefunctions-extensions-http-fastapi's `WebApp.route`) takes
# every request through one FastAPI route, `/{path:path}`, compiled by Starlette to
# `^/(?P<path>.*)$`: its `.` does not match a newline, so a path holding one (`%0A`, but not
# as its last character) matches no route and FastAPI answers its own 404 before the
# function runs. The in-process path answers the same, so both modes (and Azure) agree.
_WORKER_CATCH_ALL = compile_path("/{path:path}")[0]


def worker_route_matches(path: str) -> bool:
    """Whether the worker's catch-all route matches the (decoded) request path."""
    return _WORKER_CATCH_ALL.match(path) is not None


def worker_not_found() -> JSONResponse:
    """FastAPI's own answer when no route matches: no envelope, no Cache-Control."""
    return JSONResponse({"detail": "Not Found"}, status_code=404)


# Runs one HTTP function: in this process (the default) or in the worker (`worker_http`).
HttpInvoker = Callable[[HttpFunction, dict[str, str], Scope, Receive, Send], Awaitable[None]]


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"success": False, "error": {"code": code, "message": message, "details": []}}
    return JSONResponse(body, status_code=status, headers=headers or None)


class FunctionsHttpApp:
    """The routing core (no CORS); see `build_http_app`."""

    def __init__(
        self,
        functions: Sequence[HttpFunction],
        web_root: Path | None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        invoker: HttpInvoker | None = None,
    ) -> None:
        self.functions = list(functions)
        self._run: HttpInvoker = invoker or self._run_here
        self.max_request_bytes = max_request_bytes
        self.web_root = web_root if web_root is not None and web_root.is_dir() else None
        self._static = (
            StaticFiles(directory=self.web_root, html=True) if self.web_root is not None else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if self._static is not None and (path == "/" or path.startswith("/web/")):
            await self._serve_static(scope, receive, send)
            return
        matches = [(f, p) for f in self.functions if (p := f.route.match(path)) is not None]
        if not matches:
            await error_response(404, "not_found", f"no function serves {path}")(
                scope, receive, send
            )
            return
        method: str = scope["method"]
        for function, params in matches:
            if function.allows(method):
                await self._invoke(function, params, scope, receive, send)
                return
        allowed = sorted({m for f, _ in matches for m in (f.methods or ())})
        await error_response(
            405,
            "method_not_allowed",
            f"{method} is not allowed on {path}",
            Allow=", ".join(allowed),
        )(scope, receive, send)

    async def _serve_static(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._static is not None
        assert self.web_root is not None
        path: str = scope["path"]
        if path == "/":
            index = self.web_root / "index.html"
            if scope["method"] not in ("GET", "HEAD") or not index.is_file():
                await error_response(404, "not_found", "no demo page here")(scope, receive, send)
                return
            await FileResponse(index)(scope, receive, send)
            return
        child = dict(scope, path=path[len("/web") :], root_path="")
        try:
            await self._static(child, receive, send)
        except HTTPException as exc:
            code = "not_found" if exc.status_code == 404 else "method_not_allowed"
            await error_response(exc.status_code, code, str(exc.detail))(scope, receive, send)

    async def _invoke(
        self,
        function: HttpFunction,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_request_bytes:
            await error_response(
                413,
                "request_too_large",
                f"the request body is over the host's {self.max_request_bytes} byte limit",
            )(scope, receive, send)
            return
        await self._run(function, params, scope, _bounded(receive, self.max_request_bytes), send)

    async def _run_here(
        self,
        function: HttpFunction,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """In this process: the function gets FastAPI's `Request` and its `Response` is sent."""
        if not worker_route_matches(scope["path"]):
            await worker_not_found()(scope, receive, send)
            return
        scope["path_params"] = params  # in place, as Starlette's router does: no copy per call
        request = Request(scope, receive)
        try:
            result = await _call(function.user_function, {function.arg_name: request})
        except Exception:
            log.exception("function %s failed", function.name)
            await error_response(500, "internal_error", "the function failed")(scope, receive, send)
            return
        if not isinstance(result, Response):
            log.error("function %s returned %s, not a Response", function.name, type(result))
            await error_response(500, "internal_error", "the function returned no response")(
                scope, receive, send
            )
            return
        # A stream's response lasts minutes: its Request (parsed URL, query, headers, the
        # bounded receive) is not needed while it is sent.
        del request
        try:
            await result(scope, receive, send)
        except Exception:
            # The response has started (e.g. a stream broke): nothing more can be sent.
            log.exception("function %s: sending the response failed", function.name)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _bounded(receive: Receive, limit: int) -> Receive:
    """`receive` that reports a disconnect once a (chunked) body passes `limit` bytes."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                log.warning("request body over %d bytes: treated as a disconnect", limit)
                return {"type": "http.disconnect"}
        return message

    return bounded


async def _call(user_function: UserFunction, kwargs: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(user_function):
        return await user_function(**kwargs)
    return await asyncio.to_thread(user_function, **kwargs)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def build_http_app(
    functions: Sequence[IndexedFunction],
    route_prefix: str,
    web_root: Path | None = None,
    cors_origins: Sequence[str] = (),
    cors_credentials: bool = False,
    invoker: HttpInvoker | None = None,
) -> ASGIApp:
    app: ASGIApp = FunctionsHttpApp(
        http_functions(functions, route_prefix), web_root, invoker=invoker
    )
    if cors_origins:
        app = CORSMiddleware(
            app,
            allow_origins=list(cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=cors_credentials,
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        )
    return app
