"""AMQP 1.0 connections, driven by asyncio around python-qpid-proton's protocol engine.

Proton does the framing, the codec, sessions, links, credit and settlement state; this
module moves bytes between a socket and the engine and maps link events onto the store:
``$cbs`` (claims-based security), ``<queue>/$management`` and the queues themselves.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from proton import (
    Collector,
    Condition,
    Connection,
    Delivery,
    Disposition,
    Endpoint,
    Event,
    Link,
    Message,
    Terminus,
    Transport,
    symbol,
)

from . import management
from .codec import SCHEDULED_ENQUEUE_TIME, CodecError, decode_transfer
from .delivery import encode_for_delivery
from .store import Entity, LockLostError, Namespace, StoredMessage

log = logging.getLogger("devstack.servicebus")

LINK_CREDIT = 1000
MAX_MESSAGE_SIZE = 256 * 1024  # Azure Service Bus Standard tier
READ_SIZE = 256 * 1024
CBS_TOKEN_TYPES = {"servicebus.windows.net:sastoken", "jwt"}
NOT_FOUND = "amqp:not-found"
LOCK_LOST = "com.microsoft:message-lock-lost"
DEAD_LETTER = "com.microsoft:dead-letter"
NOT_ALLOWED = "amqp:not-allowed"
SESSION_FILTER = "com.microsoft:session-filter"
SESSIONS_REFUSED = (
    "A sessionful message receiver cannot be created on an entity that does not require "
    "sessions: the local Service Bus emulator does not support sessions (RequiresSession)."
)


def now_ms() -> int:
    return int(time.time() * 1000)


def entity_path(address: str | None) -> str:
    """``amqps://host:port/queue/$management`` -> ``queue/$management``."""
    if not address:
        return ""
    if "://" in address:
        address = urlsplit(address).path
    return address.strip("/")


@dataclass(eq=False)
class ReplyLink:
    """Our sender half of a request/response pair (``$cbs`` or ``$management``)."""

    link: Link
    node: str
    pending: deque[bytes] = field(default_factory=deque)


@dataclass(eq=False)
class ConsumerLink:
    """Our sender link to a client receiver on a queue or dead-letter queue."""

    owner: "AmqpConnection"
    link: Link
    entity: Entity
    peek_lock: bool
    tokens: dict[Delivery, uuid.UUID] = field(default_factory=dict)

    @property
    def credit(self) -> int:
        return int(self.link.credit) if self.link.state & Endpoint.LOCAL_ACTIVE else 0

    def deliver(self, message: StoredMessage, wire_delivery_count: int) -> None:
        payload = encode_for_delivery(message, wire_delivery_count, locked=self.peek_lock)
        token = message.lock_token if self.peek_lock else None
        tag = (token or uuid.uuid4()).bytes_le
        delivery = self.link.delivery(tag)  # type: ignore[arg-type]
        self.link.stream(payload)
        self.link.advance()
        if token is None:
            delivery.settle()
        else:
            self.tokens[delivery] = token
        self.owner.delivered += 1
        self.owner.wake()


class AmqpConnection:
    """One client connection: socket <-> proton transport, events -> store."""

    def __init__(
        self,
        namespace: Namespace,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.namespace = namespace
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.transport = Transport(Transport.SERVER)
        self.connection = Connection()
        self.collector = Collector()
        self.connection.collect(self.collector)
        self.transport.bind(self.connection)
        sasl = self.transport.sasl()
        sasl.allowed_mechs("ANONYMOUS")
        self.consumers: dict[Link, ConsumerLink] = {}
        self.producers: dict[Link, Entity] = {}
        self.requests: dict[Link, str] = {}  # our receiver link -> node ($cbs or mgmt)
        self.replies: dict[Link, ReplyLink] = {}
        self._wake_scheduled = False
        self.errors = 0
        self.received = 0
        self.delivered = 0
        self.started = time.monotonic()

    # ---- io -----------------------------------------------------------------------------
    async def run(self) -> None:
        log.debug("connection from %s opened", self.peer)
        reason = "closed by client"
        try:
            while not self.transport.closed:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    self.transport.close_tail()
                    self.process()
                    break
                view = memoryview(data)
                while view:
                    capacity = self.transport.capacity()
                    if capacity <= 0:
                        raise ConnectionError("transport closed for input")
                    self.transport.push(bytes(view[:capacity]))
                    view = view[capacity:]
                    self.process()
                await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            if not self.connection.state & Endpoint.REMOTE_CLOSED:
                reason = f"dropped: {exc}"
        finally:
            self.detach_all()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            # A transport error is reported here, once, in the connection's own line.
            condition = self.transport.condition
            if condition is not None:
                if _is_noise(condition):
                    reason = "closed by client"  # the SDK's detach after end; it has gone
                else:
                    self.errors += 1
                    reason = f"ended with {condition.name}: {condition.description}"
            log.info(
                "connection from %s %s after %.1f s: %d messages in, %d delivered, %d errors",
                self.peer,
                reason,
                time.monotonic() - self.started,
                self.received,
                self.delivered,
                self.errors,
            )

    def wake(self) -> None:
        """Flush after work that did not come from this socket (a delivery, a timer)."""
        if not self._wake_scheduled:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._woken)

    def _woken(self) -> None:
        self._wake_scheduled = False
        self.process()

    def tick(self, now_s: float) -> None:
        """Heartbeats and idle timeout."""
        if not self.transport.closed:
            self.transport.tick(now_s)
            self.process()

    def process(self) -> None:
        while (event := self.collector.peek()) is not None:
            try:
                self._dispatch(event)
            except Exception as exc:
                self._internal_error(f"handling {event.type}", exc)
            self.collector.pop()
        self._flush()

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

    def _flush(self) -> None:
        if self.writer.is_closing():
            return
        while True:
            pending = self.transport.pending()
            if pending <= 0:
                if pending < 0:
                    self.writer.close()
                return
            chunk = self.transport.peek(pending)
            if chunk:
                self.writer.write(bytes(chunk))
            self.transport.pop(pending)

    def detach_all(self) -> None:
        for consumer in self.consumers.values():
            with contextlib.suppress(ValueError):
                consumer.entity.consumers.remove(consumer)
        self.consumers.clear()
        self.producers.clear()
        self.requests.clear()
        self.replies.clear()

    # ---- events -------------------------------------------------------------------------
    def _dispatch(self, event: Event) -> None:
        kind = event.type
        if kind == Event.CONNECTION_REMOTE_OPEN:
            self.connection.container = "sbemulator"
            self.connection.open()
        elif kind == Event.CONNECTION_REMOTE_CLOSE:
            self.connection.close()
        elif kind == Event.SESSION_REMOTE_OPEN and event.session is not None:
            event.session.incoming_capacity = 64 * 1024 * 1024
            event.session.open()
        elif kind == Event.SESSION_REMOTE_CLOSE and event.session is not None:
            event.session.close()
        elif kind == Event.LINK_REMOTE_OPEN and event.link is not None:
            self._attach(event.link)
        elif kind in (Event.LINK_REMOTE_CLOSE, Event.LINK_REMOTE_DETACH) and event.link is not None:
            self._detach(event.link)
        elif kind == Event.LINK_FLOW and event.link is not None:
            self._flow(event.link)
        elif kind == Event.DELIVERY and event.delivery is not None:
            delivery = event.delivery
            if delivery.link.is_receiver:
                self._incoming(delivery)
            else:
                self._settled_by_client(delivery)
        # Event.TRANSPORT_ERROR: reported once, in the connection's line when it ends.

    def _attach(self, link: Link) -> None:
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = link.remote_rcv_settle_mode
        address = link.remote_source.address if link.is_sender else link.remote_target.address
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
            if _asks_for_a_session(link.remote_source):
                self._refuse(link, NOT_ALLOWED, f"{SESSIONS_REFUSED} Entity: '{path}'.")
                return
            peek_lock = link.remote_snd_settle_mode != Link.SND_SETTLED
            consumer = ConsumerLink(self, link, entity, peek_lock)
            self.consumers[link] = consumer
            link.open()
            entity.consumers.append(consumer)
        else:
            self.producers[link] = entity
            link.max_message_size = MAX_MESSAGE_SIZE
            link.open()
            link.flow(LINK_CREDIT)

    def _open_request_link(self, link: Link, node: str) -> None:
        if link.is_sender:
            self.replies[link] = ReplyLink(link, node)
        else:
            self.requests[link] = node
        link.open()
        if link.is_receiver:
            link.flow(LINK_CREDIT)

    def _refuse_missing(self, link: Link, path: str) -> None:
        description = (
            f"The messaging entity '{self.namespace.name}:queue:{path}' could not be found."
        )
        # amqp:not-found: the SDK raises MessagingEntityNotFoundError.
        self._refuse(link, NOT_FOUND, description)

    def _refuse(self, link: Link, condition: str, description: str) -> None:
        """As Azure does: answer the attach with a null terminus, then detach with the error."""
        self._log_error(description)
        missing = link.source if link.is_sender else link.target
        missing.type = Terminus.UNSPECIFIED
        link.open()
        link.condition = _error(condition, description)
        link.close()

    def _detach(self, link: Link) -> None:
        consumer = self.consumers.pop(link, None)
        if consumer is not None:
            with contextlib.suppress(ValueError):
                consumer.entity.consumers.remove(consumer)
        self.producers.pop(link, None)
        self.requests.pop(link, None)
        self.replies.pop(link, None)
        link.close()

    def _flow(self, link: Link) -> None:
        if not link.is_sender:
            return
        reply = self.replies.get(link)
        if reply is not None:
            self._send_replies(reply)
            return
        consumer = self.consumers.get(link)
        if consumer is None:
            return
        consumer.entity.pump(now_ms())
        if link.drain_mode and link.credit > 0:
            link.drained()

    # ---- client -> broker transfers ------------------------------------------------------
    def _incoming(self, delivery: Delivery) -> None:
        if not delivery.readable or delivery.partial:
            return
        link = delivery.link
        raw = link.recv(delivery.pending) or b""
        link.advance()
        condition: Condition | None = None
        try:
            if len(raw) > MAX_MESSAGE_SIZE:
                description = (
                    f"The message is {len(raw)} bytes; at most {MAX_MESSAGE_SIZE} allowed."
                )
                self._log_error(description)
                condition = _error("amqp:link:message-size-exceeded", description)
            elif link in self.producers:
                condition = self._send_to_queue(self.producers[link], raw)
            elif link in self.requests:
                self._request(self.requests[link], raw)
            else:
                self._log_error(f"a transfer on link {link.name!r}, which takes none")
                condition = _error(NOT_ALLOWED, "this link takes no transfers")
        except Exception as exc:
            self._internal_error("taking a transfer", exc)
            condition = _error("amqp:internal-error", f"emulator error: {exc!r}")
        outcome = Disposition.ACCEPTED if condition is None else Disposition.REJECTED
        self._settle(delivery, outcome, condition)
        if link.credit < LINK_CREDIT // 2:
            link.flow(LINK_CREDIT - link.credit)

    def _send_to_queue(self, entity: Entity, raw: bytes) -> Condition | None:
        try:
            messages = decode_transfer(raw)
        except CodecError as exc:
            self._log_error(f"rejected a message for {entity.name}: {exc}")
            return _error("amqp:decode-error", str(exc))
        now = now_ms()
        for incoming in messages:
            scheduled = incoming.annotations.get(SCHEDULED_ENQUEUE_TIME)
            entity.send(incoming, now, int(scheduled) if scheduled is not None else None)
        self.received += len(messages)
        entity.pump(now)
        return None

    @staticmethod
    def _settle(delivery: Delivery, outcome: Any, condition: Condition | None = None) -> None:
        if condition is not None:
            delivery.local.condition = condition
        delivery.update(outcome)
        delivery.settle()

    # ---- settlement of our deliveries ------------------------------------------------------
    def _settled_by_client(self, delivery: Delivery) -> None:
        consumer = self.consumers.get(delivery.link)
        if consumer is None:
            if delivery.settled or delivery.remote_state:
                delivery.settle()
            return
        outcome = delivery.remote_state
        token = consumer.tokens.pop(delivery, None)
        if token is None:
            if delivery.settled:
                delivery.settle()
            return
        if not outcome:
            consumer.tokens[delivery] = token
            return
        entity = consumer.entity
        now = now_ms()
        condition: Condition | None = None
        action = "settle"
        try:
            if outcome == Disposition.ACCEPTED:
                action = "complete"
                entity.complete(token, now)
            elif outcome == Disposition.MODIFIED:
                if delivery.remote.undeliverable:
                    action = "defer"
                    entity.defer(token, now)
                else:
                    action = "abandon"
                    entity.abandon(token, now)
            elif outcome == Disposition.REJECTED:
                action = "dead-letter"
                reason, description = _dead_letter_details(delivery.remote.condition)
                entity.dead_letter_locked(token, now, reason, description)
            elif outcome == Disposition.RELEASED:
                entity.release(token, now)
        except LockLostError as exc:
            self._log_error(f"{action} on {entity.name}: lock lost (expired or already settled)")
            outcome = Disposition.REJECTED
            condition = _error(LOCK_LOST, str(exc))
        self._settle(delivery, outcome, condition)
        entity.pump(now)

    # ---- $cbs and $management --------------------------------------------------------------
    def _request(self, node: str, raw: bytes) -> None:
        request = Message()
        request.decode(raw)
        props: dict[Any, Any] = dict(request.properties or {})
        if node == "$cbs":
            reply = self._put_token(props, request.body)
        else:
            entity = self.namespace.entity(node[: -len("/$management")])
            if entity is None:
                reply = management.Reply(404, f"unknown node {node}", condition=NOT_FOUND)
            else:
                reply = management.handle(
                    entity, str(props.get("operation", "")), request.body, now_ms()
                )
        if reply.status >= 400:
            operation = props.get("operation")
            self._log_error(f"{operation} on {node}: {reply.status} {reply.description}")
        status_key, description_key = (
            ("status-code", "status-description")
            if node == "$cbs"
            else ("statusCode", "statusDescription")
        )
        answer_props: dict[str, Any] = {
            status_key: reply.status,
            description_key: reply.description,
        }
        if reply.condition is not None:
            answer_props["errorCondition"] = reply.condition
        answer = Message(correlation_id=request.id, properties=answer_props, body=reply.body)
        target = self._reply_link(node, request.reply_to)
        if target is None:
            self._log_error(f"no reply link for {node}; the answer is dropped")
            return
        target.pending.append(bytes(answer.encode()))
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
                if reply.link.remote_target.address == reply_to:
                    return reply
        return candidates[0] if candidates else None

    def _send_replies(self, reply: ReplyLink) -> None:
        link = reply.link
        while reply.pending and link.credit > 0:
            payload = reply.pending.popleft()
            delivery = link.delivery(uuid.uuid4().bytes)  # type: ignore[arg-type]
            link.stream(payload)
            link.advance()
            delivery.settle()


def _dead_letter_details(condition: Condition | None) -> tuple[str | None, str | None]:
    if condition is None:
        return None, None
    raw_info = condition.info
    info = {str(k): v for k, v in raw_info.items()} if isinstance(raw_info, dict) else {}
    reason = info.get("DeadLetterReason")
    description = info.get("DeadLetterErrorDescription", condition.description)
    return (
        None if reason is None else str(reason),
        None if description is None else str(description),
    )


def _asks_for_a_session(source: Terminus) -> bool:
    """A session receiver attaches with a ``com.microsoft:session-filter`` in its source's filter
    map (the session id, or null for the next available session)."""
    data = source.filter
    data.rewind()
    if not data.next():
        return False
    try:
        value = data.get_object()
    except Exception:  # an undecodable filter is not a session filter
        return False
    return isinstance(value, dict) and any(str(key) == SESSION_FILTER for key in value)


def _is_noise(condition: Condition) -> bool:
    """The SDK sends a detach after end on connections that used `$management`; proton answers
    it with ``amqp:not-allowed`` "no such channel: N" after the client has gone. Harmless, so
    neither logged nor counted. Every other transport error (framing errors included) is."""
    description = condition.description or ""
    return condition.name == NOT_ALLOWED and description.startswith("no such channel")


def _error(name: str, description: str) -> Condition:
    """An AMQP error with all three fields, as Azure sends them: the SDK reads the info field by
    position, and proton leaves out a trailing empty one."""
    info: dict[Any, Any] = {symbol("com.microsoft:tracking-id"): str(uuid.uuid4())}
    return Condition(name, description, info)
