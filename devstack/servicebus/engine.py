"""An AMQP 1.0 connection engine on asyncio: protocol headers, SASL ANONYMOUS, sessions, links,
credit, transfers (multi-frame too), settlement and heartbeats. Pure Python, no broker logic:
a subclass (``amqp.AmqpConnection``) gets the hooks ``on_attach`` ... ``on_disposition``.

What it deliberately does not insist on: the delivery-id sequence of incoming transfers.
azure-servicebus 7.15 allocates delivery-ids without a lock, so concurrent senders on one
session put duplicate and skipped ids on the wire. Every incoming transfer is taken as it
comes, answered (when unsettled) with a settled disposition carrying the very id the client
sent, and the session's next-incoming-id follows the highest id seen. Azure does the same.

(Over 300 lines: one protocol state machine: connection, session and link states interlock.)
"""

import asyncio
import contextlib
import logging
import socket
import struct
import time
from typing import Any, ClassVar

from .codec import CodecError
from .frames import (
    ACCEPTED_STATE,
    AMQP_HEADER,
    EMPTY_FRAME,
    FRAME_AMQP,
    FRAME_SASL,
    SASL_HEADER,
    Attach,
    Begin,
    Close,
    Detach,
    Disposition,
    End,
    Flow,
    Open,
    Performative,
    SaslInit,
    SaslMechanisms,
    SaslOutcome,
    Transfer,
    descriptor_code,
    disposition_frame,
    error,
    frame,
    parse_body,
    symbols,
    transfer_frame,
)

log = logging.getLogger("devstack.servicebus")

MAX_FRAME_SIZE = 1024 * 1024  # a 256 KiB message is one frame; bigger frames are refused
WINDOW = 0x7FFFFFFF  # session windows: never the limit
MAX_HANDLE = 0xFFFF
MAX_CHANNEL = 0xFFFF
MASK = 0xFFFFFFFF
_SIZE = struct.Struct(">I")
_HEAD = struct.Struct(">IBBH")
FRAMING_ERROR = "amqp:connection:framing-error"


def _serial_after(a: int, b: int) -> bool:
    """RFC 1982 serial-number order on 32 bits: is ``a`` after ``b``?"""
    return a != b and ((a - b) & MASK) < 0x80000000


class ProtocolError(Exception):
    """The peer broke the protocol: the connection ends with this condition."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(f"{condition}: {description}")
        self.condition = condition
        self.description = description


class Link:
    """One link of a session. ``role`` is ours: ``True`` we receive, ``False`` we send."""

    __slots__ = (
        "context",
        "credit",
        "delivery_count",
        "detached",
        "drain",
        "handle",
        "name",
        "partial",
        "partial_format",
        "partial_id",
        "partial_settled",
        "partial_tag",
        "properties",
        "rcv_settle_mode",
        "remote_handle",
        "role",
        "session",
        "snd_settle_mode",
        "source",
        "target",
    )

    def __init__(self, session: "Session", attach: Attach, handle: int) -> None:
        self.session = session
        self.name = attach.name
        self.handle = handle
        self.remote_handle = int(attach.handle)
        self.role = not attach.role
        self.snd_settle_mode = attach.snd_settle_mode
        self.rcv_settle_mode = attach.rcv_settle_mode
        self.source = attach.source
        self.target = attach.target
        self.properties = attach.properties
        # our sender links: what the client's flow granted; our receiver links: what we did
        self.delivery_count = 0 if not self.role else int(attach.initial_delivery_count or 0)
        self.credit = 0
        self.drain = False
        self.detached = False
        self.partial: list[bytes] | None = None
        self.partial_id = 0
        self.partial_tag = b""
        self.partial_format = 0
        self.partial_settled = False
        self.context: Any = None

    @property
    def is_sender(self) -> bool:
        return not self.role

    @property
    def source_address(self) -> str | None:
        return _address(self.source)

    @property
    def target_address(self) -> str | None:
        return _address(self.target)


def _address(terminus: Any) -> str | None:
    fields = getattr(terminus, "value", None)
    if isinstance(fields, list) and fields and fields[0] is not None:
        return str(fields[0])
    return None


class Session:
    __slots__ = (
        "channel",
        "links",
        "next_incoming_id",
        "next_outgoing_id",
        "remote_channel",
        "remote_incoming_window",
        "unsettled",
    )

    def __init__(self, channel: int, remote_channel: int, begin: Begin) -> None:
        self.channel = channel
        self.remote_channel = remote_channel
        self.next_outgoing_id = 0
        self.next_incoming_id = int(begin.next_outgoing_id or 0) & MASK
        self.remote_incoming_window = int(begin.incoming_window or 0)
        self.links: dict[int, Link] = {}  # by the client's handle
        self.unsettled: dict[int, tuple[Link, Any]] = {}  # our deliveries, by delivery-id

    def free_handle(self) -> int:
        used = {link.handle for link in self.links.values()}
        handle = 0
        while handle in used:
            handle += 1
        return handle


class AmqpEngine(asyncio.Protocol):
    """The protocol half of one connection; subclasses map links to the broker."""

    CONTAINER_ID: ClassVar[str] = "sbemulator"

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._stage = "header"  # header -> sasl -> header -> open -> amqp -> closed
        self._sasl_done = False
        self.sessions: dict[int, Session] = {}  # by the client's channel
        self._our_channels: set[int] = set()
        self.remote_max_frame = MAX_FRAME_SIZE
        self.remote_idle_timeout_s = 0.0
        self._last_write = time.monotonic()
        self._dispositions: list[list[Any]] = []  # [channel, role, first, last, state]
        self.opened = False
        self.close_received = False
        self.condition: tuple[str, str] | None = None  # a transport error, reported once
        self.dropped: str | None = None

    # ---- asyncio --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.on_connection_made()

    def data_received(self, data: bytes) -> None:
        if self._stage == "closed":
            return
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        try:
            used = self._consume(data)
        except ProtocolError as exc:
            self._fail(exc.condition, exc.description)
            return
        except CodecError as exc:
            self._fail(FRAMING_ERROR, f"undecodable frame: {exc}")
            return
        if used < len(data):
            self._buf += data[used:]
        self.flush()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stage = "closed"
        if exc is not None and not self.close_received and self.dropped is None:
            self.dropped = f"dropped: {exc}"
        for session in list(self.sessions.values()):
            self._forget_session(session)
        self.sessions.clear()
        self.on_connection_lost()

    # ---- output ---------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self._out.append(data)

    def flush(self) -> None:
        self.before_write()
        if self._dispositions:
            self._emit_dispositions()
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self._out))
            self._last_write = time.monotonic()
        self._out.clear()

    def schedule_flush(self) -> None:
        """Flush soon, after work that did not come from this socket (a delivery, a timer)."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def tick(self, now: float) -> None:
        """Heartbeats: an empty frame when nothing was written for half the peer's timeout."""
        timeout = self.remote_idle_timeout_s
        if timeout and self._stage == "amqp" and now - self._last_write >= timeout / 2:
            self.write(EMPTY_FRAME)
            self.flush()

    def close_transport(self) -> None:
        self.flush()
        self._stage = "closed"
        if self.transport is not None:
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Reset the socket: no close frame, unsent bytes dropped (a network failure)."""
        self.dropped = reason
        self._stage = "closed"
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _fail(self, condition: str, description: str) -> None:
        """End the connection over a protocol error: close frame with the error, then the socket."""
        self.condition = (condition, description)
        if self._stage == "open":  # the peer's open has not come: ours, then the close
            self._out.append(frame(0, Open(container_id=self.CONTAINER_ID)))
        if self._stage in ("amqp", "open"):
            self._out.append(frame(0, Close(error(condition, description))))
        elif self._stage == "header":
            self._out.append(AMQP_HEADER)
        self.close_transport()

    # ---- input ----------------------------------------------------------------------------
    def _consume(self, data: bytes) -> int:
        pos = 0
        size = len(data)
        while pos < size and self._stage != "closed":
            if self._stage == "header":
                if size - pos < 8:
                    if (
                        data[pos:] != (SASL_HEADER[: size - pos])
                        and data[pos:] != (AMQP_HEADER[: size - pos])
                    ):
                        self._bad_header(data[pos:])
                    return pos
                self._header(data[pos : pos + 8])
                pos += 8
                continue
            if size - pos < 8:
                return pos
            (length,) = _SIZE.unpack_from(data, pos)
            if length < 8 or length > MAX_FRAME_SIZE:
                raise ProtocolError(FRAMING_ERROR, f"frame size {length} is out of range")
            if size - pos < length:
                return pos
            doff = data[pos + 4]
            kind = data[pos + 5]
            channel = (data[pos + 6] << 8) | data[pos + 7]
            if doff < 2 or doff * 4 > length:
                raise ProtocolError(FRAMING_ERROR, f"bad data offset {doff}")
            body = data[pos + doff * 4 : pos + length]
            pos += length
            if kind == FRAME_SASL:
                if self._stage != "sasl":
                    raise ProtocolError(FRAMING_ERROR, "a SASL frame outside SASL negotiation")
                self._sasl(body)
            elif kind == FRAME_AMQP:
                if self._stage == "sasl":
                    raise ProtocolError(FRAMING_ERROR, "an AMQP frame during SASL negotiation")
                self._amqp(channel, body)
            else:
                raise ProtocolError(FRAMING_ERROR, f"unknown frame type {kind}")
        return pos

    def _bad_header(self, got: bytes) -> None:
        raise ProtocolError(
            FRAMING_ERROR, f"expected an AMQP 1.0 protocol header, got {bytes(got[:8])!r}"
        )

    def _header(self, header: bytes) -> None:
        if header == SASL_HEADER and not self._sasl_done:
            self.write(SASL_HEADER)
            self.write(frame(0, SaslMechanisms(symbols("ANONYMOUS")), kind=FRAME_SASL))
            self._stage = "sasl"
        elif header == AMQP_HEADER:
            self.write(AMQP_HEADER)
            self._stage = "open"
        else:
            self._bad_header(header)

    def _sasl(self, body: bytes) -> None:
        performative, _ = parse_body(body)
        if not isinstance(performative, SaslInit):
            raise ProtocolError(FRAMING_ERROR, f"unexpected SASL frame {performative!r:.80}")
        ok = str(performative.mechanism) == "ANONYMOUS"
        self.write(frame(0, SaslOutcome(0 if ok else 1), kind=FRAME_SASL))
        if not ok:
            self.condition = ("amqp:unauthorized-access", f"SASL {performative.mechanism}")
            self.close_transport()
            return
        self._sasl_done = True
        self._stage = "header"

    def _amqp(self, channel: int, body: bytes) -> None:
        performative, payload = parse_body(body)
        if performative is None:
            return  # a heartbeat
        if self._stage == "open":
            if not isinstance(performative, Open):
                raise ProtocolError(FRAMING_ERROR, "the first frame must be open")
            self._open(performative)
            return
        kind = type(performative)
        if kind is Transfer:
            self._transfer(channel, performative, payload)  # type: ignore[arg-type]
        elif kind is Disposition:
            self._disposition(channel, performative)  # type: ignore[arg-type]
        elif kind is Flow:
            self._flow(channel, performative)  # type: ignore[arg-type]
        elif kind is Attach:
            self._attach(channel, performative)  # type: ignore[arg-type]
        elif kind is Detach:
            self._detach(channel, performative)  # type: ignore[arg-type]
        elif kind is Begin:
            self._begin(channel, performative)  # type: ignore[arg-type]
        elif kind is End:
            self._end(channel)
        elif kind is Close:
            self._close()
        elif kind is Open:
            raise ProtocolError("amqp:illegal-state", "a second open")
        else:
            raise ProtocolError(FRAMING_ERROR, f"unexpected {kind.__name__} frame")

    # ---- connection and sessions ----------------------------------------------------------
    def _open(self, remote: Open) -> None:
        self.opened = True
        self._stage = "amqp"
        if remote.max_frame_size:
            self.remote_max_frame = max(512, min(int(remote.max_frame_size), 1 << 31))
        if remote.idle_time_out:
            self.remote_idle_timeout_s = int(remote.idle_time_out) / 1000
        self.write(
            frame(
                0,
                Open(
                    container_id=self.CONTAINER_ID,
                    max_frame_size=MAX_FRAME_SIZE,
                    channel_max=MAX_CHANNEL,
                ),
            )
        )

    def _close(self) -> None:
        self.close_received = True
        self.write(frame(0, Close()))
        self.close_transport()

    def _begin(self, channel: int, begin: Begin) -> None:
        if channel in self.sessions:
            raise ProtocolError("amqp:illegal-state", f"channel {channel} is already in use")
        ours = 0
        while ours in self._our_channels:
            ours += 1
        self._our_channels.add(ours)
        session = Session(ours, channel, begin)
        self.sessions[channel] = session
        self.write(
            frame(
                ours,
                Begin(
                    remote_channel=channel,
                    next_outgoing_id=0,
                    incoming_window=WINDOW,
                    outgoing_window=WINDOW,
                    handle_max=MAX_HANDLE,
                ),
            )
        )

    def _end(self, channel: int) -> None:
        session = self.sessions.pop(channel, None)
        if session is None:
            return
        self._forget_session(session)
        self.write(frame(session.channel, End()))

    def _forget_session(self, session: Session) -> None:
        for link in list(session.links.values()):
            self.on_detach(link)
        session.links.clear()
        session.unsettled.clear()
        self._our_channels.discard(session.channel)

    def _session(self, channel: int) -> Session | None:
        """The session on ``channel``. None for frames on a channel the client already ended:
        the SDK sends a `detach` after `end` on connections that used `$management`."""
        return self.sessions.get(channel)

    # ---- links ----------------------------------------------------------------------------
    def _attach(self, channel: int, attach: Attach) -> None:
        session = self._session(channel)
        if session is None:
            return
        remote_handle = int(attach.handle)
        if remote_handle in session.links:
            raise ProtocolError("amqp:session:handle-in-use", f"handle {remote_handle} in use")
        link = Link(session, attach, session.free_handle())
        session.links[remote_handle] = link
        self.on_attach(link)

    def accept_attach(
        self,
        link: Link,
        *,
        max_message_size: int = 0,
        credit: int = 0,
        source: Any = None,
        properties: Any = None,
    ) -> None:
        """Answer an attach: the client's source (or `source`) and target echoed (the SDK
        detaches on a null terminus), and, for a link we receive on, the credit to start with."""
        self.write(
            frame(
                link.session.channel,
                Attach(
                    name=link.name,
                    handle=link.handle,
                    role=link.role,
                    snd_settle_mode=link.snd_settle_mode,
                    rcv_settle_mode=link.rcv_settle_mode,
                    source=link.source if source is None else source,
                    target=link.target,
                    incomplete_unsettled=False,
                    initial_delivery_count=0 if link.is_sender else None,
                    max_message_size=max_message_size,
                    properties=properties,
                ),
            )
        )
        if link.role and credit:
            link.credit = credit
            self.send_flow(link)

    def refuse_attach(self, link: Link, condition: str, description: str, info: Any) -> None:
        """As Azure does: answer with a null terminus, then detach with the error."""
        self.write(
            frame(
                link.session.channel,
                Attach(
                    name=link.name,
                    handle=link.handle,
                    role=link.role,
                    snd_settle_mode=link.snd_settle_mode,
                    rcv_settle_mode=link.rcv_settle_mode,
                    source=None if link.is_sender else link.source,
                    target=link.target if link.is_sender else None,
                    incomplete_unsettled=False,
                    initial_delivery_count=0 if link.is_sender else None,
                ),
            )
        )
        self.detach_link(link, error(condition, description, info))

    def detach_link(self, link: Link, err: Any = None) -> None:
        if link.detached:
            return
        link.detached = True
        self.write(frame(link.session.channel, Detach(link.handle, True, err)))

    def _detach(self, channel: int, detach: Detach) -> None:
        session = self._session(channel)
        if session is None:
            return
        link = session.links.pop(int(detach.handle), None)
        if link is None:
            return
        for delivery_id in [i for i, (owner, _) in session.unsettled.items() if owner is link]:
            del session.unsettled[delivery_id]
        if not link.detached:
            link.detached = True
            self.write(frame(session.channel, Detach(link.handle, detach.closed)))
        self.on_detach(link)

    # ---- flow -----------------------------------------------------------------------------
    def send_flow(self, link: Link, drain: bool | None = None) -> None:
        session = link.session
        self.write(
            frame(
                session.channel,
                Flow(
                    next_incoming_id=session.next_incoming_id,
                    incoming_window=WINDOW,
                    next_outgoing_id=session.next_outgoing_id,
                    outgoing_window=WINDOW,
                    handle=link.handle,
                    delivery_count=link.delivery_count & MASK,
                    link_credit=max(0, link.credit),
                    drain=drain,
                ),
            )
        )

    def _flow(self, channel: int, flow: Flow) -> None:
        session = self._session(channel)
        if session is None:
            return
        if flow.next_incoming_id is not None:
            session.remote_incoming_window = (
                int(flow.next_incoming_id) + int(flow.incoming_window) - session.next_outgoing_id
            )
        else:
            session.remote_incoming_window = int(flow.incoming_window)
        if flow.handle is None:
            return
        link = session.links.get(int(flow.handle))
        if link is None:
            return
        if link.is_sender and flow.link_credit is not None:
            theirs = link.delivery_count if flow.delivery_count is None else flow.delivery_count
            credit = (int(theirs) + int(flow.link_credit) - link.delivery_count) & MASK
            link.credit = credit if credit < 0x80000000 else 0
            link.drain = bool(flow.drain)
            self.on_flow(link)
            if link.drain and link.credit > 0:  # nothing more to send: use the credit up
                link.delivery_count += link.credit
                link.credit = 0
                self.send_flow(link, drain=True)
            elif flow.echo:
                self.send_flow(link)
        elif flow.echo:
            self.send_flow(link)

    # ---- transfers we send ----------------------------------------------------------------
    def can_send(self, link: Link) -> int:
        """How many deliveries ``link`` may send now (link credit and the session window)."""
        if link.detached or link.credit <= 0:
            return 0
        return min(link.credit, max(0, link.session.remote_incoming_window))

    def send_transfer(
        self, link: Link, tag: bytes, payload: bytes, settled: bool, context: Any
    ) -> int:
        """One delivery on our sender ``link``; returns its delivery-id."""
        session = link.session
        delivery_id = session.next_outgoing_id
        session.next_outgoing_id = (delivery_id + 1) & MASK
        session.remote_incoming_window -= 1
        link.credit -= 1
        link.delivery_count += 1
        room = self.remote_max_frame - 64 - len(tag)
        if len(payload) <= room:
            self.write(
                transfer_frame(session.channel, link.handle, delivery_id, tag, settled, payload)
            )
        else:
            view = memoryview(payload)
            for start in range(0, len(payload), room):
                chunk = bytes(view[start : start + room])
                more = start + room < len(payload)
                self.write(
                    transfer_frame(
                        session.channel, link.handle, delivery_id, tag, settled, chunk, more
                    )
                )
        if not settled:
            session.unsettled[delivery_id] = (link, context)
        self.schedule_flush()
        return delivery_id

    # ---- transfers we receive -------------------------------------------------------------
    def _transfer(self, channel: int, transfer: Transfer, payload: bytes) -> None:
        session = self._session(channel)
        if session is None:
            return
        link = session.links.get(int(transfer.handle))
        if link is None or not link.role:
            self.on_stray_transfer(session, transfer)
            return
        delivery_id = transfer.delivery_id
        if link.partial is not None and (delivery_id is None or delivery_id == link.partial_id):
            link.partial.append(payload)
            if transfer.settled:
                link.partial_settled = True
        else:
            # a new delivery: any id is taken (duplicates and gaps included), as Azure does
            if delivery_id is None:
                delivery_id = session.next_incoming_id
            delivery_id = int(delivery_id) & MASK
            next_id = (delivery_id + 1) & MASK
            if _serial_after(next_id, session.next_incoming_id):
                session.next_incoming_id = next_id
            link.delivery_count += 1
            link.credit -= 1
            if transfer.more:
                link.partial = [payload]
                link.partial_id = delivery_id
                link.partial_tag = bytes(transfer.delivery_tag or b"")
                link.partial_format = int(transfer.message_format or 0)
                link.partial_settled = bool(transfer.settled)
                return
            self._delivered(
                link,
                delivery_id,
                bytes(transfer.delivery_tag or b""),
                int(transfer.message_format or 0),
                bool(transfer.settled),
                payload,
                bool(transfer.aborted),
            )
            return
        if transfer.more and not transfer.aborted:
            return
        parts = link.partial
        link.partial = None
        self._delivered(
            link,
            link.partial_id,
            link.partial_tag,
            link.partial_format,
            link.partial_settled,
            b"".join(parts),
            bool(transfer.aborted),
        )

    def _delivered(
        self,
        link: Link,
        delivery_id: int,
        tag: bytes,
        message_format: int,
        settled: bool,
        payload: bytes,
        aborted: bool,
    ) -> None:
        if not aborted:
            state = self.on_transfer(link, delivery_id, tag, message_format, payload)
            if not settled:
                self.settle_incoming(link.session, delivery_id, state)
        self.on_credit_used(link)

    def settle_incoming(self, session: Session, delivery_id: int, state: bytes) -> None:
        self._queue_disposition(session.channel, True, delivery_id, state)

    def _queue_disposition(self, channel: int, role: bool, delivery_id: int, state: bytes) -> None:
        """Dispositions go out at the next flush; consecutive ids with one outcome share a
        range (the SDK settles every pending delivery in first..last)."""
        pending = self._dispositions
        if pending:
            last = pending[-1]
            if last[0] == channel and last[1] == role and last[4] == state:
                if delivery_id == ((last[3] + 1) & MASK):
                    last[3] = delivery_id
                    return
                if ((delivery_id - last[2]) & MASK) <= ((last[3] - last[2]) & MASK):
                    return  # the same id again (the SDK reused it): this range answers it
        pending.append([channel, role, delivery_id, delivery_id, state])

    def _emit_dispositions(self) -> None:
        for channel, role, first, last, state in self._dispositions:
            self._out.append(disposition_frame(channel, role, first, last, True, state))
        self._dispositions.clear()

    # ---- dispositions from the client -----------------------------------------------------
    def _disposition(self, channel: int, disposition: Disposition) -> None:
        session = self._session(channel)
        if session is None or not disposition.role:
            return  # role sender: about deliveries the client received? we send none unsettled
        first = int(disposition.first) & MASK
        last = first if disposition.last is None else int(disposition.last) & MASK
        span = (last - first) & MASK
        if span >= 0x80000000:
            return
        unsettled = session.unsettled
        if span + 1 > len(unsettled):
            ids = sorted(i for i in unsettled if ((i - first) & MASK) <= span)
        else:
            ids = [(first + k) & MASK for k in range(span + 1)]
        settled = bool(disposition.settled)
        state = disposition.state
        for delivery_id in ids:
            entry = unsettled.get(delivery_id)
            if entry is None:
                continue
            link, context = entry
            echo = self.on_disposition(link, delivery_id, context, state, settled)
            if echo is None and not settled:
                continue  # no outcome yet (received): wait for the real one
            del unsettled[delivery_id]
            if not settled and echo is not None:
                self._queue_disposition(session.channel, False, delivery_id, echo)

    # ---- hooks ----------------------------------------------------------------------------
    def before_write(self) -> None:
        """Called at each flush, before anything is written to the socket."""

    def on_connection_made(self) -> None:
        """The socket is open."""

    def on_connection_lost(self) -> None:
        """The socket is closed (every link was detached first)."""

    def on_attach(self, link: Link) -> None:
        """Answer with `accept_attach` or `refuse_attach`."""
        self.refuse_attach(link, "amqp:not-implemented", "no links here", None)

    def on_detach(self, link: Link) -> None:
        """The link is gone (detached by the client, or its session or connection ended)."""

    def on_flow(self, link: Link) -> None:
        """The client granted credit on our sender ``link``."""

    def on_transfer(
        self, link: Link, delivery_id: int, tag: bytes, message_format: int, payload: bytes
    ) -> bytes:
        """A whole incoming message; returns the encoded outcome to settle it with."""
        return ACCEPTED_STATE

    def on_credit_used(self, link: Link) -> None:
        """Called after each incoming delivery: top up the link's credit here."""

    def on_stray_transfer(self, session: Session, transfer: Transfer) -> None:
        """A transfer on a handle that is not one of our receiver links."""

    def on_disposition(
        self, link: Link, delivery_id: int, context: Any, state: Any, settled: bool
    ) -> bytes | None:
        """The client settled one of our deliveries; returns the encoded outcome to echo."""
        return None


def state_code(state: Any) -> int | None:
    """The descriptor code of a delivery state (0x24 accepted ...), None if there is none."""
    return descriptor_code(state)


__all__ = [
    "ACCEPTED_STATE",
    "AmqpEngine",
    "Link",
    "Performative",
    "ProtocolError",
    "Session",
    "state_code",
]
