"""The emulator process: the AMQP listener, the admin HTTP listener and the clock."""

import asyncio
import contextlib
import logging
import time
from functools import partial

from .admin_http import MAX_REQUEST_BYTES, handle_client
from .amqp import AmqpConnection, now_ms
from .config import EmulatorConfig
from .store import Namespace

log = logging.getLogger("devstack.servicebus")
TICK_SECONDS = 0.05


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.namespace = Namespace(config, clock=now_ms)
        self.connections: set[AmqpConnection] = set()
        self._servers: list[asyncio.Server] = []
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, admin_port: int) -> tuple[int, int]:
        amqp = await asyncio.start_server(self._accept, host, port)
        admin = await asyncio.start_server(
            partial(handle_client, self.namespace), host, admin_port, limit=MAX_REQUEST_BYTES
        )
        self._servers = [amqp, admin]
        self._ticker = asyncio.create_task(self._tick_forever())
        return _port(amqp), _port(admin)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = AmqpConnection(self.namespace, reader, writer)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.namespace.tick()
                now_s = time.monotonic()
                for connection in list(self.connections):
                    connection.tick(now_s)
            except Exception as exc:  # a bug: one line, the traceback too at DEBUG
                log.error(
                    "internal error in the emulator clock: %r",
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for server in self._servers:
            server.close()
        for connection in list(self.connections):
            connection.writer.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])
