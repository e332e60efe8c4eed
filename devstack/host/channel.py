"""The host <-> worker channel: our stand-in for the Functions host's gRPC `EventStream`.

In Azure the host and the language worker talk over one bidirectional gRPC stream of
`StreamingMessage`s (FunctionRpc.proto), the worker dialling the host at the address it was
started with (`--host --port --workerId`). Here the worker dials a local TCP socket and
each `StreamingMessage` goes as one frame: a 4-byte big-endian length, then the message as
JSON (`protos.encode`). Request and response carry the same `request_id`; invocations run
side by side, so responses come back in any order.
"""

import asyncio
import json
import socket
import struct

from devstack.host import protos

_LENGTH = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024  # the host's gRPC max message length is 2 GiB; 256 MiB here


class ChannelClosed(ConnectionError):
    """The other side closed the channel (or died)."""


async def read_message(reader: asyncio.StreamReader) -> protos.StreamingMessage:
    try:
        header = await reader.readexactly(_LENGTH.size)
        (length,) = _LENGTH.unpack(header)
        if length > MAX_FRAME_BYTES:
            raise ChannelClosed(f"frame of {length} bytes is over the limit")
        payload = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ChannelClosed("the channel was closed") from exc
    message = protos.decode(json.loads(payload))
    if not isinstance(message, protos.StreamingMessage):
        raise ChannelClosed(f"not a StreamingMessage: {type(message).__name__}")
    return message


def frame(message: protos.StreamingMessage) -> bytes:
    payload = json.dumps(protos.encode(message), separators=(",", ":")).encode("utf-8")
    return _LENGTH.pack(len(payload)) + payload


async def write_message(writer: asyncio.StreamWriter, message: protos.StreamingMessage) -> None:
    writer.write(frame(message))
    await writer.drain()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ChannelClosed("the channel was closed")
        chunks += chunk
    return bytes(chunks)


def send_sync(sock: socket.socket, message: protos.StreamingMessage) -> None:
    """`write_message` for a blocking socket (the host's start-up, before its event loop)."""
    sock.sendall(frame(message))


def recv_sync(sock: socket.socket) -> protos.StreamingMessage:
    (length,) = _LENGTH.unpack(_recv_exactly(sock, _LENGTH.size))
    if length > MAX_FRAME_BYTES:
        raise ChannelClosed(f"frame of {length} bytes is over the limit")
    message = protos.decode(json.loads(_recv_exactly(sock, length)))
    if not isinstance(message, protos.StreamingMessage):
        raise ChannelClosed(f"not a StreamingMessage: {type(message).__name__}")
    return message
