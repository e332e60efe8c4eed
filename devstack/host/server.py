"""The local Functions host: the app's HTTP functions on uvicorn plus its queue triggers."""

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
from devstack.host.http_app import build_http_app, http_functions
from devstack.host.loader import load_function_app
from devstack.host.servicebus_trigger import QueueTriggerRunner, queue_triggers
from devstack.host.timer_trigger import TimerTriggerRunner, timer_triggers
from function_app.entrypoints import log_redaction

log = logging.getLogger("devstack.host")

GRACEFUL_HTTP_SHUTDOWN_SECONDS = 5


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
        _, functions = load_function_app(self.root, environ)
        prefix = self.host_json.route_prefix
        self._http = http_functions(functions, prefix)
        self._asgi = build_http_app(functions, prefix, web_root, cors_origins, cors_credentials)
        self.runners = [
            QueueTriggerRunner(trigger, self.host_json.service_bus)
            for trigger in queue_triggers(functions, self.host_json.service_bus, environ)
        ]
        self.timers = [
            TimerTriggerRunner(trigger)
            for trigger in timer_triggers(functions, os.environ if environ is None else environ)
        ]
        self._socket = bind_socket(host, port)
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
            # The app's SDK clients live as long as the process, as under the Azure worker,
            # which never closes them either; at exit aiohttp reports their sessions as
            # "unclosed" through the asyncio logger. That is noise, not a leak: mute it now
            # that nothing runs any more.
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
