"""AMQP 1.0 frames: the 8-byte frame header, the performatives as small dataclasses, SASL.

A frame is ``size (4) | doff (1) | type (1: 0 AMQP, 1 SASL) | channel (2) | body``; the body
is one performative (a described list) and, for a transfer, the payload after it. Decoding
pads a short list with the fields' defaults; encoding drops trailing ``None`` fields.
The hot frames (transfer, disposition, flow) also have hand-written encoders.

(Over 300 lines: one table of the protocol's performatives; splitting it would split the spec.)
"""

import struct
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .codec import (
    Array,
    CodecError,
    Described,
    Symbol,
    UByte,
    UInt,
    ULong,
    UShort,
    decode,
    encode,
)

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"
FRAME_AMQP = 0
FRAME_SASL = 1
EMPTY_FRAME = b"\x00\x00\x00\x08\x02\x00\x00\x00"  # a heartbeat
_HEAD = struct.Struct(">IBBH")
_P32 = struct.Struct(">I").pack


class FrameError(CodecError):
    """A frame that cannot be taken apart (the connection ends with a framing error)."""


@dataclass(slots=True)
class Performative:
    CODE: ClassVar[int] = 0
    # the AMQP type of each field when it is an integer or a symbol, for encoding
    TYPES: ClassVar[tuple[Any, ...]] = ()

    def to_list(self) -> list[Any]:
        values = [getattr(self, f.name) for f in fields(self)]
        for i, kind in enumerate(self.TYPES):
            if kind is not None and values[i] is not None and type(values[i]) is not kind:
                values[i] = kind(values[i])
        while values and values[-1] is None:
            values.pop()
        return values


def _t(*kinds: Any) -> tuple[Any, ...]:
    return kinds


@dataclass(slots=True)
class Open(Performative):
    CODE: ClassVar[int] = 0x10
    TYPES: ClassVar[tuple[Any, ...]] = _t(None, None, UInt, UShort, UInt)
    container_id: str = ""
    hostname: str | None = None
    max_frame_size: int | None = None
    channel_max: int | None = None
    idle_time_out: int | None = None
    outgoing_locales: Any = None
    incoming_locales: Any = None
    offered_capabilities: Any = None
    desired_capabilities: Any = None
    properties: Any = None


@dataclass(slots=True)
class Begin(Performative):
    CODE: ClassVar[int] = 0x11
    TYPES: ClassVar[tuple[Any, ...]] = _t(UShort, UInt, UInt, UInt, UInt)
    remote_channel: int | None = None
    next_outgoing_id: int = 0
    incoming_window: int = 0
    outgoing_window: int = 0
    handle_max: int | None = None
    offered_capabilities: Any = None
    desired_capabilities: Any = None
    properties: Any = None


@dataclass(slots=True)
class Attach(Performative):
    CODE: ClassVar[int] = 0x12
    TYPES: ClassVar[tuple[Any, ...]] = _t(
        None, UInt, None, UByte, UByte, None, None, None, None, UInt, ULong
    )
    name: str = ""
    handle: int = 0
    role: bool = False  # False: sender, True: receiver
    snd_settle_mode: int | None = None
    rcv_settle_mode: int | None = None
    source: Any = None
    target: Any = None
    unsettled: Any = None
    incomplete_unsettled: bool | None = None
    initial_delivery_count: int | None = None
    max_message_size: int | None = None
    offered_capabilities: Any = None
    desired_capabilities: Any = None
    properties: Any = None


@dataclass(slots=True)
class Flow(Performative):
    CODE: ClassVar[int] = 0x13
    TYPES: ClassVar[tuple[Any, ...]] = _t(UInt, UInt, UInt, UInt, UInt, UInt, UInt, UInt)
    next_incoming_id: int | None = None
    incoming_window: int = 0
    next_outgoing_id: int = 0
    outgoing_window: int = 0
    handle: int | None = None
    delivery_count: int | None = None
    link_credit: int | None = None
    available: int | None = None
    drain: bool | None = None
    echo: bool | None = None
    properties: Any = None


@dataclass(slots=True)
class Transfer(Performative):
    CODE: ClassVar[int] = 0x14
    TYPES: ClassVar[tuple[Any, ...]] = _t(UInt, UInt, None, UInt, None, None, UByte)
    handle: int = 0
    delivery_id: int | None = None
    delivery_tag: bytes | None = None
    message_format: int | None = None
    settled: bool | None = None
    more: bool | None = None
    rcv_settle_mode: int | None = None
    state: Any = None
    resume: bool | None = None
    aborted: bool | None = None
    batchable: bool | None = None


@dataclass(slots=True)
class Disposition(Performative):
    CODE: ClassVar[int] = 0x15
    TYPES: ClassVar[tuple[Any, ...]] = _t(None, UInt, UInt)
    role: bool = False
    first: int = 0
    last: int | None = None
    settled: bool | None = None
    state: Any = None
    batchable: bool | None = None


@dataclass(slots=True)
class Detach(Performative):
    CODE: ClassVar[int] = 0x16
    TYPES: ClassVar[tuple[Any, ...]] = _t(UInt)
    handle: int = 0
    closed: bool | None = None
    error: Any = None


@dataclass(slots=True)
class End(Performative):
    CODE: ClassVar[int] = 0x17
    error: Any = None


@dataclass(slots=True)
class Close(Performative):
    CODE: ClassVar[int] = 0x18
    error: Any = None


@dataclass(slots=True)
class SaslMechanisms(Performative):
    CODE: ClassVar[int] = 0x40
    mechanisms: Any = None


@dataclass(slots=True)
class SaslInit(Performative):
    CODE: ClassVar[int] = 0x41
    mechanism: str = ""
    initial_response: bytes | None = None
    hostname: str | None = None


@dataclass(slots=True)
class SaslOutcome(Performative):
    CODE: ClassVar[int] = 0x44
    TYPES: ClassVar[tuple[Any, ...]] = _t(UByte)
    code: int = 0
    additional_data: bytes | None = None


PERFORMATIVES: dict[int, type[Performative]] = {
    cls.CODE: cls
    for cls in (
        Open, Begin, Attach, Flow, Transfer, Disposition, Detach, End, Close,
        SaslMechanisms, SaslInit, SaslOutcome,
    )
}  # fmt: skip
_FIELD_COUNT = {code: len(fields(cls)) for code, cls in PERFORMATIVES.items()}
_SYMBOLIC = {f"amqp:{cls.__name__.lower()}:list": cls.CODE for cls in PERFORMATIVES.values()}

# Outcomes and terminus descriptors.
RECEIVED = 0x23
ACCEPTED = 0x24
REJECTED = 0x25
RELEASED = 0x26
MODIFIED = 0x27
ERROR = 0x1D
SOURCE = 0x28
TARGET = 0x29


def descriptor_code(value: Any) -> int | None:
    """The numeric descriptor of a described value (symbolic descriptors too)."""
    if not isinstance(value, Described):
        return None
    descriptor = value.descriptor
    if isinstance(descriptor, int) and not isinstance(descriptor, bool):
        return int(descriptor)
    if isinstance(descriptor, str):
        return _SYMBOLIC.get(str(descriptor))
    return None


_DISPOSITION_START = b"\x00\x53\x15\xc0"
_PLAIN_STATES = {b"\x00\x53\x24\x45": 0x24, b"\x00\x53\x26\x45": 0x26}  # accepted, released


def _small_field(body: bytes, pos: int) -> tuple[Any, int] | None:
    """A null, boolean or uint field of a disposition; None for anything else."""
    code = body[pos]
    if code == 0x52:
        return UInt(body[pos + 1]), pos + 2
    if code == 0x56:
        return body[pos + 1] != 0, pos + 2
    if code == 0x70:
        return UInt(int.from_bytes(body[pos + 1 : pos + 5])), pos + 5
    if code == 0x40:
        return None, pos + 1
    if code == 0x41 or code == 0x42:
        return code == 0x41, pos + 1
    if code == 0x43:
        return UInt(0), pos + 1
    return None


def _fast_disposition(body: bytes) -> Disposition | None:
    """The disposition a client settles each message with, decoded without the general
    decoder: the same values it would give, or None to let it handle anything else."""
    size = len(body)
    if size < 7 or body[4] + 5 != size or not 3 <= body[5] <= 6:
        return None
    count = body[5]
    values: list[Any] = []
    pos = 6
    try:
        for index in range(count):
            if index == 4:  # the state: only the plain outcomes
                state = _PLAIN_STATES.get(body[pos : pos + 4])
                if state is None:
                    return None
                values.append(Described(ULong(state), []))
                pos += 4
                continue
            field = _small_field(body, pos)
            if field is None:
                return None
            values.append(field[0])
            pos = field[1]
    except IndexError:
        return None
    if pos != size:
        return None
    return Disposition(*values)


def parse_body(body: bytes) -> tuple[Performative | None, bytes]:
    """A frame body: its performative (None for an empty frame) and the payload after it."""
    if not body:
        return None, b""
    if body.startswith(_DISPOSITION_START):  # once per message settled: a fast path
        fast = _fast_disposition(body)
        if fast is not None:
            return fast, b""
    value, end = decode(body, 0)
    code = descriptor_code(value)
    if code is None or code not in PERFORMATIVES:
        raise FrameError(f"not a performative: {value!r:.80}")
    items = value.value
    if items is None:
        items = []
    if not isinstance(items, list):
        raise FrameError(f"performative {code:#x} is not a list")
    cls = PERFORMATIVES[code]
    count = _FIELD_COUNT[code]
    try:
        performative = cls(*items[:count])
    except TypeError as exc:
        raise FrameError(f"bad performative {cls.__name__}: {exc}") from exc
    # a field the peer left null takes the field's default (e.g. handle 0 stays required)
    return performative, body[end:]


def frame(channel: int, performative: Performative, payload: bytes = b"", kind: int = 0) -> bytes:
    body = b"\x00\x53" + bytes((performative.CODE,)) + encode(performative.to_list())
    return _HEAD.pack(8 + len(body) + len(payload), 2, kind, channel) + body + payload


def error(condition: str, description: str | None = None, info: Any = None) -> Described:
    return Described(ULong(ERROR), [Symbol(condition), description, info])


def outcome(code: int, fields_: list[Any] | None = None) -> Described:
    return Described(ULong(code), fields_ or [])


def symbols(*names: str) -> Array:
    return Array(0xB3, [Symbol(n) for n in names])


# ---- hand-written encoders for the frames sent once per message --------------------------------


def _uint(value: int) -> bytes:
    if value == 0:
        return b"\x43"
    if value < 256:
        return bytes((0x52, value))
    return b"\x70" + _P32(value)


def transfer_frame(
    channel: int,
    handle: int,
    delivery_id: int,
    tag: bytes,
    settled: bool,
    payload: bytes,
    more: bool = False,
    message_format: int = 0,
) -> bytes:
    """transfer(handle, delivery-id, delivery-tag, message-format, settled, more) + payload."""
    fields_ = b"".join(
        (
            _uint(handle),
            _uint(delivery_id),
            bytes((0xA0, len(tag))),
            tag,
            _uint(message_format),
            b"\x41" if settled else b"\x42",
            b"\x41" if more else b"\x42",
        )
    )
    body = b"\x00\x53\x14\xc0" + bytes((len(fields_) + 1, 6)) + fields_
    return _HEAD.pack(8 + len(body) + len(payload), 2, 0, channel) + body + payload


_ACCEPTED_STATE = b"\x00\x53\x24\x45"


def disposition_frame(
    channel: int, role: bool, first: int, last: int, settled: bool, state: bytes
) -> bytes:
    """disposition(role, first, last, settled, state); ``state`` is an encoded outcome."""
    fields_ = b"".join(
        (
            b"\x41" if role else b"\x42",
            _uint(first),
            _uint(last),
            b"\x41" if settled else b"\x42",
            state,
        )
    )
    if len(fields_) + 1 < 256:
        body = b"\x00\x53\x15\xc0" + bytes((len(fields_) + 1, 5)) + fields_
    else:
        body = b"\x00\x53\x15\xd0" + _P32(len(fields_) + 4) + _P32(5) + fields_
    return _HEAD.pack(8 + len(body), 2, 0, channel) + body


ACCEPTED_STATE = _ACCEPTED_STATE


def encoded_state(state: Any) -> bytes:
    return encode(state)
