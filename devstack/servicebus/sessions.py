"""Sessions: a queue or subscription with ``RequiresSession: true``.

Each message belongs to the session named by its ``session_id`` (the AMQP group-id) and is
delivered in order within it. A session receiver (a link whose source carries a
``com.microsoft:session-filter``: a session id, or null for the next available session)
locks its session: one receiver per session until it detaches or the lock lapses; the
lock lasts ``LockDuration`` and is renewed by ``renew-session-lock``. The locks of the
session's messages follow the session lock. ``get-session-state`` / ``set-session-state``
keep one binary state per session (journalled like the messages); ``get-message-sessions``
lists the sessions. Waiting for the next available session lasts the link's
``com.microsoft:timeout`` (the SDK sends its ``max_wait_time``; 65 s otherwise), then the
attach is refused with ``com.microsoft:timeout`` (the SDK raises ``OperationTimeoutError``).
"""

import heapq
from dataclasses import dataclass, field
from typing import Any

from .codec import PROPERTIES, Array, IncomingMessage, Timestamp, decode_section_value
from .store import Consumer, Entity, LockLostError, MessageState, StoredMessage

SESSION_LOCK_LOST = "com.microsoft:session-lock-lost"
SESSION_CANNOT_BE_LOCKED = "com.microsoft:session-cannot-be-locked"
DEFAULT_WAIT_MS = 65_000


class SessionLockedError(Exception):
    """The session is locked by another receiver."""


class SessionLockLostError(LockLostError):
    """The session's lock expired or was never held."""


NO_SESSION_ID = (
    "The SessionId was not set on a message, and it cannot be sent to the entity. Entities "
    "that have session support enabled can only receive messages that have the SessionId set "
    "to a valid value."
)


def session_of(message: StoredMessage | IncomingMessage) -> str | None:
    """The message's session id (its properties' group-id), None when it has none."""
    fields = (
        decode_section_value(message.properties_raw, PROPERTIES) if message.properties_raw else None
    )
    if isinstance(fields, list) and len(fields) > 10 and fields[10] is not None:
        value = fields[10]
        return value.decode() if isinstance(value, bytes) else str(value)
    return None


@dataclass(slots=True, eq=False)
class SessionLock:
    owner: object
    locked_until_ms: int


@dataclass(slots=True, eq=False)
class Waiter:
    """A next-available session receiver waiting for a session."""

    consumer: Consumer
    deadline_ms: int
    answer: Any  # callable(session_id | None): attach or time out


@dataclass(slots=True)
class SessionEntity(Entity):
    """A queue (or subscription) whose messages are grouped into sessions."""

    session_heaps: dict[str, list[int]] = field(default_factory=dict)
    session_locks: dict[str, SessionLock] = field(default_factory=dict)
    session_states: dict[str, bytes] = field(default_factory=dict)
    state_updated_ms: dict[str, int] = field(default_factory=dict)  # when each was last set
    consumer_sessions: dict[int, str] = field(default_factory=dict)  # id(consumer) -> session
    waiters: list[Waiter] = field(default_factory=list)
    _sessions: dict[int, str] = field(default_factory=dict)  # sequence number -> session

    @property
    def needs_session_id(self) -> bool:
        return True

    # ---- where messages go -------------------------------------------------------------
    def _make_available(self, message: StoredMessage) -> None:
        message.state = MessageState.ACTIVE
        message.lock_token = None
        seq = message.sequence_number
        session = self._sessions.get(seq)
        if session is None:
            session = session_of(message) or ""
            self._sessions[seq] = session
        heapq.heappush(self.session_heaps.setdefault(session, []), seq)

    def restore(self, now: int) -> int:
        count = Entity.restore(self, now)
        for seq in self._available:
            self._make_available(self.messages[seq])
        self._available.clear()
        return count

    def _next_in(self, session: str, now: int) -> StoredMessage | None:
        return self._pop_deliverable(self.session_heaps.get(session) or [], now)

    def _has_messages(self, session: str) -> bool:
        heap = self.session_heaps.get(session) or []
        return any(
            (m := self.messages.get(seq)) is not None and m.state is MessageState.ACTIVE
            for seq in heap
        )

    # ---- session locks -----------------------------------------------------------------
    def _lock_held(self, session: str, now: int) -> SessionLock | None:
        lock = self.session_locks.get(session)
        if lock is not None and lock.locked_until_ms <= now:
            del self.session_locks[session]
            return None
        return lock

    def lock_session(self, session: str | None, consumer: Consumer, now: int) -> str | None:
        """Lock `session` (or the next available one) for `consumer`; returns its id, or None
        when no session is available now. A session locked by another receiver raises."""
        if session is None:
            candidates = sorted(
                (heap[0], name)
                for name, heap in self.session_heaps.items()
                if self._lock_held(name, now) is None and self._has_messages(name)
            )
            if not candidates:
                return None
            session = candidates[0][1]
        elif self._lock_held(session, now) is not None:
            raise SessionLockedError(
                f"The requested session '{session}' cannot be accepted. It may be locked by "
                "another receiver."
            )
        self.session_locks[session] = SessionLock(consumer, self._until(now))
        self.consumer_sessions[id(consumer)] = session
        return session

    def _until(self, now: int) -> int:
        return now + int(self.config.lock_duration_s * 1000)

    def locked_until(self, session: str) -> int:
        lock = self.session_locks.get(session)
        return lock.locked_until_ms if lock is not None else 0

    def release_session(self, consumer: Consumer) -> None:
        session = self.consumer_sessions.pop(id(consumer), None)
        if session is None:
            return
        lock = self.session_locks.get(session)
        if lock is not None and lock.owner is consumer:
            del self.session_locks[session]

    def renew_session(self, session: str, now: int) -> int:
        lock = self._lock_held(session, now)
        if lock is None:
            raise SessionLockLostError(
                f"The session lock has expired on the session '{session}'; accept it again."
            )
        lock.locked_until_ms = self._until(now)
        for token, message in list(self.locks.items()):  # the messages' locks follow it
            if self._sessions.get(message.sequence_number) == session:
                message.locked_until_ms = lock.locked_until_ms
                heapq.heappush(self._lock_heap, (message.locked_until_ms, token))
        return lock.locked_until_ms

    def check_session_lock(self, session: str, now: int) -> None:
        if self._lock_held(session, now) is None:
            raise SessionLockLostError(
                f"The session lock has expired on the session '{session}'; accept it again."
            )

    def lock(self, message: StoredMessage, now: int) -> int:
        wire = Entity.lock(self, message, now)
        session = self._sessions.get(message.sequence_number, "")
        until = self.locked_until(session)
        if until > message.locked_until_ms:
            message.locked_until_ms = until
            assert message.lock_token is not None
            heapq.heappush(self._lock_heap, (until, message.lock_token))
        return wire

    def _forget(self, sequence_number: int) -> None:
        Entity._forget(self, sequence_number)
        self._sessions.pop(sequence_number, None)

    # ---- delivering --------------------------------------------------------------------
    def pump(self, now: int) -> None:
        self._serve_waiters(now)
        for consumer in list(self.consumers):
            session = self.consumer_sessions.get(id(consumer))
            if session is None or self._lock_held(session, now) is None:
                continue
            while consumer.credit > 0:
                message = self._next_in(session, now)
                if message is None:
                    break
                if consumer.peek_lock:
                    wire = self.lock(message, now)
                else:
                    wire = message.delivery_count
                    self._forget(message.sequence_number)
                consumer.deliver(message, wire)

    def wait_for_session(self, waiter: Waiter) -> None:
        self.waiters.append(waiter)

    def _serve_waiters(self, now: int) -> None:
        if not self.waiters:
            return
        still: list[Waiter] = []
        for waiter in self.waiters:
            session = self.lock_session(None, waiter.consumer, now)
            if session is not None:
                waiter.answer(session)
            elif waiter.deadline_ms <= now:
                waiter.answer(None)
            else:
                still.append(waiter)
        self.waiters = still

    def drop_waiter(self, consumer: Consumer) -> None:
        self.waiters = [w for w in self.waiters if w.consumer is not consumer]

    def tick(self, now: int) -> None:
        Entity.tick(self, now)
        self._serve_waiters(now)

    # ---- state -------------------------------------------------------------------------
    def get_state(self, session: str) -> bytes | None:
        return self.session_states.get(session)

    def set_state(self, session: str, state: bytes | None, now: int) -> None:
        self.restore_state(session, state, now)
        if self.journal is not None:
            self.journal.session_state(self, session, state, now)

    def restore_state(self, session: str, state: bytes | None, updated_ms: int) -> None:
        if state is None:
            self.session_states.pop(session, None)
            self.state_updated_ms.pop(session, None)
        else:
            self.session_states[session] = state
            self.state_updated_ms[session] = updated_ms

    def list_sessions(self, updated_after_ms: int | None) -> list[str]:
        """The sessions with messages (not counting scheduled ones) or a stored state; with
        `updated_after_ms`, those whose state was set after it. Sorted by id."""
        if updated_after_ms is not None:
            found = {s for s, at in self.state_updated_ms.items() if at > updated_after_ms}
        else:
            found = set(self.session_states)
            for seq, message in self.messages.items():
                if message.state is not MessageState.SCHEDULED:
                    found.add(self._sessions.get(seq) or session_of(message) or "")
        return sorted(found)


# ---- $management operations on a session entity ----------------------------------------


def _session_entity(entity: Entity) -> SessionEntity:
    if not isinstance(entity, SessionEntity):
        raise ValueError(f"{entity.name} does not require sessions")
    return entity


def renew_session_lock(entity: Entity, body: dict[str, Any], now: int) -> dict[str, Any]:
    until = _session_entity(entity).renew_session(str(body["session-id"]), now)
    return {"expiration": Timestamp(until)}


def get_session_state(entity: Entity, body: dict[str, Any], now: int) -> dict[str, Any]:
    sessions = _session_entity(entity)
    session = str(body["session-id"])
    sessions.check_session_lock(session, now)
    return {"session-state": sessions.get_state(session)}


def set_session_state(entity: Entity, body: dict[str, Any], now: int) -> dict[str, Any]:
    sessions = _session_entity(entity)
    session = str(body["session-id"])
    sessions.check_session_lock(session, now)
    state = body.get("session-state")
    sessions.set_state(session, None if state is None else bytes(state), now)
    return {}


# the SDK's `last-updated-time` for "every session with messages or a state" (DateTime.MaxValue)
LIST_ALL_SESSIONS_MS = 253402300800000


def list_message_sessions(entity: Entity, body: dict[str, Any], now: int) -> dict[str, Any] | None:
    """``get-message-sessions``: a page (`skip`, `top`) of session ids; None when empty."""
    sessions = _session_entity(entity)
    since = int(body.get("last-updated-time", LIST_ALL_SESSIONS_MS))
    skip = max(0, int(body.get("skip", 0)))
    top = max(0, int(body.get("top", 100)))
    found = sessions.list_sessions(None if since >= LIST_ALL_SESSIONS_MS else since)
    page = found[skip : skip + top]
    if not page:
        return None
    return {"skip": skip, "sessions-ids": Array(0xB1, page)}
