"""The broker side of each AMQP connection: links mapped onto the store.

``engine.AmqpEngine`` does the protocol; this module maps links to ``$cbs`` (claims-based
security), ``<queue>/$management``, the queues and their dead-letter queues
(case-insensitive), and settles deliveries against the store.

(Over 300 lines: one mapping from AMQP links to the store, per link kind.)
"""

import itertools
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import management
from .codec import (
    APPLICATION_PROPERTIES,
    SCHEDULED_ENQUEUE_TIME,
    CodecError,
    Described,
    Int,
    Symbol,
    decode,
    decode_transfer,
    encode,
    encode_message_sections,
    sections,
)
from .codec import PROPERTIES as PROPERTIES_SECTION
from .delivery import encode_for_delivery
from .engine import ACCEPTED_STATE, AmqpEngine, Link, Session, state_code
from .frames import ACCEPTED, MODIFIED, REJECTED, RELEASED, Transfer, error
from .sessions import (
    DEFAULT_WAIT_MS,
    NO_SESSION_ID,
    SESSION_CANNOT_BE_LOCKED,
    SessionEntity,
    SessionLockedError,
    Waiter,
    session_of,
)
from .store import Entity, LockLostError, Namespace, StoredMessage
from .topics import Topic

log = logging.getLogger("devstack.servicebus")

LINK_CREDIT = 1000
MAX_MESSAGE_SIZE = 256 * 1024  # Azure Service Bus Standard tier
CBS_TOKEN_TYPES = {"servicebus.windows.net:sastoken", "jwt"}
NOT_FOUND = "amqp:not-found"
LOCK_LOST = "com.microsoft:message-lock-lost"
DEAD_LETTER = "com.microsoft:dead-letter"
NOT_ALLOWED = "amqp:not-allowed"
SESSION_FILTER = "com.microsoft:session-filter"
SESSION_LOCKED_UNTIL = "com.microsoft:locked-until-utc"
DATETIMEOFFSET_EPOCH = 621355968000000000
SND_SETTLED = 1
SESSIONS_REFUSED = (
    "A sessionful message receiver cannot be created on an entity that does not require "
    "sessions (RequiresSession)."
)
SESSIONS_REQUIRED = (
    "It is not possible for an entity that requires sessions to create a non-sessionful "
    "message receiver."
)
OPERATION_TIMEOUT = "com.microsoft:timeout"
# Azure's answers to a receiver it will not serve (amqp:not-allowed: the SDK raises ServiceBusError)
FORWARDING_RECEIVER = "Cannot create a message receiver on an entity with auto-forwarding enabled."
TOPIC_RECEIVER = "Cannot open a Topic client for entity type Subscriber."
# Echoes of a settlement: the outcome the client asked for, without fields (a rejected echo
# carrying an error is how the service says a settlement failed, so a dead-letter echo has none).
_ECHO = {
    ACCEPTED: ACCEPTED_STATE,
    MODIFIED: b"\x00\x53\x27\x45",
    REJECTED: b"\x00\x53\x25\x45",
    RELEASED: b"\x00\x53\x26\x45",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def entity_path(address: str | None) -> str:
    """``amqps://host:port/queue/$management`` -> ``queue/$management``."""
    if not address:
        return ""
    if "://" in address:
        address = urlsplit(address).path
    return address.strip("/")


def _tracking() -> dict[Any, Any]:
    return {Symbol("com.microsoft:tracking-id"): str(uuid.uuid4())}


def _rejected(condition: str, description: str) -> bytes:
    """An outcome with all three error fields, as Azure sends them (the SDK reads by position)."""
    return b"\x00\x53\x25" + encode([error(condition, description, _tracking())])


@dataclass(eq=False)
class ReplyLink:
    """Our sender half of a request/response pair (``$cbs`` or ``$management``)."""

    link: Link
    node: str
    pending: deque[bytes] = field(default_factory=deque)


class ConsumerLink:
    """Our sender link to a client receiver on a queue or dead-letter queue."""

    __slots__ = ("entity", "link", "owner", "peek_lock")

    def __init__(self, owner: "AmqpConnection", link: Link, entity: Entity, peek_lock: bool):
        self.owner = owner
        self.link = link
        self.entity = entity
        self.peek_lock = peek_lock

    @property
    def credit(self) -> int:
        return self.owner.can_send(self.link)

    def deliver(self, message: StoredMessage, wire_delivery_count: int) -> None:
        payload = encode_for_delivery(message, wire_delivery_count, locked=self.peek_lock)
        token = message.lock_token if self.peek_lock else None
        # the SDK reads a peek-lock tag as the lock token (uuid, bytes_le); a settled delivery's
        # tag only has to be unique on its link
        tag = token.bytes_le if token is not None else self.owner.next_tag()
        self.owner.send_transfer(self.link, tag, payload, token is None, token)
        self.owner.delivered += 1


class AmqpConnection(AmqpEngine):
    """One client connection: links onto the store, counts and one log line when it ends."""

    def __init__(self, namespace: Namespace, registry: set["AmqpConnection"] | None = None):
        super().__init__()
        self.namespace = namespace
        self.registry = registry if registry is not None else set()
        self.consumers: dict[Link, ConsumerLink] = {}
        self.producers: dict[Link, Entity] = {}
        self.requests: dict[Link, str] = {}  # our receiver link -> node ($cbs or mgmt)
        self.replies: dict[Link, ReplyLink] = {}
        self.errors = 0
        self.received = 0
        self.delivered = 0
        self.started = time.monotonic()
        self._tags = itertools.count(1)

    def next_tag(self) -> bytes:
        return next(self._tags).to_bytes(8, "big")

    # ---- lifecycle ------------------------------------------------------------------------
    def before_write(self) -> None:
        journal = self.namespace.journal
        if journal is not None:  # what this answers (or any other socket's) must be written
            journal.write_pending()

    def on_connection_made(self) -> None:
        self.registry.add(self)
        log.debug("connection from %s opened", self.peer)

    def on_connection_lost(self) -> None:
        self.registry.discard(self)
        if self.condition is not None:  # a transport error: reported once, in this line
            self.errors += 1
            reason = f"ended with {self.condition[0]}: {self.condition[1]}"
        elif self.dropped is not None:
            reason = self.dropped
        else:
            reason = "closed by client"
        log.info(
            "connection from %s %s after %.1f s: %d messages in, %d delivered, %d errors",
            self.peer,
            reason,
            time.monotonic() - self.started,
            self.received,
            self.delivered,
            self.errors,
        )

    def _log_error(self, message: str) -> None:
        """An expected protocol error (the client's doing): counted, one line."""
        self.errors += 1
        log.warning("connection from %s: %s", self.peer, message)

    def _internal_error(self, what: str, exc: Exception) -> None:
        """A bug in the emulator: counted, one line; the traceback too at DEBUG."""
        self.errors += 1
        log.error(
            "connection from %s: internal error %s: %r",
            self.peer,
            what,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )

    # ---- links ----------------------------------------------------------------------------
    def on_attach(self, link: Link) -> None:
        try:
            self._map_link(link)
        except Exception as exc:
            self._internal_error("attaching a link", exc)
            self.refuse_attach(link, "amqp:internal-error", f"emulator error: {exc!r}", None)

    def _map_link(self, link: Link) -> None:
        address = link.source_address if link.is_sender else link.target_address
        path = entity_path(address)
        lowered = path.lower()
        if lowered == "$cbs":
            self._open_request_link(link, "$cbs")
            return
        if lowered.endswith("/$management"):
            entity = self.namespace.entity(path[: -len("/$management")])
            if entity is None:
                self._refuse_missing(link, path)
                return
            self._open_request_link(link, lowered)
            return
        entity = self.namespace.entity(path)
        if entity is None:
            self._refuse_missing(link, path)
            return
        if link.is_sender:
            if isinstance(entity, Topic):  # receivers read a subscription, never the topic
                self._refuse(link, NOT_ALLOWED, f"{TOPIC_RECEIVER} Entity: '{path}'.")
                return
            if entity.forward is not None:
                self._refuse(link, NOT_ALLOWED, f"{FORWARDING_RECEIVER} Entity: '{path}'.")
                return
            asks = _asks_for_a_session(link.source)
            if asks and not isinstance(entity, SessionEntity):
                self._refuse(link, NOT_ALLOWED, f"{SESSIONS_REFUSED} Entity: '{path}'.")
                return
            if isinstance(entity, SessionEntity) and not entity.is_dead_letter:
                if not asks:
                    self._refuse(link, NOT_ALLOWED, f"{SESSIONS_REQUIRED} Entity: '{path}'.")
                    return
                self._attach_session_receiver(link, entity)
                return
            peek_lock = link.snd_settle_mode != SND_SETTLED
            consumer = ConsumerLink(self, link, entity, peek_lock)
            self.consumers[link] = consumer
            self.accept_attach(link)
            entity.consumers.append(consumer)
        else:
            self.producers[link] = entity
            self.accept_attach(link, max_message_size=MAX_MESSAGE_SIZE, credit=LINK_CREDIT)

    def _attach_session_receiver(self, link: Link, entity: SessionEntity) -> None:
        """Lock the named session, or the next available one (waiting up to the link's
        timeout), then answer the attach with the session id and its lock's expiry."""
        consumer = ConsumerLink(self, link, entity, link.snd_settle_mode != SND_SETTLED)
        self.consumers[link] = consumer
        now = now_ms()
        wanted = _session_filter(link.source)
        try:
            session = entity.lock_session(wanted, consumer, now)
        except SessionLockedError as exc:
            self.consumers.pop(link, None)
            self._refuse(link, SESSION_CANNOT_BE_LOCKED, str(exc))
            return

        def answer(session: str | None) -> None:
            if link.detached or link not in self.consumers:
                return
            if session is None:
                self.consumers.pop(link, None)
                self._refuse(
                    link, OPERATION_TIMEOUT, "No session is available: the operation timed out."
                )
            else:
                fields = list(link.source.value)
                fields[7] = {Symbol(SESSION_FILTER): session}
                self.accept_attach(
                    link,
                    source=Described(link.source.descriptor, fields),
                    properties={Symbol(SESSION_LOCKED_UNTIL): _ticks(entity.locked_until(session))},
                )
                entity.consumers.append(consumer)
                entity.pump(now_ms())
            self.schedule_flush()

        if session is not None:
            answer(session)
            return
        timeout = _link_timeout_ms(link.properties)
        entity.wait_for_session(Waiter(consumer, now + timeout, answer))

    def _open_request_link(self, link: Link, node: str) -> None:
        if link.is_sender:
            self.replies[link] = ReplyLink(link, node)
            self.accept_attach(link)
        else:
            self.requests[link] = node
            self.accept_attach(link, credit=LINK_CREDIT)

    def _refuse_missing(self, link: Link, path: str) -> None:
        description = (
            f"The messaging entity '{self.namespace.name}:queue:{path}' could not be found."
        )
        # amqp:not-found: the SDK raises MessagingEntityNotFoundError.
        self._refuse(link, NOT_FOUND, description)

    def _refuse(self, link: Link, condition: str, description: str) -> None:
        self._log_error(description)
        self.refuse_attach(link, condition, description, _tracking())

    def detach_deleted(self, deleted: list[Entity]) -> int:
        """Detach, with ``amqp:not-found`` as Azure does, every link of this connection on an
        entity just deleted: receivers, senders and the entity's ``$management`` links (the
        SDK raises MessagingEntityNotFoundError on its next receive or send)."""
        gone = {id(entity) for entity in deleted}
        names = {entity.name.lower() for entity in deleted}
        links = [link for link, consumer in self.consumers.items() if id(consumer.entity) in gone]
        links += [link for link, entity in self.producers.items() if id(entity) in gone]
        nodes = {**self.requests, **{link: reply.node for link, reply in self.replies.items()}}
        links += [
            link
            for link, node in nodes.items()
            if node.endswith("/$management") and node[: -len("/$management")] in names
        ]
        for link in links:
            path = entity_path(link.source_address if link.is_sender else link.target_address)
            description = (
                f"The messaging entity '{self.namespace.name}:{path}' could not be found "
                "(it was deleted)."
            )
            self._log_error(description)
            self.detach_link(link, error(NOT_FOUND, description, _tracking()))
            self.on_detach(link)
        return len(links)

    def on_detach(self, link: Link) -> None:
        consumer = self.consumers.pop(link, None)
        if consumer is not None and consumer in consumer.entity.consumers:
            consumer.entity.consumers.remove(consumer)
        if consumer is not None and isinstance(consumer.entity, SessionEntity):
            consumer.entity.drop_waiter(consumer)
            consumer.entity.release_session(consumer)
        self.producers.pop(link, None)
        self.requests.pop(link, None)
        self.replies.pop(link, None)

    def on_flow(self, link: Link) -> None:
        reply = self.replies.get(link)
        if reply is not None:
            self._send_replies(reply)
            return
        consumer = self.consumers.get(link)
        if consumer is not None:
            consumer.entity.pump(now_ms())

    def on_credit_used(self, link: Link) -> None:
        if link.credit < LINK_CREDIT // 2 and not link.detached:
            link.credit = LINK_CREDIT
            self.send_flow(link)

    def on_stray_transfer(self, session: Session, transfer: Transfer) -> None:
        self._log_error(f"a transfer on handle {transfer.handle}, which takes none")

    # ---- client -> broker transfers ------------------------------------------------------
    def on_transfer(
        self, link: Link, delivery_id: int, tag: bytes, message_format: int, payload: bytes
    ) -> bytes:
        try:
            if len(payload) > MAX_MESSAGE_SIZE:
                description = (
                    f"The message is {len(payload)} bytes; at most {MAX_MESSAGE_SIZE} allowed."
                )
                self._log_error(description)
                return _rejected("amqp:link:message-size-exceeded", description)
            entity = self.producers.get(link)
            if entity is not None:
                return self._send_to_queue(entity, payload, message_format)
            node = self.requests.get(link)
            if node is not None:
                self._request(node, payload)
                return ACCEPTED_STATE
            self._log_error(f"a transfer on link {link.name!r}, which takes none")
            return _rejected(NOT_ALLOWED, "this link takes no transfers")
        except Exception as exc:
            self._internal_error("taking a transfer", exc)
            return _rejected("amqp:internal-error", f"emulator error: {exc!r}")

    def _send_to_queue(self, entity: Entity, raw: bytes, message_format: int) -> bytes:
        try:
            messages = decode_transfer(raw, message_format)
        except CodecError as exc:
            self._log_error(f"rejected a message for {entity.name}: {exc}")
            return _rejected("amqp:decode-error", str(exc))
        if isinstance(entity, SessionEntity) and any(session_of(m) is None for m in messages):
            self._log_error(f"rejected a message for {entity.name}: no session id")
            return _rejected(NOT_ALLOWED, NO_SESSION_ID)
        now = now_ms()
        for incoming in messages:
            scheduled = incoming.annotations.get(SCHEDULED_ENQUEUE_TIME)
            entity.send(incoming, now, int(scheduled) if scheduled is not None else None)
        self.received += len(messages)
        entity.pump(now)
        return ACCEPTED_STATE

    # ---- settlement of our deliveries ------------------------------------------------------
    def on_disposition(
        self, link: Link, delivery_id: int, context: Any, state: Any, settled: bool
    ) -> bytes | None:
        consumer = self.consumers.get(link)
        code = state_code(state)
        if consumer is None or not isinstance(context, uuid.UUID) or code is None:
            return None
        entity = consumer.entity
        now = now_ms()
        action = "settle"
        try:
            if code == ACCEPTED:
                action = "complete"
                entity.complete(context, now)
            elif code == MODIFIED:
                fields = state.value if isinstance(state.value, list) else []
                if len(fields) > 1 and fields[1]:  # undeliverable-here
                    action = "defer"
                    entity.defer(context, now)
                else:
                    action = "abandon"
                    entity.abandon(context, now)
            elif code == REJECTED:
                action = "dead-letter"
                fields = state.value if isinstance(state.value, list) else []
                reason, description = _dead_letter_details(fields[0] if fields else None)
                entity.dead_letter_locked(context, now, reason, description)
            elif code == RELEASED:
                entity.release(context, now)
            else:
                return None  # received: not an outcome
            echo = _ECHO[code]
        except LockLostError as exc:
            self._log_error(f"{action} on {entity.name}: lock lost (expired or already settled)")
            echo = _rejected(LOCK_LOST, str(exc))
        entity.pump(now)
        return echo

    # ---- $cbs and $management --------------------------------------------------------------
    def _request(self, node: str, raw: bytes) -> None:
        properties: list[Any] = []
        app: dict[Any, Any] = {}
        body: Any = None
        for code, _start, value_at, _end in sections(raw):
            if code == PROPERTIES_SECTION:
                properties = decode(raw, value_at)[0] or []
            elif code == APPLICATION_PROPERTIES:
                app = decode(raw, value_at)[0] or {}
            elif code == 0x77:  # amqp-value
                body = decode(raw, value_at)[0]
        message_id = properties[0] if properties else None
        reply_to = properties[4] if len(properties) > 4 else None
        if node == "$cbs":
            reply = self._put_token(app, body)
        else:
            entity = self.namespace.entity(node[: -len("/$management")])
            if entity is None:
                reply = management.Reply(404, f"unknown node {node}", condition=NOT_FOUND)
            else:
                reply = management.handle(entity, str(app.get("operation", "")), body, now_ms())
        if reply.status >= 400:
            operation = app.get("operation")
            self._log_error(f"{operation} on {node}: {reply.status} {reply.description}")
        status_key, description_key = (
            ("status-code", "status-description")
            if node == "$cbs"
            else ("statusCode", "statusDescription")
        )
        answer_props: dict[str, Any] = {
            status_key: Int(reply.status),
            description_key: reply.description,
        }
        if reply.condition is not None:
            answer_props["errorCondition"] = Symbol(reply.condition)
        answer = encode_message_sections(
            properties=[None, None, None, None, None, message_id],
            application_properties=answer_props,
            value=reply.body,
        )
        target = self._reply_link(node, None if reply_to is None else str(reply_to))
        if target is None:
            self._log_error(f"no reply link for {node}; the answer is dropped")
            return
        target.pending.append(answer)
        self._send_replies(target)

    @staticmethod
    def _put_token(props: dict[Any, Any], token: Any) -> management.Reply:
        kind = str(props.get("type", ""))
        name = props.get("name")
        if kind not in CBS_TOKEN_TYPES or not name or not isinstance(token, str) or not token:
            return management.Reply(400, "put-token needs type, name and a token string")
        is_sas = token.startswith("SharedAccessSignature ") and "sig=" in token
        is_jwt = token.count(".") == 2 and " " not in token
        if not (is_sas or is_jwt):  # the SDK declares SAS tokens as "jwt" too
            return management.Reply(401, "neither a SAS token nor a JWT")
        return management.Reply(202, "Accepted")

    def _reply_link(self, node: str, reply_to: str | None) -> ReplyLink | None:
        candidates = [r for r in self.replies.values() if r.node == node]
        if reply_to:
            for reply in candidates:
                if reply.link.target_address == reply_to:
                    return reply
        return candidates[0] if candidates else None

    def _send_replies(self, reply: ReplyLink) -> None:
        while reply.pending and self.can_send(reply.link) > 0:
            payload = reply.pending.popleft()
            self.send_transfer(reply.link, self.next_tag(), payload, True, None)


def _dead_letter_details(err: Any) -> tuple[str | None, str | None]:
    """Reason and description of a dead-letter from the rejected outcome's error."""
    fields = getattr(err, "value", None)
    if not isinstance(fields, list):
        return None, None
    description = fields[1] if len(fields) > 1 else None
    info = fields[2] if len(fields) > 2 and isinstance(fields[2], dict) else {}
    named = {str(k): v for k, v in info.items()}
    reason = named.get("DeadLetterReason")
    description = named.get("DeadLetterErrorDescription", description)
    return (
        None if reason is None else str(reason),
        None if description is None else str(description),
    )


def _session_filter(source: Any) -> str | None:
    """The session id a session receiver asks for (None: the next available session)."""
    for key, value in source.value[7].items():
        if str(key) == SESSION_FILTER:
            value = getattr(value, "value", value)  # described or plain
            if value is None:
                return None
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _ticks(unix_ms: int) -> int:
    """A .NET DateTime in ticks (100 ns since 0001-01-01), as `locked-until-utc` is sent."""
    return unix_ms * 10_000 + DATETIMEOFFSET_EPOCH


def _link_timeout_ms(properties: Any) -> int:
    if isinstance(properties, dict):
        for key, value in properties.items():
            if str(key) == OPERATION_TIMEOUT and isinstance(value, int):
                return int(value)
    return DEFAULT_WAIT_MS


def _asks_for_a_session(source: Any) -> bool:
    """A session receiver attaches with a ``com.microsoft:session-filter`` in its source's filter
    map (the session id, or null for the next available session)."""
    fields = getattr(source, "value", None)
    if not isinstance(fields, list) or len(fields) < 8:
        return False
    filters = fields[7]
    return isinstance(filters, dict) and any(str(key) == SESSION_FILTER for key in filters)
