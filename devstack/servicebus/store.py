"""In-memory queues: ordering, locks, delivery counts, scheduling, TTL, dead-lettering,
duplicate detection and auto-forwarding. Pure Python; the AMQP layer drives it and supplies
the time.

(Over 300 lines: one state machine of a queue's messages; its rules interlock: forwarding
happens where a message would be stored, made available or dead-lettered.)
"""

import heapq
import itertools
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from .codec import IncomingMessage, decode_application_properties, encode_application_properties
from .config import EmulatorConfig, QueueConfig

if TYPE_CHECKING:
    from .journal import Journal
    from .topics import Topic

_TOKEN_COUNTER_BITS = 48
_TOKEN_BASE = int.from_bytes(os.urandom(16)) >> _TOKEN_COUNTER_BITS << _TOKEN_COUNTER_BITS
_token_counter = itertools.count()


def new_lock_token() -> uuid.UUID:
    """A lock token unique in this process and unlikely in any other: 74 random bits drawn
    at start and a 48-bit counter, in a version-4 shape as Azure's. Cheaper than ``uuid4``,
    which asks the kernel for 16 random bytes per message."""
    count = next(_token_counter) & ((1 << _TOKEN_COUNTER_BITS) - 1)
    return uuid.UUID(int=_TOKEN_BASE | count, version=4)


DEAD_LETTER_REASON = "DeadLetterReason"
DEAD_LETTER_DESCRIPTION = "DeadLetterErrorDescription"
# Auto-forwarding: Azure forwards a message at most 4 times, then dead-letters it.
MAX_FORWARD_HOPS = 4
HOPS_EXCEEDED = "MaxTransferHopCountExceeded"
HOPS_EXCEEDED_DESCRIPTION = (
    f"The maximum number of allowed hops ({MAX_FORWARD_HOPS}) when forwarding between queues "
    "has been exceeded."
)
NO_SESSION = "Session ID is null"
NO_SESSION_DESCRIPTION = (
    "Session enabled entity doesn't allow a message whose session identifier is null."
)


class MessageState(IntEnum):
    """Values of ``x-opt-message-state`` as Azure sends them, plus the broker's LOCKED."""

    ACTIVE = 0
    DEFERRED = 1
    SCHEDULED = 2
    LOCKED = 3


class LockLostError(Exception):
    """The lock token is unknown or its lock expired."""


class MessageNotFoundError(Exception):
    """No message with that sequence number in the state asked for."""


@dataclass(slots=True, eq=False)
class StoredMessage:
    sequence_number: int
    message_id: str | None
    ttl_ms: int | None
    annotations: dict[Any, Any]
    properties_raw: bytes
    application_properties_raw: bytes
    body_raw: bytes
    enqueued_time_ms: int
    expires_at_ms: int
    state: MessageState = MessageState.ACTIVE
    scheduled_ms: int | None = None
    delivery_count: int = 0
    lock_token: uuid.UUID | None = None
    locked_until_ms: int = 0
    dead_letter_source: str | None = None
    # the client's message annotations, encoded once for every delivery (delivery.py)
    encoded_annotations: tuple[bytes, int] | None = None
    hops: int = 0  # times auto-forwarded (not journalled)


def carried(message: StoredMessage) -> IncomingMessage:
    """A stored message as the broker sends it on (forwarded, or a topic's scheduled one):
    its properties, body and annotations as they are, its hop count."""
    return IncomingMessage(
        ttl_ms=message.ttl_ms,
        annotations=message.annotations,
        message_id=message.message_id,
        properties_raw=message.properties_raw,
        application_properties_raw=message.application_properties_raw,
        body_raw=message.body_raw,
        hops=message.hops,
        encoded_annotations=message.encoded_annotations,
    )


class Consumer(Protocol):
    """A receive link as the store sees it."""

    @property
    def credit(self) -> int: ...

    @property
    def peek_lock(self) -> bool: ...

    def deliver(self, message: StoredMessage, wire_delivery_count: int) -> None: ...


@dataclass(slots=True)
class Entity:
    """A queue or its dead-letter sub-queue."""

    name: str
    config: QueueConfig
    dead_letter: "Entity | None" = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    locks: dict[uuid.UUID, StoredMessage] = field(default_factory=dict)
    consumers: list[Consumer] = field(default_factory=list)
    _available: list[int] = field(default_factory=list)
    _lock_heap: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    _schedule_heap: list[tuple[int, int]] = field(default_factory=list)
    _expiry_heap: list[tuple[int, int]] = field(default_factory=list)
    _dedup: dict[str, int] = field(default_factory=dict)
    _sends_by_id: dict[str, int] = field(default_factory=dict)
    _dedup_heap: list[tuple[int, str]] = field(default_factory=list)
    _next_sequence: int = 1
    # Every change is written here before the caller answers the client (None: in memory).
    journal: "Journal | None" = None
    # Auto-forwarding (ForwardTo; on a dead-letter queue, its parent's
    # ForwardDeadLetteredMessagesTo): every message arriving here goes on to `forward`.
    forward: "Entity | None" = None
    # the namespace's clock, for a dead-lettered message forwarded on (Namespace sets it)
    clock: Callable[[], int] | None = None

    @property
    def is_dead_letter(self) -> bool:
        return self.dead_letter is None

    # ---- sending ------------------------------------------------------------------------
    def _is_duplicate(self, message_id: str | None, now: int) -> bool:
        if not self.config.requires_duplicate_detection or message_id is None:
            return False
        until = self._dedup.get(message_id)
        if until is not None and until > now:
            self._sends_by_id[message_id] += 1
            return True
        self._hold_id(message_id, now)
        self._sends_by_id[message_id] = 1
        return False

    def _hold_id(self, message_id: str, first_sent_ms: int) -> None:
        """Drop a later copy of `message_id` until the detection window after its first send."""
        expires = first_sent_ms + int(self.config.duplicate_window_s * 1000)
        self._dedup[message_id] = expires
        heapq.heappush(self._dedup_heap, (expires, message_id))

    def _store(self, incoming: IncomingMessage, now: int, scheduled_ms: int | None) -> int:
        seq = self._next_sequence
        self._next_sequence += 1
        # A scheduled time in the past means "now": enqueued now, TTL counted from now.
        enqueued = scheduled_ms if scheduled_ms is not None and scheduled_ms > now else now
        ttl_ms = int(self.config.default_ttl_s * 1000)
        if incoming.ttl_ms is not None and 0 < incoming.ttl_ms < ttl_ms:
            ttl_ms = incoming.ttl_ms
        message = StoredMessage(
            sequence_number=seq,
            message_id=incoming.message_id,
            ttl_ms=incoming.ttl_ms,
            annotations=incoming.annotations,
            properties_raw=incoming.properties_raw,
            application_properties_raw=incoming.application_properties_raw,
            body_raw=incoming.body_raw,
            enqueued_time_ms=enqueued,
            expires_at_ms=enqueued + ttl_ms,
        )
        if incoming.hops or incoming.encoded_annotations is not None:  # moved on by the broker
            message.hops = incoming.hops
            message.encoded_annotations = incoming.encoded_annotations
        self.messages[seq] = message
        heapq.heappush(self._expiry_heap, (message.expires_at_ms, seq))
        if scheduled_ms is not None and scheduled_ms > now:
            message.state = MessageState.SCHEDULED
            message.scheduled_ms = scheduled_ms
            heapq.heappush(self._schedule_heap, (scheduled_ms, seq))
        else:
            self._make_available(message)
        if self.journal is not None:
            self.journal.stored(self, message)
        return seq

    def send(self, incoming: IncomingMessage, now: int, scheduled_ms: int | None = None) -> None:
        """Accept a message; a duplicate within the detection window is dropped silently."""
        if self._is_duplicate(incoming.message_id, now):
            return
        if self.forward is not None and (scheduled_ms is None or scheduled_ms <= now):
            self._forward_incoming(incoming, now)
            return
        self._store(incoming, now, scheduled_ms)

    def take_copy(self, incoming: IncomingMessage, now: int, sequence_number: int) -> None:
        """A topic's copy for this subscription, numbered by the topic as in Azure (the
        copies of one message share its sequence number)."""
        if self.forward is not None:
            self._forward_incoming(incoming, now)
            return
        self._next_sequence = max(self._next_sequence, sequence_number)
        self._store(incoming, now, None)

    # ---- auto-forwarding ----------------------------------------------------------------
    @property
    def needs_session_id(self) -> bool:
        return False

    def _forward_incoming(self, incoming: IncomingMessage, now: int) -> None:
        """Send a message arriving here on to the forwarding target, unless it has made its
        4 hops already, or the target needs a session id it has not: then it is
        dead-lettered here, as Azure does."""
        target = self.forward
        assert target is not None
        problem = _forward_problem(incoming, target)
        if problem is not None:
            seq = self._store(incoming, now, None)
            self._move_to_dead_letter(self.messages[seq], *problem, forward=False)
            return
        incoming.hops += 1
        target.send(incoming, now)
        target.pump(now)

    def forward_stored(self, now: int) -> None:
        """Forward the messages already held here (restored from the journal, the config
        having gained a ForwardTo since); scheduled ones go when due."""
        if self.forward is None:
            return
        for seq in sorted(self.messages):
            message = self.messages[seq]
            if message.state is not MessageState.SCHEDULED:
                self._forward_stored_message(message, now)

    def _forward_stored_message(self, message: StoredMessage, now: int) -> None:
        del self.messages[message.sequence_number]
        if self.journal is not None:
            self.journal.removed(self, message.sequence_number)
        self._forward_incoming(carried(message), now)

    def schedule(self, incoming: IncomingMessage, scheduled_ms: int, now: int) -> int:
        """Store a message for later and return its sequence number (0 for a duplicate)."""
        if self._is_duplicate(incoming.message_id, now):
            return 0
        return self._store(incoming, now, max(scheduled_ms, now + 1))

    def cancel_scheduled(self, sequence_number: int) -> None:
        message = self.messages.get(sequence_number)
        if message is None or message.state is not MessageState.SCHEDULED:
            raise MessageNotFoundError(f"no scheduled message with sequence {sequence_number}")
        del self.messages[sequence_number]
        if self.journal is not None:
            self.journal.removed(self, sequence_number)

    def _make_available(self, message: StoredMessage) -> None:
        message.state = MessageState.ACTIVE
        message.lock_token = None
        heapq.heappush(self._available, message.sequence_number)

    # ---- delivering ---------------------------------------------------------------------
    def _next_available(self, now: int) -> StoredMessage | None:
        return self._pop_deliverable(self._available, now)

    def _pop_deliverable(self, heap: list[int], now: int) -> StoredMessage | None:
        """The first active, unexpired message of a heap of sequence numbers (the entity's
        or one session's), popped; entries already settled are dropped, expired ones expire."""
        while heap:
            seq = heapq.heappop(heap)
            message = self.messages.get(seq)
            if message is None or message.state is not MessageState.ACTIVE:
                continue
            if not self.is_dead_letter and message.expires_at_ms <= now:
                self._expire(message)
                continue
            return message
        return None

    def lock(self, message: StoredMessage, now: int) -> int:
        """Lock a message for a peek-lock receiver; returns the delivery count for the header."""
        wire = message.delivery_count
        message.delivery_count += 1
        message.state = MessageState.LOCKED
        message.lock_token = new_lock_token()
        message.locked_until_ms = now + int(self.config.lock_duration_s * 1000)
        self.locks[message.lock_token] = message
        heapq.heappush(self._lock_heap, (message.locked_until_ms, message.lock_token))
        if self.journal is not None:
            self.journal.counted(self, message)
        return wire

    def pump(self, now: int) -> None:
        """Hand available messages to consumers that have credit, round robin."""
        while self.consumers and self._available:
            ready = [c for c in self.consumers if c.credit > 0]
            if not ready:
                return
            for consumer in ready:
                message = self._next_available(now)
                if message is None:
                    return
                if consumer.peek_lock:
                    wire = self.lock(message, now)
                else:
                    wire = message.delivery_count
                    self._forget(message.sequence_number)
                consumer.deliver(message, wire)

    # ---- settling -----------------------------------------------------------------------
    def _locked(self, token: uuid.UUID, now: int) -> StoredMessage:
        message = self.locks.get(token)
        if message is None or message.locked_until_ms <= now:
            if message is not None:
                self._lock_expired(message)
            raise LockLostError(
                "The lock supplied is invalid. Either the lock expired, or the message has "
                "already been removed from the queue."
            )
        return message

    def _unlock(self, message: StoredMessage) -> None:
        if message.lock_token is not None:
            self.locks.pop(message.lock_token, None)
        message.lock_token = None

    def _forget(self, sequence_number: int) -> None:
        del self.messages[sequence_number]
        if self.journal is not None:
            self.journal.removed(self, sequence_number)

    def complete(self, token: uuid.UUID, now: int) -> None:
        message = self._locked(token, now)
        self._unlock(message)
        self._forget(message.sequence_number)

    def abandon(self, token: uuid.UUID, now: int) -> None:
        message = self._locked(token, now)
        self._unlock(message)
        self._return_or_dead_letter(message)

    def release(self, token: uuid.UUID, now: int) -> None:
        """The client gave the message back unseen: no delivery attempt is counted."""
        message = self.locks.get(token)
        if message is None:
            return
        self._unlock(message)
        message.delivery_count = max(0, message.delivery_count - 1)
        if self.journal is not None:
            self.journal.counted(self, message)
        self._make_available(message)

    def defer(self, token: uuid.UUID, now: int) -> None:
        message = self._locked(token, now)
        self._unlock(message)
        message.state = MessageState.DEFERRED
        if self.journal is not None:
            self.journal.deferred(self, message.sequence_number)

    def dead_letter_locked(
        self, token: uuid.UUID, now: int, reason: str | None, description: str | None
    ) -> None:
        message = self._locked(token, now)
        self._unlock(message)
        self._move_to_dead_letter(message, reason, description)

    def renew(self, token: uuid.UUID, now: int) -> int:
        message = self._locked(token, now)
        message.locked_until_ms = now + int(self.config.lock_duration_s * 1000)
        heapq.heappush(self._lock_heap, (message.locked_until_ms, token))
        return message.locked_until_ms

    def receive_deferred(
        self, sequence_numbers: list[int], now: int, peek_lock: bool
    ) -> list[tuple[StoredMessage, int]]:
        out: list[tuple[StoredMessage, int]] = []
        # As in Azure, a deferred message's TTL is checked only when it is asked for: an expired
        # one is dead-lettered (or dropped) now and is not found.
        expired: set[int] = set()
        for seq in sequence_numbers:
            message = self.messages.get(seq)
            if (
                message is not None
                and message.state is MessageState.DEFERRED
                and not self.is_dead_letter
                and message.expires_at_ms <= now
            ):
                self._expire(message)
                expired.add(seq)
        for seq in sequence_numbers:
            message = self.messages.get(seq)
            if seq in expired:
                where = "dead-lettered" if self.config.dead_letter_on_expiration else "dropped"
                raise MessageNotFoundError(
                    f"deferred message with sequence {seq} expired ({where})"
                )
            if message is None or message.state is not MessageState.DEFERRED:
                raise MessageNotFoundError(f"no deferred message with sequence {seq}")
        for seq in sequence_numbers:
            message = self.messages[seq]
            if peek_lock:
                out.append((message, self.lock(message, now)))
            else:
                self._forget(seq)
                out.append((message, message.delivery_count))
        return out

    def peek(self, from_sequence: int, count: int) -> list[StoredMessage]:
        found = [m for seq, m in sorted(self.messages.items()) if seq >= from_sequence]
        return found[:count]

    def _return_or_dead_letter(self, message: StoredMessage) -> None:
        if not self.is_dead_letter and message.delivery_count >= self.config.max_delivery_count:
            self._move_to_dead_letter(
                message,
                "MaxDeliveryCountExceeded",
                f"Message could not be consumed after {self.config.max_delivery_count} "
                "delivery attempts.",
            )
        else:
            self._make_available(message)

    def _move_to_dead_letter(
        self,
        message: StoredMessage,
        reason: str | None,
        description: str | None,
        *,
        forward: bool = True,
    ) -> None:
        del self.messages[message.sequence_number]
        target = self.dead_letter
        if target is None:  # already in the dead-letter queue: Azure keeps it there
            self.messages[message.sequence_number] = message
            self._make_available(message)
            return
        properties = decode_application_properties(message.application_properties_raw)
        if reason is not None:
            properties[DEAD_LETTER_REASON] = reason
        if description is not None:
            properties[DEAD_LETTER_DESCRIPTION] = description
        message.application_properties_raw = encode_application_properties(properties)
        message.dead_letter_source = self.name
        onward = target.forward if forward else None
        if onward is not None and _forward_problem(message, onward) is None:
            # ForwardDeadLetteredMessagesTo: on to the target, never into the dead-letter queue
            if self.journal is not None:
                self.journal.removed(self, message.sequence_number)
            now = self.clock() if self.clock is not None else message.enqueued_time_ms
            incoming = carried(message)
            incoming.hops += 1
            onward.send(incoming, now)
            onward.pump(now)
            return
        target.messages[message.sequence_number] = message
        target._make_available(message)
        if self.journal is not None:
            self.journal.moved(self, target, message)

    def _expire(self, message: StoredMessage) -> None:
        if self.config.dead_letter_on_expiration:
            self._move_to_dead_letter(
                message, "TTLExpiredException", "The message expired and was dead lettered."
            )
        else:
            self._forget(message.sequence_number)

    def _lock_expired(self, message: StoredMessage) -> None:
        self._unlock(message)
        self._return_or_dead_letter(message)

    # ---- time ---------------------------------------------------------------------------
    def tick(self, now: int) -> None:
        """Expire locks, activate scheduled messages, expire TTLs, forget old message ids."""
        while self._lock_heap and self._lock_heap[0][0] <= now:
            until, token = heapq.heappop(self._lock_heap)
            message = self.locks.get(token)
            if message is not None and message.locked_until_ms <= now:
                self._lock_expired(message)
        while self._schedule_heap and self._schedule_heap[0][0] <= now:
            _, seq = heapq.heappop(self._schedule_heap)
            message = self.messages.get(seq)
            if message is not None and message.state is MessageState.SCHEDULED:
                if self.forward is not None:
                    self._forward_stored_message(message, now)
                else:
                    self._make_available(message)
        if not self.is_dead_letter:
            while self._expiry_heap and self._expiry_heap[0][0] <= now:
                _, seq = heapq.heappop(self._expiry_heap)
                message = self.messages.get(seq)
                if message is None or message.expires_at_ms > now:
                    continue
                if message.state is MessageState.ACTIVE:
                    self._expire(message)
                elif message.state is MessageState.LOCKED:  # look again when the lock ends
                    heapq.heappush(self._expiry_heap, (message.locked_until_ms + 1, seq))
        if len(self._expiry_heap) > 2 * len(self.messages) + 1024:  # settled messages' entries
            self._expiry_heap = [(m.expires_at_ms, seq) for seq, m in self.messages.items()]
            heapq.heapify(self._expiry_heap)
        while self._dedup_heap and self._dedup_heap[0][0] <= now:
            until, message_id = heapq.heappop(self._dedup_heap)
            if self._dedup.get(message_id) == until:
                del self._dedup[message_id]
                self._sends_by_id.pop(message_id, None)

    # ---- persistence (journal.py) --------------------------------------------------------
    def remember_id(self, message_id: str, enqueued_ms: int, now: int) -> None:
        """A message id seen at `enqueued_ms`: a duplicate of it is dropped until the window
        after that ends (restored from the journal)."""
        if not self.config.requires_duplicate_detection:
            return
        expires = enqueued_ms + int(self.config.duplicate_window_s * 1000)
        if expires > now and self._dedup.get(message_id, 0) < expires:
            self._hold_id(message_id, enqueued_ms)
            self._sends_by_id.setdefault(message_id, 1)

    def remembered_ids(self) -> list[tuple[str, int]]:
        """(message id, when it was first sent) for every id the duplicate detection holds."""
        window = int(self.config.duplicate_window_s * 1000)
        return [(message_id, until - window) for message_id, until in self._dedup.items()]

    def restore(self, now: int) -> int:
        """Rebuild the queues' order after `messages` were filled from the journal: locks are
        gone (a locked message is available again), scheduled ones wait for their time."""
        self.locks.clear()
        self._available, self._lock_heap, self._schedule_heap = [], [], []
        self._expiry_heap = []
        for seq, message in self.messages.items():
            message.lock_token = None
            if message.state is MessageState.LOCKED:
                message.state = MessageState.ACTIVE
            if message.state is MessageState.SCHEDULED and message.scheduled_ms is not None:
                heapq.heappush(self._schedule_heap, (message.scheduled_ms, seq))
            elif message.state is MessageState.ACTIVE:
                heapq.heappush(self._available, seq)
            heapq.heappush(self._expiry_heap, (message.expires_at_ms, seq))
            self._next_sequence = max(self._next_sequence, seq + 1)
        if self.dead_letter is not None:
            for seq in self.dead_letter.messages:
                self._next_sequence = max(self._next_sequence, seq + 1)
        return len(self.messages)

    @property
    def next_sequence(self) -> int:
        return self._next_sequence

    def continue_sequence_from(self, value: int) -> None:
        """Number new messages from `value` on, unless the queue is already past it."""
        self._next_sequence = max(self._next_sequence, value)

    def sends_of(self, message_id: str) -> int | None:
        """How many sends carried `message_id` within the duplicate-detection window (the
        first was stored, the rest dropped); None when it was not seen, or the queue does
        not detect duplicates."""
        return self._sends_by_id.get(message_id)

    def runtime(self) -> dict[str, int]:
        active = sum(1 for m in self.messages.values() if m.state is not MessageState.SCHEDULED)
        scheduled = len(self.messages) - active
        dead = len(self.dead_letter.messages) if self.dead_letter is not None else 0
        return {
            "activeMessageCount": active,
            "deadLetterMessageCount": dead,
            "scheduledMessageCount": scheduled,
            "totalMessageCount": active + dead + scheduled,
        }


def _forward_problem(
    message: IncomingMessage | StoredMessage, target: Entity
) -> tuple[str, str] | None:
    """Why `message` cannot be forwarded to `target` (a dead-letter reason), None if it can."""
    if message.hops >= MAX_FORWARD_HOPS:
        return HOPS_EXCEEDED, HOPS_EXCEEDED_DESCRIPTION
    if target.needs_session_id:
        from .sessions import session_of  # here: sessions builds on this module

        if session_of(message) is None:
            return NO_SESSION, NO_SESSION_DESCRIPTION
    return None


def entity_class(config: QueueConfig) -> type[Entity]:
    """`Entity`, or `sessions.SessionEntity` for `RequiresSession: true`."""
    if not config.requires_session:
        return Entity
    from .sessions import SessionEntity  # here: sessions builds on this module

    return SessionEntity


class Namespace:
    """Every queue of the one namespace, looked up case-insensitively as Azure does."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], int]) -> None:
        self.name = config.namespace
        self.clock = clock
        self.queues: dict[str, Entity] = {}
        # Set by Journal.open; its pending lines are written before any socket write.
        self.journal: Journal | None = None
        for queue in config.queues:
            dlq = Entity(name=f"{queue.name}/$DeadLetterQueue", config=queue)
            self.queues[queue.name.lower()] = entity_class(queue)(
                name=queue.name, config=queue, dead_letter=dlq
            )
        self.topics: dict[str, Topic] = {}
        if config.topics:
            from . import topics  # here: topics builds on this module

            self.topics = {t.name.lower(): topics.Topic.build(t) for t in config.topics}
        self._wire_forwarding()

    def _wire_forwarding(self) -> None:
        """Point each entity with ForwardTo / ForwardDeadLetteredMessagesTo at its target
        (checked to exist when the config was parsed)."""
        for entity in self.entities():
            if not entity.is_dead_letter:
                self.wire_forwarding(entity)

    def wire_forwarding(self, entity: Entity) -> None:
        """Point one queue or subscription (and its dead-letter queue) at its config's
        targets, or at none (also after the administration client changed the config)."""
        config = entity.config
        forward_to, dead_lettered_to = config.forward_to, config.forward_dead_lettered_to
        entity.forward = self._destination(forward_to) if forward_to is not None else None
        if entity.dead_letter is not None:
            onward = dead_lettered_to
            entity.dead_letter.forward = self._destination(onward) if onward is not None else None
            entity.clock = self.clock if onward is not None else None

    def _destination(self, name: str) -> Entity:
        target = self.queues.get(name.lower()) or self.topics.get(name.lower())
        assert target is not None, name
        return target

    def queue(self, name: str) -> Entity | None:
        return self.queues.get(name.lower())

    def entity(self, path: str) -> Entity | None:
        """``queue`` or ``queue/$DeadLetterQueue``; ``topic``, ``topic/Subscriptions/name``
        and ``topic/Subscriptions/name/$DeadLetterQueue``."""
        parts = path.strip("/").split("/")
        if self.topics and parts[0].lower() in self.topics:
            return self._topic_entity(parts)
        queue = self.queue(parts[0])
        if queue is None or len(parts) > 2:
            return None
        if len(parts) == 2:
            return queue.dead_letter if parts[1].lower() == "$deadletterqueue" else None
        return queue

    def _topic_entity(self, parts: list[str]) -> Entity | None:
        topic = self.topics[parts[0].lower()]
        if len(parts) == 1:
            return topic
        if len(parts) not in (3, 4) or parts[1].lower() != "subscriptions":
            return None
        subscription = topic.subscription(parts[2])
        if subscription is None or len(parts) == 3:
            return subscription
        return subscription.dead_letter if parts[3].lower() == "$deadletterqueue" else None

    def entities(self) -> list[Entity]:
        """Every queue and subscription with its dead-letter queue (what the journal keeps)."""
        out: list[Entity] = []
        for queue in self.queues.values():
            out.append(queue)
            if queue.dead_letter is not None:
                out.append(queue.dead_letter)
        for topic in self.topics.values():
            for subscription in topic.subscriptions.values():
                out.append(subscription)
                if subscription.dead_letter is not None:
                    out.append(subscription.dead_letter)
        return out

    def journalled(self) -> list[Entity]:
        """What the journal keeps: every entity above, and the topics (their scheduled
        messages, until they are due and copied to the subscriptions)."""
        return [*self.entities(), *self.topics.values()]

    def tick(self) -> None:
        now = self.clock()
        for topic in self.topics.values():
            topic.tick(now)  # scheduled messages due: copied to the subscriptions
        for entity in self.entities():
            entity.tick(now)
            entity.pump(now)
