"""One port, two protocols: AMQP and HTTPS (the administration client's ATOM requests).

`ServiceBusAdministrationClient` speaks HTTPS to the connection string's own host and port
(azure-servicebus 7.15 builds ``https://{host:port}`` whatever ``UseDevelopmentEmulator``
says), while every other client speaks plain AMQP there. Each accepted connection is looked
at once, before any protocol runs: its first byte, read with ``MSG_PEEK`` (nothing consumed),
is ``0x16`` for a TLS handshake record (a ClientHello) and ``A`` for AMQP's protocol header
``AMQP\\x00\\x01\\x00\\x00`` (or ``\\x03`` SASL). The socket is then handed to asyncio with
TLS or without it, so after that first look an AMQP connection runs exactly as before: one
extra ``recv(MSG_PEEK)`` per connection, nothing per frame.
"""

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable

log = logging.getLogger("devstack.servicebus")

TLS_HANDSHAKE = 0x16  # TLS record type "handshake": the ClientHello's first byte
FIRST_BYTE_TIMEOUT_S = 30.0
TLS_HANDSHAKE_TIMEOUT_S = 10.0

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


def classify(first: bytes) -> str:
    """``tls``, ``amqp`` or ``unknown`` from a connection's first byte(s)."""
    if not first:
        return "unknown"
    if first[0] == TLS_HANDSHAKE:
        return "tls"
    if first[:1] == b"A":
        return "amqp"
    return "unknown"


class SniffingServer:
    """Accepts on one socket; AMQP connections get `amqp`, TLS ones `https` over TLS."""

    def __init__(
        self,
        sock: socket.socket,
        amqp: ProtocolFactory,
        https: ProtocolFactory | None,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._sock = sock
        self._amqp = amqp
        self._https = https
        self._ssl = ssl_context
        self._accepting: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.sockets = [sock]

    @classmethod
    async def start(
        cls,
        host: str,
        port: int,
        amqp: ProtocolFactory,
        https: ProtocolFactory | None,
        ssl_context: ssl.SSLContext | None,
    ) -> "SniffingServer":
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=512, reuse_port=False)
        sock.setblocking(False)
        server = cls(sock, amqp, https, ssl_context)
        server._accepting = asyncio.create_task(server._accept_forever())
        return server

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _address = await loop.sock_accept(self._sock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("cannot accept a connection: %s", exc)
                    await asyncio.sleep(0.1)
                    continue
                raise
            task = asyncio.create_task(self._hand_over(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _first_byte(self, conn: socket.socket) -> bytes:
        """The connection's first byte, peeked (left for the protocol); b"" at EOF."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(FIRST_BYTE_TIMEOUT_S):
            while True:
                readable: asyncio.Future[None] = loop.create_future()

                def ready(readable: asyncio.Future[None] = readable) -> None:
                    if not readable.done():
                        readable.set_result(None)

                loop.add_reader(conn.fileno(), ready)
                try:
                    await readable
                finally:
                    loop.remove_reader(conn.fileno())
                try:
                    return conn.recv(1, socket.MSG_PEEK)
                except (BlockingIOError, InterruptedError):
                    continue  # a spurious wake-up: wait again

    async def _hand_over(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            kind = classify(await self._first_byte(conn))
        except (TimeoutError, OSError):
            conn.close()
            return
        if kind != "tls" or self._https is None or self._ssl is None:
            # AMQP, and anything else too: the engine answers a wrong header as it always did
            await loop.connect_accepted_socket(self._amqp, conn)
            return
        try:
            await loop.connect_accepted_socket(
                self._https,
                conn,
                ssl=self._ssl,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S,
            )
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            # a client that does not trust the certificate ends here (docs: trusting it)
            log.warning("TLS handshake on the AMQP port failed: %s", exc)
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
        for task in list(self._pending):
            task.cancel()
        self._sock.close()

    async def wait_closed(self) -> None:
        tasks = [t for t in (self._accepting, *self._pending) if t is not None]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
