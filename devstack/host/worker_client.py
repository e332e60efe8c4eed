"""The host's side of the language worker: start it, index the app through it, invoke.

Stands for the Functions host's worker channel (`RpcWorkerChannel` in Azure): start the
worker process with the address to dial, send `WorkerInitRequest` (the worker imports and
indexes the app, and starts its HTTP v2 server), `FunctionsMetadataRequest` (each
function's id and raw bindings), a `FunctionLoadRequest` per function, then one
`InvocationRequest` per trigger event. The start-up runs before the host's event loop
serves anything, on a blocking socket; `attach()` moves the channel into the loop.

The functions the host routes and triggers come from the worker's metadata
(`WorkerFunction`), as in Azure: the host process never imports the app.

(Over 300 lines: one worker's start-up, its running channel and the trigger invokers
that use it, read together.)
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from azure.servicebus import ServiceBusReceivedMessage

from devstack.host import protos
from devstack.host.channel import (
    ChannelClosed,
    read_message,
    recv_sync,
    send_sync,
    write_message,
)
from devstack.host.loader import AppLoadError
from devstack.host.servicebus_trigger import QueueTrigger
from devstack.host.timer_trigger import TimerTrigger
from devstack.host.trigger_data import message_body, servicebus_trigger_metadata, timer_trigger_data

log = logging.getLogger("devstack.host.worker")

WORKER_START_TIMEOUT_SECONDS = 60.0
WORKER_STOP_TIMEOUT_SECONDS = 10.0
HOST_VERSION = "4.0.0-devstack"
DEVSTACK_PARENT = Path(__file__).resolve().parents[2]


class InvocationFailed(RuntimeError):
    """The function raised (the worker answered StatusResult.Failure)."""


class WorkerGone(ConnectionError):
    """The worker process closed its channel or died."""


@dataclass(frozen=True)
class RawBinding:
    """One of a function's bindings as the worker reports it (its `raw_bindings` JSON)."""

    spec: dict[str, Any]

    def get_binding_name(self) -> str:
        return str(self.spec["type"])

    def get_dict_repr(self) -> dict[str, Any]:
        return self.spec


@dataclass(frozen=True)
class WorkerFunction:
    """A function as the host knows it from the worker's metadata (the parts of
    `func.Function` the routing and trigger code read)."""

    name: str
    function_id: str
    bindings: tuple[RawBinding, ...]

    def get_function_name(self) -> str:
        return self.name

    def get_trigger(self) -> RawBinding | None:
        return next((b for b in self.bindings if b.get_binding_name().endswith("Trigger")), None)

    def get_user_function(self) -> Callable[..., NoReturn]:
        def runs_in_the_worker(**_: Any) -> NoReturn:
            raise RuntimeError(f"{self.name} runs in the worker process, not in the host")

        return runs_in_the_worker


def _status(result: protos.StatusResult | None, what: str) -> None:
    if result is None or result.status != protos.StatusResult.Success:
        message = result.exception.message if result and result.exception else "no result"
        raise AppLoadError(f"the worker refused the {what}: {message}")


@dataclass
class WorkerClient:
    root: Path
    environ: Mapping[str, str] | None = None
    access_log: bool = False
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    http_uri: str | None = None
    functions: list[WorkerFunction] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    _sock: socket.socket | None = None
    _writer: asyncio.StreamWriter | None = None
    _pending: dict[str, asyncio.Future[protos.StreamingMessage]] = field(default_factory=dict)
    _reader_task: asyncio.Task[None] | None = None
    _gone: bool = False

    # --- start-up (blocking) ----------------------------------------------------------------

    def start(self) -> list[WorkerFunction]:
        """Start the worker and load every function; raise AppLoadError if it cannot."""
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = int(listener.getsockname()[1])
            env = dict(os.environ if self.environ is None else {**os.environ, **self.environ})
            # The worker module is ours, not the app's: it is found beside `devstack`.
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(DEVSTACK_PARENT), env.get("PYTHONPATH", "")) if p
            )
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "devstack.host.worker_process",
                    "--host", "127.0.0.1", "--port", str(port), "--worker-id", self.worker_id,
                    *(["--access-log"] if self.access_log else []),
                ],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                # Its own session: Ctrl-C reaches the host, which drains, then closes the
                # channel; the worker exits when the channel closes.
                start_new_session=True,
            )  # fmt: skip
            self._sock = self._accept(listener)
        self._sock.settimeout(WORKER_START_TIMEOUT_SECONDS)
        init = self._call_sync(
            worker_init_request=protos.WorkerInitRequest(
                host_version=HOST_VERSION,
                capabilities={},
                function_app_directory=str(self.root),
                worker_directory=str(self.root),
            )
        ).worker_init_response
        _status(init.result, "app (worker init)")
        self.http_uri = init.capabilities.get("HttpUri")
        metadata = self._call_sync(
            functions_metadata_request=protos.FunctionsMetadataRequest(
                function_app_directory=str(self.root)
            )
        ).function_metadata_response
        _status(metadata.result, "functions metadata request")
        if not metadata.function_metadata_results:
            raise AppLoadError(f"the worker found no functions in {self.root}")
        for meta in metadata.function_metadata_results:
            loaded = self._call_sync(
                function_load_request=protos.FunctionLoadRequest(
                    function_id=meta.function_id, metadata=meta
                )
            ).function_load_response
            _status(loaded.result, f"load of {meta.name}")
            self.functions.append(
                WorkerFunction(
                    name=meta.name,
                    function_id=meta.function_id,
                    bindings=tuple(RawBinding(json.loads(b)) for b in meta.raw_bindings),
                )
            )
        if self.http_uri:
            self._wait_for_http_server(self.http_uri)
        self._sock.settimeout(None)
        return self.functions

    def _accept(self, listener: socket.socket) -> socket.socket:
        assert self.process is not None
        listener.settimeout(0.2)
        deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AppLoadError(
                    f"the worker process exited with {self.process.returncode} before starting"
                )
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn
        self.kill()
        raise AppLoadError("the worker process did not connect in time")

    def _call_sync(self, **content: Any) -> protos.StreamingMessage:
        assert self._sock is not None
        request_id = uuid.uuid4().hex
        try:
            send_sync(self._sock, protos.StreamingMessage(request_id=request_id, **content))
            response = recv_sync(self._sock)
        except (OSError, ChannelClosed) as exc:
            self.kill()
            raise AppLoadError(
                f"the worker process stopped while loading the app ({exc})"
            ) from None
        if response.request_id != request_id:
            raise AppLoadError(f"the worker answered {response.request_id}, not {request_id}")
        return response

    def _wait_for_http_server(self, uri: str) -> None:
        host, _, port = uri.removeprefix("http://").partition(":")
        deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1.0):
                return
            time.sleep(0.02)
        raise AppLoadError(f"the worker's HTTP server at {uri} did not start")

    # --- the running channel ----------------------------------------------------------------

    async def attach(self) -> None:
        """Move the channel into the running event loop (called once, by `serve`)."""
        assert self._sock is not None
        self._sock.setblocking(False)
        reader, self._writer = await asyncio.open_connection(sock=self._sock)
        self._reader_task = asyncio.create_task(self._read(reader), name="worker-channel")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await read_message(reader)
                future = self._pending.pop(message.request_id, None)
                if future is not None and not future.done():
                    future.set_result(message)
        except ChannelClosed:
            if not self._gone:
                log.error("the worker process closed its channel (exit code %s)", self._exit_code())
        finally:
            self._gone = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(WorkerGone("the worker process is gone"))
            self._pending.clear()

    def _exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    async def invoke(self, request: protos.InvocationRequest) -> protos.InvocationResponse:
        """Send one invocation; return the worker's response (raises WorkerGone)."""
        if self._gone or self._writer is None:
            raise WorkerGone("the worker process is gone")
        request_id = uuid.uuid4().hex
        future: asyncio.Future[protos.StreamingMessage] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await write_message(
                self._writer,
                protos.StreamingMessage(request_id=request_id, invocation_request=request),
            )
            response = await future
        finally:
            self._pending.pop(request_id, None)
        result: protos.InvocationResponse = response.invocation_response
        return result

    async def invoke_or_raise(self, request: protos.InvocationRequest) -> None:
        """Invoke; raise InvocationFailed with the function's error if it raised."""
        response = await self.invoke(request)
        result = response.result
        if result is None or result.status != protos.StatusResult.Success:
            error = result.exception.message if result and result.exception else "no result"
            raise InvocationFailed(error)

    async def close(self) -> None:
        """Close the channel (the worker exits), then wait for the process."""
        self._gone = True
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        elif self._sock is not None:
            self._sock.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self.process is not None:
            try:
                await asyncio.to_thread(self.process.wait, WORKER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("the worker process did not exit; killing it")
                self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def invocation(
    function_id: str,
    input_data: list[protos.ParameterBinding],
    trigger_metadata: dict[str, protos.TypedData] | None = None,
    invocation_id: str | None = None,
) -> protos.InvocationRequest:
    return protos.InvocationRequest(
        invocation_id=invocation_id or str(uuid.uuid4()),
        function_id=function_id,
        input_data=input_data,
        trigger_metadata=trigger_metadata or {},
        trace_context=protos.RpcTraceContext(trace_parent="", trace_state="", attributes={}),
        retry_context=protos.RetryContext(retry_count=0, max_retry_count=0),
    )


def servicebus_invoker(
    worker: WorkerClient, function_ids: Mapping[str, str]
) -> Callable[[QueueTrigger, ServiceBusReceivedMessage], Awaitable[None]]:
    """The queue trigger's invocation in the worker: the body as input, the message's
    properties as trigger metadata (`trigger_data`); raises when the function failed."""

    async def invoke(trigger: QueueTrigger, message: ServiceBusReceivedMessage) -> None:
        data = protos.TypedData(bytes=message_body(message))
        await worker.invoke_or_raise(
            invocation(
                function_ids[trigger.function_name],
                [protos.ParameterBinding(name=trigger.arg_name, data=data)],
                servicebus_trigger_metadata(message),
            )
        )

    return invoke


def timer_invoker(
    worker: WorkerClient, function_ids: Mapping[str, str]
) -> Callable[[TimerTrigger, bool], Awaitable[None]]:
    async def invoke(trigger: TimerTrigger, past_due: bool) -> None:
        data = timer_trigger_data(trigger.schedule, past_due=past_due)
        await worker.invoke_or_raise(
            invocation(
                function_ids[trigger.function_name],
                [protos.ParameterBinding(name=trigger.arg_name, data=data)],
            )
        )

    return invoke
