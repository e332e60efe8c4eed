"""The local Functions host: the app's HTTP functions on uvicorn plus its queue triggers.

Where the functions run is `JOBSTREAM_LOCAL_WORKER`: `worker` starts the real Python
worker (`azure_functions_runtime`) in a process of its own, as Azure does, and every
invocation goes through it (`worker_client`, `worker_http`); `inprocess` imports the app
into the host and calls each function here (the older path, kept while both are compared).
"""

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from devstack.host.host_json import HostJson, read_host_json
from devstack.host.http_app import HttpInvoker, build_http_app, http_functions
from devstack.host.loader import AppLoadError, IndexedFunction, load_function_app
from devstack.host.servicebus_trigger import (
    MessageInvoker,
    QueueTriggerRunner,
    queue_triggers,
)
from devstack.host.servicebus_trigger import invoke_here as invoke_message_here
from devstack.host.timer_trigger import TimerInvoker, TimerTriggerRunner, timer_triggers
from devstack.host.timer_trigger import invoke_here as invoke_timer_here
from devstack.host.worker_client import WorkerClient, servicebus_invoker, timer_invoker
from devstack.host.worker_http import WorkerHttpInvoker
from function_app.entrypoints import log_redaction

log = logging.getLogger("devstack.host")

GRACEFUL_HTTP_SHUTDOWN_SECONDS = 5

WORKER_MODE_SETTING = "JOBSTREAM_LOCAL_WORKER"
WORKER_MODES = ("inprocess", "worker")
DEFAULT_WORKER_MODE = "inprocess"


def worker_mode(environ: Mapping[str, str]) -> str:
    mode = (environ.get(WORKER_MODE_SETTING) or DEFAULT_WORKER_MODE).strip().lower()
    if mode not in WORKER_MODES:
        raise AppLoadError(
            f"{WORKER_MODE_SETTING}={mode!r}: expected one of {', '.join(WORKER_MODES)}"
        )
    return mode


class PortInUseError(RuntimeError):
    """The host's HTTP port is taken."""


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind now, so a taken port fails here with a clear message (port 0: any free port)."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only for
    # sockets that say they are TCP; without it Nagle + delayed ACK add 40 ms per keep-alive
    # response (measured: 23 req/s instead of ~1,000).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUseError(
            f"cannot listen on {host}:{port} ({exc.strerror}): another process holds it; "
            "stop it or pass --port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the host owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


@dataclass(frozen=True)
class HostInfo:
    host: str
    port: int
    route_prefix: str
    http_routes: tuple[str, ...]
    queue_triggers: tuple[str, ...]
    timer_triggers: tuple[str, ...] = ()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


class FunctionsHost:
    """Load the app under `root` and serve it until `stop()`."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 7071,
        web_root: Path | None = None,
        cors_origins: Sequence[str] = (),
        cors_credentials: bool = False,
        environ: Mapping[str, str] | None = None,
        access_log: bool = False,
    ) -> None:
        self.root = root.resolve()
        self.host_json: HostJson = read_host_json(self.root)
        env = os.environ if environ is None else environ
        self.mode = worker_mode(env)
        self._socket = bind_socket(host, port)
        self.worker: WorkerClient | None = None
        self._http_invoker: WorkerHttpInvoker | None = None
        try:
            self._load(environ, env, access_log, web_root, cors_origins, cors_credentials)
        except BaseException:
            self._socket.close()
            self._kill_worker()
            raise
        prefix = self.host_json.route_prefix
        self.info = HostInfo(
            host=host,
            port=int(self._socket.getsockname()[1]),
            route_prefix=prefix,
            http_routes=tuple(
                f"{','.join(sorted(f.methods or {'*'}))} /{prefix}/{f.route.template}"
                for f in self._http
            ),
            queue_triggers=tuple(
                f"{r.trigger.function_name} <- {r.trigger.entity}" for r in self.runners
            ),
            timer_triggers=tuple(
                f"{t.trigger.function_name} <- timer {t.trigger.schedule!r}" for t in self.timers
            ),
        )
        self._server = _Server(
            uvicorn.Config(
                self._asgi,
                lifespan="off",
                access_log=access_log,
                log_level="info" if access_log else "warning",
                timeout_graceful_shutdown=GRACEFUL_HTTP_SHUTDOWN_SECONDS,
            )
        )
        # Stream tokens stay out of uvicorn's access log (and every other record).
        log_redaction.install()
        self._started = asyncio.Event()

    def _load(
        self,
        environ: Mapping[str, str] | None,
        env: Mapping[str, str],
        access_log: bool,
        web_root: Path | None,
        cors_origins: Sequence[str],
        cors_credentials: bool,
    ) -> None:
        """Index the app (in the worker, or here) and build the routes and trigger runners."""
        functions: Sequence[IndexedFunction]
        http_invoker: HttpInvoker | None = None
        message_invoker: MessageInvoker = invoke_message_here
        timer_invoke: TimerInvoker = invoke_timer_here
        if self.mode == "worker":
            self.worker = WorkerClient(self.root, environ, access_log=access_log)
            functions = self.worker.start()
            ids = {f.name: f.function_id for f in self.worker.functions}
            if self.worker.http_uri is not None:
                self._http_invoker = http_invoker = WorkerHttpInvoker(self.worker, ids)
            elif any(_is_http(f) for f in functions):
                raise AppLoadError(
                    "the worker runs HTTP functions through the FastAPI extension only "
                    "(azurefunctions-extensions-http-fastapi): it started no HTTP server"
                )
            message_invoker = servicebus_invoker(self.worker, ids)
            timer_invoke = timer_invoker(self.worker, ids)
        else:
            _, functions = load_function_app(self.root, environ)
        prefix = self.host_json.route_prefix
        self._http = http_functions(functions, prefix)
        self._asgi = build_http_app(
            functions, prefix, web_root, cors_origins, cors_credentials, invoker=http_invoker
        )
        self.runners = [
            QueueTriggerRunner(trigger, self.host_json.service_bus, invoke=message_invoker)
            for trigger in queue_triggers(functions, self.host_json.service_bus, environ)
        ]
        self.timers = [
            TimerTriggerRunner(trigger, invoke=timer_invoke)
            for trigger in timer_triggers(functions, env)
        ]

    def _kill_worker(self) -> None:
        if self.worker is not None:
            self.worker.kill()

    def stop(self) -> None:
        self._server.should_exit = True
        for runner in self.runners:
            runner.stop()
        for timer in self.timers:
            timer.stop()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def serve(self) -> None:
        """Serve HTTP and run the triggers; return once `stop()` was called and all drained."""
        if self.worker is not None:
            await self.worker.attach()
        tasks = [asyncio.create_task(r.run(), name=r.trigger.function_name) for r in self.runners]
        timers = [asyncio.create_task(t.run(), name=t.trigger.function_name) for t in self.timers]
        http = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="http")
        # uvicorn offers no "started" event to wait on.
        while not self._server.started and not http.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        self._started.set()
        try:
            await http
        finally:
            for runner in self.runners:
                runner.stop()
            for timer in self.timers:
                timer.stop()
            await asyncio.gather(*timers, return_exceptions=True)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for runner, result in zip(self.runners, results, strict=True):
                if isinstance(result, BaseException):
                    log.error("%s stopped with %r", runner.trigger.function_name, result)
            self._socket.close()
            if self._http_invoker is not None:
                await self._http_invoker.aclose()
            if self.worker is not None:
                await self.worker.close()
            # The app's SDK clients live as long as the process, as under the Azure worker,
            # which never closes them either; at exit aiohttp reports their sessions as
            # "unclosed" through the asyncio logger. That is noise, not a leak: mute it now
            # that nothing runs any more.
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def _is_http(function: IndexedFunction) -> bool:
    trigger = function.get_trigger()
    return trigger is not None and trigger.get_binding_name() == "httpTrigger"
