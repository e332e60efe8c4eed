"""The language worker process: the real Python worker (`azure_functions_runtime`) behind
our channel. `python -m devstack.host.worker_process --host H --port P --worker-id ID`.

What is Azure's own code here: every handler (`azure_functions_runtime.handle_event`:
worker init, which imports the app and indexes it, functions metadata, function load,
invocation), the bindings that turn trigger data into `func.ServiceBusMessage` or
`TimerRequest`, and the HTTP v2 server the runtime starts for the FastAPI extension.

What stands in: this loop, for the proxy worker that ships with the Functions host
(`azure-functions-python-worker`'s gRPC client, not on PyPI for Python 3.13): it dials the
host (`devstack.host.channel` instead of gRPC), hands each request to its handler with the
properties the proxy worker passes (`host`: the address the HTTP v2 server binds;
`protos`: the message classes, `devstack.host.protos`) and sends the response back. Log
records stay in this process's stderr (in Azure they travel to the host as `RpcLog`).
When the channel closes (the host stopped or died) the worker exits.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from devstack.host import protos
from devstack.host.channel import ChannelClosed, read_message, write_message

log = logging.getLogger("devstack.host.worker")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [worker]: %(message)s"


class WorkerRequest:
    """What the proxy worker hands each handler: the message and its properties."""

    def __init__(self, request: protos.StreamingMessage, properties: dict[str, Any]) -> None:
        self.request = request
        self.properties = properties


Handler = Callable[[WorkerRequest], Awaitable[Any]]


def handlers() -> dict[str, tuple[Handler, str]]:
    """Each request kind -> the runtime's handler and the response's field name."""
    import azure_functions_runtime.handle_event as handle_event

    return {
        "worker_init_request": (handle_event.worker_init_request, "worker_init_response"),
        "functions_metadata_request": (
            handle_event.functions_metadata_request,
            "function_metadata_response",
        ),
        "function_load_request": (handle_event.function_load_request, "function_load_response"),
        "invocation_request": (handle_event.invocation_request, "invocation_response"),
    }


def configure_logging(access_log: bool) -> None:
    import uvicorn.config

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    # The runtime logs each invocation at INFO on "azure.functions" (the host's
    # per-invocation log in Azure); the HTTP v2 server uses uvicorn's default logging,
    # built when it starts: both at WARNING unless the host logs every request.
    level = "INFO" if access_log else "WARNING"
    logging.getLogger("azure").setLevel(logging.WARNING)
    logging.getLogger("azure.functions").setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn.config.LOGGING_CONFIG["loggers"].setdefault(name, {})["level"] = level


class Worker:
    def __init__(self, host: str, port: int, worker_id: str) -> None:
        self.host = host
        self.port = port
        self.worker_id = worker_id
        self._handlers = handlers()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while True:
                try:
                    message = await read_message(reader)
                except ChannelClosed:
                    log.info("worker %s: the host closed the channel", self.worker_id)
                    return
                task = asyncio.create_task(self._handle(message, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            # Leaving now cancels the runtime's HTTP server task, which uvicorn reports as
            # an error with a traceback: expected at exit, so muted.
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
            for task in list(self._tasks):
                task.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, message: protos.StreamingMessage, writer: asyncio.StreamWriter) -> None:
        kind = message.WhichOneof("content")
        if kind is None or kind not in self._handlers:
            log.warning("worker %s: ignoring a %s message", self.worker_id, kind)
            return
        if kind == "worker_init_request":
            # As the proxy worker does: the app root goes first on sys.path.
            directory = message.worker_init_request.function_app_directory
            if directory and directory not in sys.path:
                sys.path.insert(0, directory)
        handler, reply = self._handlers[kind]
        request = WorkerRequest(message, {"host": self.host, "protos": protos})
        try:
            response = await handler(request)
        except Exception as exc:
            # The runtime answers a failure itself; this is for what escapes it, so the
            # host is never left waiting.
            log.exception("worker %s: the %s handler raised", self.worker_id, kind)
            response = failure(kind, message, exc)
        with contextlib.suppress(ConnectionError):
            await write_message(
                writer, protos.StreamingMessage(request_id=message.request_id, **{reply: response})
            )


def failure(kind: str, message: protos.StreamingMessage, exc: Exception) -> protos.Message:
    result = protos.StatusResult(
        status=protos.StatusResult.Failure,
        exception=protos.RpcException(message=f"{type(exc).__name__}: {exc}", stack_trace=""),
    )
    if kind == "invocation_request":
        return protos.InvocationResponse(
            invocation_id=message.invocation_request.invocation_id, result=result
        )
    if kind == "function_load_request":
        return protos.FunctionLoadResponse(
            function_id=message.function_load_request.function_id, result=result
        )
    if kind == "functions_metadata_request":
        return protos.FunctionMetadataResponse(result=result)
    return protos.WorkerInitResponse(result=result)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.host.worker_process")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--access-log", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.access_log)
    os.environ.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
    asyncio.run(Worker(args.host, args.port, args.worker_id).run())
    # The app's SDK clients live as long as the process (as in Azure): mute their
    # "unclosed session" notes at exit.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
