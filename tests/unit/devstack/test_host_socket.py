import asyncio
import socket

import pytest
import uvicorn

from devstack.host.server import PortInUseError, bind_socket


async def test_accepted_connections_get_tcp_nodelay() -> None:
    # Without it, Nagle + delayed ACK hold each keep-alive response (and each SSE frame)
    # back by ~40 ms.
    sock = bind_socket("127.0.0.1", 0)
    nodelay: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted = writer.get_extra_info("socket")
        nodelay.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname())
        value = await nodelay
        writer.close()

    assert value != 0


def test_a_taken_port_is_a_clear_error() -> None:
    holder = bind_socket("127.0.0.1", 0)
    try:
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port)
    finally:
        holder.close()


def test_http_is_parsed_by_httptools_as_uvicorn_picks_it() -> None:
    """The local host and the worker's FastAPI extension both leave uvicorn's `http="auto"`:
    with httptools installed (requirements.txt) that is its C parser, not h11."""

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    config = uvicorn.Config(app, lifespan="off")
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
