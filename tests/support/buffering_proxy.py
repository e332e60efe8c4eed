"""A reverse proxy that buffers whole responses, as some corporate proxies and gateways do.

Each request is sent on to the upstream host; its response is read to the very end before a
single byte of it goes back, then sent at once with a `Content-Length` (a chunked body is
decoded first). So a Server-Sent Events stream reaches the client only when the server ends
it, all of its events together: what a browser sees behind such a proxy. A client that goes
away while its response is being buffered closes the upstream connection too.

One request per client connection (the response says `Connection: close`). Plain HTTP/1.1,
asyncio streams only, for tests: `python -m tests.support.buffering_proxy --port P --upstream
http://127.0.0.1:U`, or `buffering_proxy(upstream, workdir)` (a context manager: the process
on a free port, stopped by its pid) in a test.
"""

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024
# Headers that belong to one hop (RFC 9110 7.6.1), and the ones this proxy sets itself.
HOP_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    }
)


def split_head(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The start line and the header fields of a message head (without its blank line)."""
    lines = head.split(b"\r\n")
    fields = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        fields.append((name.strip(), value.strip()))
    return lines[0], fields


def join_head(start: bytes, fields: list[tuple[bytes, bytes]]) -> bytes:
    return b"\r\n".join([start, *(name + b": " + value for name, value in fields)]) + b"\r\n\r\n"


def header(fields: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in fields:
        if key.lower() == name:
            return value
    return None


def dechunk(body: bytes) -> bytes:
    """A chunked body (RFC 9112 7.1) decoded; a cut-off last chunk is kept as far as it goes."""
    out = bytearray()
    at = 0
    while at < len(body):
        end = body.find(b"\r\n", at)
        if end < 0:
            break
        size = int(body[at:end].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2
    return bytes(out)


def buffered_response(raw: bytes) -> bytes:
    """The upstream's whole response, re-framed: Content-Length, Connection: close."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    start, fields = split_head(head)
    if (header(fields, b"transfer-encoding") or b"").lower().endswith(b"chunked"):
        body = dechunk(body)
    kept = [(k, v) for k, v in fields if k.lower() not in HOP_HEADERS]
    kept += [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close")]
    return join_head(start, kept) + body


async def relay(
    client: asyncio.StreamReader, to_client: asyncio.StreamWriter, host: str, port: int
) -> None:
    head = await client.readuntil(b"\r\n\r\n")
    start, fields = split_head(head[:-4])
    length = int(header(fields, b"content-length") or b"0")
    body = await client.readexactly(length) if length else b""
    kept = [(k, v) for k, v in fields if k.lower() not in HOP_HEADERS and k.lower() != b"host"]
    kept += [(b"Host", f"{host}:{port}".encode()), (b"Connection", b"close")]
    if body:
        kept.append((b"Content-Length", str(len(body)).encode()))
    upstream, to_upstream = await asyncio.open_connection(host, port)
    try:
        to_upstream.write(join_head(start, kept) + body)
        await to_upstream.drain()
        whole = asyncio.ensure_future(upstream.read())  # to the end: the server closes it
        gone = asyncio.ensure_future(client.read(1))  # b"": the client went away
        try:
            await asyncio.wait({whole, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not whole.done():
            whole.cancel()
            return
        to_client.write(buffered_response(whole.result()))
        await to_client.drain()
    finally:
        to_upstream.close()


async def serve(port: int, upstream: str) -> None:
    target = urlsplit(upstream)
    host, upstream_port = target.hostname or "127.0.0.1", target.port or 80

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await relay(reader, writer, host, upstream_port)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, limit=MAX_HEAD_BYTES)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.buffering_proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://host:port")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.upstream))
    return 0


@contextlib.contextmanager
def buffering_proxy(upstream: str, workdir: Path) -> Iterator[str]:
    """The proxy in front of `upstream` (its origin, `http://host:port`) on a free port: its
    base URL. Stopped by its pid when the block ends."""
    from tests.support.stack import free_port, start_python, stop_process, wait_for_http

    port = free_port()
    log_path = workdir / "buffering-proxy.log"
    process = start_python(
        ["-m", "tests.support.buffering_proxy", "--port", str(port), "--upstream", upstream],
        dict(os.environ),
        log_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/api/v1/health", process, log_path)
        yield base
    finally:
        stop_process(process)


if __name__ == "__main__":
    sys.exit(main())
