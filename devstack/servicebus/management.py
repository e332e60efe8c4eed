"""The `$management` node of a queue: the request/response operations the SDK uses.

Requests carry ``operation`` in their application properties and a map body; replies carry
``statusCode`` / ``statusDescription`` (and ``errorCondition`` on failure) and answer the
request's ``message_id`` in ``correlation_id``.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .codec import SCHEDULED_ENQUEUE_TIME, Array, CodecError, Timestamp, decode_message
from .delivery import encode_for_delivery
from .sessions import (
    SESSION_LOCK_LOST,
    SessionLockLostError,
    get_session_state,
    list_message_sessions,
    renew_session_lock,
    set_session_state,
)
from .store import Entity, LockLostError, MessageNotFoundError, StoredMessage

LOCK_LOST = "com.microsoft:message-lock-lost"
MESSAGE_NOT_FOUND = "com.microsoft:message-not-found"
BAD_REQUEST = "com.microsoft:argument-error"
MAX_PEEK = 1000


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    description: str
    body: Any = None
    condition: str | None = None


def _elements(value: Any) -> list[Any]:
    if isinstance(value, Array):
        return list(value.items)
    if isinstance(value, list | tuple):
        return list(value)
    raise CodecError(f"expected an array, got {type(value).__name__}")


def _tokens(body: dict[str, Any]) -> list[uuid.UUID]:
    tokens = []
    for raw in _elements(body["lock-tokens"]):
        tokens.append(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
    return tokens


def _peeked(message: StoredMessage) -> dict[str, Any]:
    return {"message": encode_for_delivery(message, message.delivery_count, locked=False)}


def handle(entity: Entity, operation: str, body: Any, now: int) -> Reply:
    """Run one management operation against ``entity`` (a queue or its dead-letter queue)."""
    if not isinstance(body, dict):
        body = {}
    run = _OPERATIONS.get(operation)
    if run is None:
        return Reply(
            501,
            f"Operation {operation!r} is not supported by this emulator",
            condition="amqp:not-implemented",
        )
    try:
        return run(entity, body, now)
    except SessionLockLostError as exc:
        return Reply(410, str(exc), condition=SESSION_LOCK_LOST)
    except LockLostError as exc:
        return Reply(410, str(exc), condition=LOCK_LOST)
    except MessageNotFoundError as exc:
        return Reply(404, str(exc), condition=MESSAGE_NOT_FOUND)
    except (KeyError, ValueError, TypeError, CodecError) as exc:
        return Reply(400, f"Bad request for {operation}: {exc!r}", condition=BAD_REQUEST)


TIMESTAMPS = 0x83
LONGS = 0x81


def _renew(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    expirations = [Timestamp(entity.renew(t, now)) for t in _tokens(body)]
    return Reply(200, "OK", {"expirations": Array(TIMESTAMPS, expirations)})


def _peek(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    start = int(body.get("from-sequence-number", 0))
    count = max(1, min(int(body.get("message-count", 1)), MAX_PEEK))
    found = entity.peek(start, count)
    if not found:
        return Reply(204, "No messages to peek")
    return Reply(200, "OK", {"messages": [_peeked(m) for m in found]})


def _schedule(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    sequence_numbers = []
    for item in body["messages"]:
        incoming = decode_message(bytes(item["message"]))
        at = incoming.annotations.get(SCHEDULED_ENQUEUE_TIME)
        if at is None:
            raise ValueError("x-opt-scheduled-enqueue-time is missing")
        sequence_numbers.append(entity.schedule(incoming, int(at), now))
    entity.pump(now)
    return Reply(200, "OK", {"sequence-numbers": Array(LONGS, sequence_numbers)})


def _cancel(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    for seq in _elements(body["sequence-numbers"]):
        entity.cancel_scheduled(int(seq))
    return Reply(200, "OK", {})


def _receive_deferred(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    peek_lock = int(body.get("receiver-settle-mode", 1)) == 1
    numbers = [int(s) for s in _elements(body["sequence-numbers"])]
    messages = []
    for message, wire in entity.receive_deferred(numbers, now, peek_lock):
        item: dict[str, Any] = {"message": encode_for_delivery(message, wire, locked=peek_lock)}
        if peek_lock and message.lock_token is not None:
            item["lock-token"] = message.lock_token
        messages.append(item)
    return Reply(200, "OK", {"messages": messages})


def _update_disposition(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    status = str(body["disposition-status"]).lower()
    for token in _tokens(body):
        if status == "completed":
            entity.complete(token, now)
        elif status == "abandoned":
            entity.abandon(token, now)
        elif status == "defered" or status == "deferred":
            entity.defer(token, now)
        elif status == "suspended":
            entity.dead_letter_locked(
                token, now, body.get("deadletter-reason"), body.get("deadletter-description")
            )
        else:
            raise ValueError(f"unknown disposition-status {status!r}")
    entity.pump(now)
    return Reply(200, "OK", {})


def _ok(
    run: Callable[[Entity, dict[str, Any], int], dict[str, Any]],
) -> Callable[[Entity, dict[str, Any], int], Reply]:
    return lambda entity, body, now: Reply(200, "OK", run(entity, body, now))


def _list_sessions(entity: Entity, body: dict[str, Any], now: int) -> Reply:
    page = list_message_sessions(entity, body, now)
    if page is None:  # as Azure: 204 (the SDK then yields no more)
        return Reply(204, "No sessions found", condition="com.microsoft:session-not-found")
    return Reply(200, "OK", page)


_OPERATIONS: dict[str, Callable[[Entity, dict[str, Any], int], Reply]] = {
    "com.microsoft:get-message-sessions": _list_sessions,
    "com.microsoft:renew-session-lock": _ok(renew_session_lock),
    "com.microsoft:get-session-state": _ok(get_session_state),
    "com.microsoft:set-session-state": _ok(set_session_state),
    "com.microsoft:renew-lock": _renew,
    "com.microsoft:peek-message": _peek,
    "com.microsoft:schedule-message": _schedule,
    "com.microsoft:cancel-scheduled-message": _cancel,
    "com.microsoft:update-disposition": _update_disposition,
    "com.microsoft:receive-by-sequence-number": _receive_deferred,
}
