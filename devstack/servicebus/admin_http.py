"""A tiny HTTP endpoint for queue runtime counts (the SDK's admin client speaks HTTPS/ATOM to
Azure, which is out of scope for a local emulator), read-only, plus one fault hook for tests.

GET /health                 -> 200 {"status": "ok"}
GET /queues                 -> 200 ["queue-a", ...]
GET /queues/{name}/runtime  -> 200 {"name", "activeMessageCount", "deadLetterMessageCount",
                                    "scheduledMessageCount", "totalMessageCount"}; 404 if unknown
GET /queues/{name}/message-ids/{id}
                            -> 200 {"messageId", "sends"}: how many sends carried that MessageId
                               within the queue's duplicate-detection window (1: sent once; more:
                               sent again, the repeats dropped); 404 if not seen (or the queue
                               does not detect duplicates)
POST /faults/drop-connections
                            -> 200 {"dropped": N}: every open AMQP connection is reset (no
                               close frame). Only with --allow-faults; 403 otherwise.
"""

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from .server import Emulator

MAX_REQUEST_BYTES = 8192
_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}
FAULTS = "/faults/drop-connections"


def route(emulator: "Emulator", method: str, target: str) -> tuple[int, Any]:
    """The status and JSON body for one request."""
    path = unquote(urlsplit(target).path).rstrip("/")
    namespace = emulator.namespace
    if path == FAULTS:
        if method != "POST":
            return 405, {"error": f"{method} is not allowed; POST drops the connections"}
        if not emulator.allow_faults:
            return 403, {"error": "fault hooks are off; start the emulator with --allow-faults"}
        return 200, {"dropped": emulator.drop_connections()}
    if method not in ("GET", "HEAD"):
        return 405, {"error": f"{method} is not allowed; this endpoint is read-only"}
    if path == "/health":
        return 200, {"status": "ok"}
    if path == "/queues":
        return 200, [q.name for q in namespace.queues.values()]
    parts = path.split("/")
    if len(parts) == 5 and parts[1] == "queues" and parts[3] == "message-ids":
        queue = namespace.queue(parts[2])
        if queue is None:
            return 404, {"error": f"queue {parts[2]!r} does not exist"}
        namespace.tick()
        sends = queue.sends_of(parts[4])
        if sends is None:
            return 404, {"error": f"no send of message id {parts[4]!r} within the window"}
        return 200, {"messageId": parts[4], "sends": sends}
    if len(parts) == 4 and parts[1] == "queues" and parts[3] == "runtime":
        queue = namespace.queue(parts[2])
        if queue is None:
            return 404, {"error": f"queue {parts[2]!r} does not exist"}
        namespace.tick()
        return 200, {"name": queue.name, **queue.runtime()}
    return 404, {"error": f"no route for {path!r}"}


async def handle_client(
    emulator: "Emulator", reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _version = request_line.split(" ", 2)
        status, body = route(emulator, method, target)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
        status, body = 400, {"error": "malformed request"}
        method = "GET"
    payload = json.dumps(body).encode()
    headers = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(ConnectionError):
        writer.write(headers + (payload if method != "HEAD" else b""))
        await writer.drain()
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
