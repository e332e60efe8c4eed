"""The emulator process: the AMQP listener (HTTPS management on the same port), the admin HTTP
listener and the clock."""

import asyncio
import contextlib
import logging
import time
from functools import partial
from pathlib import Path

from . import admin_atom, tls
from .admin_entities import Entities, merge_saved
from .admin_http import MAX_REQUEST_BYTES, handle_client
from .amqp import AmqpConnection, now_ms
from .config import EmulatorConfig
from .journal import Journal
from .listener import SniffingServer
from .store import Entity, Namespace

log = logging.getLogger("devstack.servicebus")
TICK_SECONDS = 0.05
DROPPED_BY_FAULT = "dropped by the fault hook (POST /faults/drop-connections)"


class Emulator:
    def __init__(
        self,
        config: EmulatorConfig,
        *,
        allow_faults: bool = False,
        journal: Journal | None = None,
        tls_dir: Path | None = tls.DEFAULT_TLS_DIR,
    ) -> None:
        """`journal`: keep the queues in it (replayed now); None: in memory. `tls_dir`: the
        certificate for the management API on the AMQP port (None: AMQP only)."""
        data_dir = journal.path.parent if journal is not None else None
        if data_dir is not None:  # the entities a previous run created, before the replay
            config = merge_saved(config, data_dir)
        self.namespace = Namespace(config, clock=now_ms)
        self.journal = journal
        self.restored = journal.open(self.namespace) if journal is not None else 0
        self.entities = Entities(self.namespace, data_dir)
        self.tls_dir = tls_dir
        self.tls_files: tls.TlsFiles | None = None
        self.connections: set[AmqpConnection] = set()
        self.allow_faults = allow_faults
        self._servers: list[asyncio.Server | SniffingServer] = []
        self._ticker: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int, admin_port: int) -> tuple[int, int]:
        context = None
        if self.tls_dir is not None:
            self.tls_files = tls.ensure_certificate(self.tls_dir, host)
            context = tls.server_context(self.tls_files)
        amqp = await SniffingServer.start(
            host,
            port,
            lambda: AmqpConnection(self.namespace, self.connections),
            admin_atom.protocol_factory(self) if context is not None else None,
            context,
        )
        admin = await asyncio.start_server(
            partial(handle_client, self), host, admin_port, limit=MAX_REQUEST_BYTES
        )
        self._servers = [amqp, admin]
        self._ticker = asyncio.create_task(self._tick_forever())
        return _port(amqp), _port(admin)

    def drop_connections(self) -> int:
        """Reset every open AMQP connection (no close frame): a network failure, on purpose."""
        connections = list(self.connections)
        for connection in connections:
            connection.abort(DROPPED_BY_FAULT)
        return len(connections)

    def detach_links(self, deleted: list[Entity]) -> int:
        """The links attached to entities just deleted (admin_atom.py): detached with
        ``amqp:not-found``, as Azure does. Answers how many."""
        count = 0
        for connection in list(self.connections):
            count += connection.detach_deleted(deleted)
            connection.flush()
        return count

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.namespace.tick()
                if self.journal is not None:
                    self.journal.write_pending()  # expiries, also with no connection open
                    self.journal.compact_if_large(self.namespace)
                now_s = time.monotonic()
                for connection in list(self.connections):
                    connection.tick(now_s)
                    connection.flush()
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
            connection.close_transport()
        await asyncio.sleep(0)  # let the transports call connection_lost
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2)
        if self.journal is not None:
            self.journal.close()


def _port(server: asyncio.Server | SniffingServer) -> int:
    return int(server.sockets[0].getsockname()[1])
