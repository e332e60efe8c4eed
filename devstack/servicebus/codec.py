"""The AMQP 1.0 type system: every primitive, described types, lists, maps and arrays.

Values decode to Python values that remember their AMQP type, so they encode back exactly:
``None``, ``bool``, ``int`` (long), ``float`` (double), ``str`` (string), ``bytes`` (binary),
``uuid.UUID``, ``list`` and ``dict`` are themselves; every other AMQP type has a small
subclass here (``Symbol``, ``UInt``, ``Timestamp`` ...). ``Described`` and ``Array`` carry
their descriptor / element type.

Message sections on top: a stored message keeps its bare sections (properties,
application-properties, body) as the bytes the client sent; only the header and the message
annotations are rebuilt for each delivery. A batch (message format 0x80013700) is a message
whose data sections each hold one whole encoded message.

(Over 300 lines: the whole AMQP type system, one encoder and decoder per type, in one table.)
"""

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# ---- types ------------------------------------------------------------------------------------


class Symbol(str):
    """AMQP symbol (ASCII); equal to and hashed like the plain string."""

    __slots__ = ()


class Char(str):
    __slots__ = ()


class UByte(int):
    __slots__ = ()


class UShort(int):
    __slots__ = ()


class UInt(int):
    __slots__ = ()


class ULong(int):
    __slots__ = ()


class Byte(int):
    __slots__ = ()


class Short(int):
    __slots__ = ()


class Int(int):
    __slots__ = ()


class Timestamp(int):
    """Milliseconds since the Unix epoch."""

    __slots__ = ()


class Float(float):
    """AMQP float (32 bit); a plain ``float`` is a double."""

    __slots__ = ()


class Decimal32(bytes):
    __slots__ = ()


class Decimal64(bytes):
    __slots__ = ()


class Decimal128(bytes):
    __slots__ = ()


@dataclass(slots=True)
class Described:
    descriptor: Any
    value: Any


@dataclass(slots=True)
class Array:
    """A homogeneous AMQP array: ``code`` is the element constructor (e.g. 0x83 timestamps)."""

    code: int
    items: list[Any]
    descriptor: Any = None


@dataclass(slots=True, frozen=True)
class Raw:
    """Bytes that are already an encoded AMQP value; written as they are."""

    data: bytes


class CodecError(ValueError):
    """Bytes that are not well-formed AMQP."""


# ---- decoding ---------------------------------------------------------------------------------

_U8 = struct.Struct(">B").unpack_from
_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from
_U64 = struct.Struct(">Q").unpack_from
_I8 = struct.Struct(">b").unpack_from
_I16 = struct.Struct(">h").unpack_from
_I32 = struct.Struct(">i").unpack_from
_I64 = struct.Struct(">q").unpack_from
_F32 = struct.Struct(">f").unpack_from
_F64 = struct.Struct(">d").unpack_from
_UTF32 = "utf-32-be"

# Width of the size/count fields, by constructor, for the compound and variable types.
_FIXED_WIDTH = {
    0x40: 0, 0x41: 0, 0x42: 0, 0x43: 0, 0x44: 0, 0x45: 0,
    0x50: 1, 0x51: 1, 0x52: 1, 0x53: 1, 0x54: 1, 0x55: 1, 0x56: 1,
    0x60: 2, 0x61: 2,
    0x70: 4, 0x71: 4, 0x72: 4, 0x73: 4, 0x74: 4,
    0x80: 8, 0x81: 8, 0x82: 8, 0x83: 8, 0x84: 8,
    0x94: 16, 0x98: 16,
}  # fmt: skip


def _need(buf: bytes, end: int) -> None:
    if end > len(buf):
        raise CodecError(f"truncated: needs {end} bytes, has {len(buf)}")


def _read(code: int, buf: bytes, pos: int) -> tuple[Any, int]:
    """The value of constructor ``code`` starting at ``pos`` (after the constructor)."""
    if code == 0x40:
        return None, pos
    if code == 0x41:
        return True, pos
    if code == 0x42:
        return False, pos
    if code == 0xA1 or code == 0xA0 or code == 0xA3:
        _need(buf, pos + 1)
        end = pos + 1 + buf[pos]
        _need(buf, end)
        raw = buf[pos + 1 : end]
        if code == 0xA0:
            return bytes(raw), end
        return (raw.decode() if code == 0xA1 else Symbol(raw.decode("ascii"))), end
    if code == 0x43:
        return UInt(0), pos
    if code == 0x52:
        _need(buf, pos + 1)
        return UInt(buf[pos]), pos + 1
    if code == 0x53:
        _need(buf, pos + 1)
        return ULong(buf[pos]), pos + 1
    if code == 0x45:
        return [], pos
    if code == 0xC0 or code == 0xC1:
        _need(buf, pos + 2)
        count = buf[pos + 1]
        end = pos + 1 + buf[pos]
        return _compound(code == 0xC1, buf, pos + 2, count, end), end
    if code == 0xD0 or code == 0xD1:
        _need(buf, pos + 8)
        (size,) = _U32(buf, pos)
        (count,) = _U32(buf, pos + 4)
        end = pos + 4 + size
        return _compound(code == 0xD1, buf, pos + 8, count, end), end
    if code == 0x00:
        descriptor, pos = decode(buf, pos)
        value, pos = decode(buf, pos)
        return Described(descriptor, value), pos
    if code == 0x70:
        _need(buf, pos + 4)
        return UInt(_U32(buf, pos)[0]), pos + 4
    if code == 0x44:
        return ULong(0), pos
    if code == 0x80:
        _need(buf, pos + 8)
        return ULong(_U64(buf, pos)[0]), pos + 8
    if code == 0x81:
        _need(buf, pos + 8)
        return _I64(buf, pos)[0], pos + 8
    if code == 0x55:
        _need(buf, pos + 1)
        return _I8(buf, pos)[0], pos + 1
    if code == 0x83:
        _need(buf, pos + 8)
        return Timestamp(_I64(buf, pos)[0]), pos + 8
    if code == 0x98:
        _need(buf, pos + 16)
        return uuid.UUID(bytes=bytes(buf[pos : pos + 16])), pos + 16
    if code == 0xB0 or code == 0xB1 or code == 0xB3:
        _need(buf, pos + 4)
        end = pos + 4 + _U32(buf, pos)[0]
        _need(buf, end)
        raw = buf[pos + 4 : end]
        if code == 0xB0:
            return bytes(raw), end
        return (raw.decode() if code == 0xB1 else Symbol(raw.decode("ascii"))), end
    if code == 0x50:
        _need(buf, pos + 1)
        return UByte(buf[pos]), pos + 1
    if code == 0x51:
        _need(buf, pos + 1)
        return Byte(_I8(buf, pos)[0]), pos + 1
    if code == 0x56:
        _need(buf, pos + 1)
        return buf[pos] != 0, pos + 1
    if code == 0x54:
        _need(buf, pos + 1)
        return Int(_I8(buf, pos)[0]), pos + 1
    if code == 0x71:
        _need(buf, pos + 4)
        return Int(_I32(buf, pos)[0]), pos + 4
    if code == 0x60:
        _need(buf, pos + 2)
        return UShort(_U16(buf, pos)[0]), pos + 2
    if code == 0x61:
        _need(buf, pos + 2)
        return Short(_I16(buf, pos)[0]), pos + 2
    if code == 0x72:
        _need(buf, pos + 4)
        return Float(_F32(buf, pos)[0]), pos + 4
    if code == 0x82:
        _need(buf, pos + 8)
        return _F64(buf, pos)[0], pos + 8
    if code == 0x73:
        _need(buf, pos + 4)
        return Char(bytes(buf[pos : pos + 4]).decode(_UTF32)), pos + 4
    if code == 0x74:
        _need(buf, pos + 4)
        return Decimal32(buf[pos : pos + 4]), pos + 4
    if code == 0x84:
        _need(buf, pos + 8)
        return Decimal64(buf[pos : pos + 8]), pos + 8
    if code == 0x94:
        _need(buf, pos + 16)
        return Decimal128(buf[pos : pos + 16]), pos + 16
    if code == 0xE0:
        _need(buf, pos + 2)
        return _array(buf, pos + 2, buf[pos + 1], pos + 1 + buf[pos]), pos + 1 + buf[pos]
    if code == 0xF0:
        _need(buf, pos + 8)
        (size,) = _U32(buf, pos)
        (count,) = _U32(buf, pos + 4)
        return _array(buf, pos + 8, count, pos + 4 + size), pos + 4 + size
    raise CodecError(f"unknown constructor {code:#04x} at byte {pos - 1}")


def _compound(is_map: bool, buf: bytes, pos: int, count: int, end: int) -> Any:
    _need(buf, end)
    items = []
    for _ in range(count):
        value, pos = decode(buf, pos)
        items.append(value)
    if pos != end:
        raise CodecError(f"compound size mismatch: ends at {pos}, declared {end}")
    if not is_map:
        return items
    if count % 2:
        raise CodecError("a map needs an even number of items")
    try:
        return dict(zip(items[::2], items[1::2], strict=True))
    except TypeError as exc:  # an unhashable key
        raise CodecError(f"bad map key: {exc}") from exc


def _array(buf: bytes, pos: int, count: int, end: int) -> Array:
    _need(buf, end)
    descriptor = None
    code = buf[pos]
    pos += 1
    if code == 0x00:
        descriptor, pos = decode(buf, pos)
        _need(buf, pos + 1)
        code = buf[pos]
        pos += 1
    items = []
    for _ in range(count):
        value, pos = _read(code, buf, pos)
        items.append(value)
    if pos != end:
        raise CodecError(f"array size mismatch: ends at {pos}, declared {end}")
    return Array(code, items, descriptor)


def decode(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """One value at ``pos``; returns it and the position after it."""
    if pos >= len(buf):
        raise CodecError(f"truncated: no constructor at byte {pos}")
    return _read(buf[pos], buf, pos + 1)


def skip(buf: bytes, pos: int) -> int:
    """The position after the value at ``pos``, without building it."""
    _need(buf, pos + 1)
    code = buf[pos]
    pos += 1
    if code == 0x00:
        return skip(buf, skip(buf, pos))
    width = _FIXED_WIDTH.get(code)
    if width is not None:
        end = pos + width
    elif code in (0xA0, 0xA1, 0xA3, 0xC0, 0xC1, 0xE0):
        _need(buf, pos + 1)
        end = pos + 1 + buf[pos]
    elif code in (0xB0, 0xB1, 0xB3, 0xD0, 0xD1, 0xF0):
        _need(buf, pos + 4)
        end = pos + 4 + _U32(buf, pos)[0]
    else:
        raise CodecError(f"unknown constructor {code:#04x} at byte {pos - 1}")
    _need(buf, end)
    return end


# ---- encoding ---------------------------------------------------------------------------------

_P8 = struct.Struct(">B").pack
_P16 = struct.Struct(">H").pack
_P32 = struct.Struct(">I").pack
_P64 = struct.Struct(">Q").pack
_PI8 = struct.Struct(">b").pack
_PI16 = struct.Struct(">h").pack
_PI32 = struct.Struct(">i").pack
_PI64 = struct.Struct(">q").pack
_PF32 = struct.Struct(">f").pack
_PF64 = struct.Struct(">d").pack


def _uint(value: int) -> bytes:
    if value == 0:
        return b"\x43"
    if value < 256:
        return b"\x52" + _P8(value)
    return b"\x70" + _P32(value)


def _ulong(value: int) -> bytes:
    if value == 0:
        return b"\x44"
    if value < 256:
        return b"\x53" + _P8(value)
    return b"\x80" + _P64(value)


def _long(value: int) -> bytes:
    if -128 <= value <= 127:
        return b"\x55" + _PI8(value)
    return b"\x81" + _PI64(value)


def _int(value: int) -> bytes:
    if -128 <= value <= 127:
        return b"\x54" + _PI8(value)
    return b"\x71" + _PI32(value)


def _variable(small: int, large: int, raw: bytes) -> bytes:
    if len(raw) < 256:
        return bytes((small, len(raw))) + raw
    return bytes((large,)) + _P32(len(raw)) + raw


def _compound_bytes(small: int, large: int, count: int, body: bytes) -> bytes:
    if len(body) + 1 < 256 and count < 256:
        return bytes((small, len(body) + 1, count)) + body
    return bytes((large,)) + _P32(len(body) + 4) + _P32(count) + body


def encode(value: Any) -> bytes:
    """The AMQP encoding of one value (types as documented at the top of this module)."""
    kind = type(value)
    encoder = _ENCODERS.get(kind)
    if encoder is not None:
        return encoder(value)
    for base, fallback in _FALLBACK:
        if isinstance(value, base):
            return fallback(value)
    raise CodecError(f"cannot encode {kind.__name__} as AMQP")


def _list(value: list[Any] | tuple[Any, ...]) -> bytes:
    if not value:
        return b"\x45"
    return _compound_bytes(0xC0, 0xD0, len(value), b"".join(map(encode, value)))


def _map(value: dict[Any, Any]) -> bytes:
    body = b"".join(encode(k) + encode(v) for k, v in value.items())
    return _compound_bytes(0xC1, 0xD1, 2 * len(value), body)


def _element(code: int, value: Any) -> bytes:
    """An array element: its value in the array's one fixed constructor, without it."""
    if code in (0xB0, 0xB1, 0xB3):
        raw = value if code == 0xB0 else value.encode("ascii" if code == 0xB3 else "utf-8")
        return _P32(len(raw)) + bytes(raw)
    if code == 0xD0:
        full = _list(value)
        if full == b"\x45":
            return _P32(4) + _P32(0)
        return full[1:] if full[0] == 0xD0 else _P32(full[1] + 3) + _P32(full[2]) + full[3:]
    if code == 0xD1:
        full = _map(value)
        return full[1:] if full[0] == 0xD1 else _P32(full[1] + 3) + _P32(full[2]) + full[3:]
    packer = _ARRAY_PACKERS.get(code)
    if packer is None:
        raise CodecError(f"cannot encode an array of constructor {code:#04x}")
    return packer(value)


_ARRAY_PACKERS: dict[int, Callable[[Any], bytes]] = {
    0x56: lambda v: b"\x01" if v else b"\x00",
    0x50: _P8,
    0x51: _PI8,
    0x60: _P16,
    0x61: _PI16,
    0x70: _P32,
    0x71: _PI32,
    0x80: _P64,
    0x81: _PI64,
    0x83: _PI64,
    0x72: _PF32,
    0x82: _PF64,
    0x73: lambda v: v.encode(_UTF32),
    0x98: lambda v: v.bytes,
    0x40: lambda v: b"",
}


def _array_bytes(value: Array) -> bytes:
    constructor = bytes((value.code,))
    if value.descriptor is not None:
        constructor = b"\x00" + encode(value.descriptor) + constructor
    body = constructor + b"".join(_element(value.code, item) for item in value.items)
    count = len(value.items)
    if len(body) + 1 < 256 and count < 256:
        return bytes((0xE0, len(body) + 1, count)) + body
    return b"\xf0" + _P32(len(body) + 4) + _P32(count) + body


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    type(None): lambda v: b"\x40",
    bool: lambda v: b"\x41" if v else b"\x42",
    int: _long,
    float: lambda v: b"\x82" + _PF64(v),
    str: lambda v: _variable(0xA1, 0xB1, v.encode()),
    bytes: lambda v: _variable(0xA0, 0xB0, v),
    Symbol: lambda v: _variable(0xA3, 0xB3, v.encode("ascii")),
    UInt: _uint,
    ULong: _ulong,
    UByte: lambda v: b"\x50" + _P8(v),
    UShort: lambda v: b"\x60" + _P16(v),
    Byte: lambda v: b"\x51" + _PI8(v),
    Short: lambda v: b"\x61" + _PI16(v),
    Int: _int,
    Timestamp: lambda v: b"\x83" + _PI64(v),
    Float: lambda v: b"\x72" + _PF32(v),
    Char: lambda v: b"\x73" + v.encode(_UTF32),
    Decimal32: lambda v: b"\x74" + bytes(v),
    Decimal64: lambda v: b"\x84" + bytes(v),
    Decimal128: lambda v: b"\x94" + bytes(v),
    uuid.UUID: lambda v: b"\x98" + v.bytes,
    list: _list,
    tuple: _list,
    dict: _map,
    Described: lambda v: b"\x00" + encode(v.descriptor) + encode(v.value),
    Array: _array_bytes,
    Raw: lambda v: v.data,
    bytearray: lambda v: _variable(0xA0, 0xB0, bytes(v)),
    memoryview: lambda v: _variable(0xA0, 0xB0, bytes(v)),
}
_FALLBACK: list[tuple[type, Callable[[Any], bytes]]] = [
    (bool, _ENCODERS[bool]),
    (int, _long),
    (float, _ENCODERS[float]),
    (str, _ENCODERS[str]),
    (bytes, _ENCODERS[bytes]),
    (dict, _map),
    (list, _list),
    (tuple, _list),
]


# ---- message sections -------------------------------------------------------------------------

HEADER = 0x70
DELIVERY_ANNOTATIONS = 0x71
MESSAGE_ANNOTATIONS = 0x72
PROPERTIES = 0x73
APPLICATION_PROPERTIES = 0x74
DATA = 0x75
AMQP_SEQUENCE = 0x76
AMQP_VALUE = 0x77
FOOTER = 0x78
_BODY = (DATA, AMQP_SEQUENCE, AMQP_VALUE)
BATCH_FORMAT = 0x80013700

SCHEDULED_ENQUEUE_TIME = Symbol("x-opt-scheduled-enqueue-time")
SEQUENCE_NUMBER = Symbol("x-opt-sequence-number")
ENQUEUED_TIME = Symbol("x-opt-enqueued-time")
LOCKED_UNTIL = Symbol("x-opt-locked-until")
MESSAGE_STATE = Symbol("x-opt-message-state")
DEAD_LETTER_SOURCE = Symbol("x-opt-deadletter-source")


@dataclass(slots=True)
class IncomingMessage:
    """One message as a client sent it, split into the parts the broker needs."""

    ttl_ms: int | None
    annotations: dict[Any, Any]
    message_id: str | None
    properties_raw: bytes
    application_properties_raw: bytes
    body_raw: bytes
    # set when the broker moves a stored message on (auto-forwarding, a topic's scheduled
    # message): how many times it was forwarded, and the client's annotations as encoded
    hops: int = 0
    encoded_annotations: tuple[bytes, int] | None = None


def _section_code(buf: bytes, pos: int) -> tuple[int, int]:
    """The descriptor code of the section at ``pos`` and where its value starts."""
    if buf[pos : pos + 2] == b"\x00\x53" and pos + 2 < len(buf):
        return buf[pos + 2], pos + 3
    if buf[pos : pos + 1] != b"\x00":
        raise CodecError(f"byte {pos}: not a described message section")
    descriptor, value_at = decode(buf, pos + 1)
    if not isinstance(descriptor, int) or isinstance(descriptor, bool):
        raise CodecError(f"byte {pos}: a section needs a numeric descriptor")
    return int(descriptor), value_at


def sections(raw: bytes) -> list[tuple[int, int, int, int]]:
    """``(code, start, value_start, end)`` for each section of an encoded message."""
    out = []
    pos = 0
    size = len(raw)
    while pos < size:
        code, value_at = _section_code(raw, pos)
        if not HEADER <= code <= FOOTER:
            raise CodecError(f"byte {pos}: unknown section descriptor {code:#x}")
        end = skip(raw, value_at)
        out.append((code, pos, value_at, end))
        pos = end
    return out


def _message_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _first_field(raw: bytes, value_at: int) -> Any:
    """The first item of the list at ``value_at`` (the message-id of a properties section)."""
    code = raw[value_at]
    if code == 0x45:
        return None
    if code == 0xC0:
        if raw[value_at + 2] == 0:
            return None
        return decode(raw, value_at + 3)[0]
    if code == 0xD0:
        if _U32(raw, value_at + 5)[0] == 0:
            return None
        return decode(raw, value_at + 9)[0]
    raise CodecError("the properties section is not a list")


def decode_message(raw: bytes) -> IncomingMessage:
    """One whole encoded message: the parts the broker keeps.

    Sections in the order AMQP gives them, with one exception: delivery annotations are taken
    anywhere, as azure-servicebus writes them last (after the footer). The body is one
    amqp-value, or one or more data sections, or one or more amqp-sequence sections. What
    follows the application properties (body, footer, delivery annotations) is kept as the
    client sent it, the delivery annotations moved after the rest, where the SDK puts them.
    """
    ttl_ms: int | None = None
    annotations: dict[Any, Any] = {}
    message_id: str | None = None
    properties_raw = b""
    application_properties_raw = b""
    body_start = body_end = -1
    body_kind = -1
    delivery_annotations = b""
    last = -1
    for code, start, value_at, end in sections(raw):
        if code == DELIVERY_ANNOTATIONS:
            if delivery_annotations:
                raise CodecError("a message has at most one delivery-annotations section")
            delivery_annotations = raw[start:end]
            continue
        if code < last or (code == last and code not in _BODY):
            raise CodecError("message sections out of order")
        last = code
        if code == HEADER:
            fields = decode(raw, value_at)[0] or []
            if not isinstance(fields, list):
                raise CodecError("the header is not a list")
            if len(fields) > 2 and fields[2] is not None:
                ttl_ms = int(fields[2])
        elif code == MESSAGE_ANNOTATIONS:
            value = decode(raw, value_at)[0]
            if value is not None and not isinstance(value, dict):
                raise CodecError("message annotations are not a map")
            annotations = value or {}
        elif code == PROPERTIES:
            message_id = _message_id(_first_field(raw, value_at))
            properties_raw = raw[start:end]
        elif code == APPLICATION_PROPERTIES:
            application_properties_raw = raw[start:end]
        elif code in _BODY:
            if body_start < 0:
                body_start, body_kind = start, code
            elif code != body_kind or code == AMQP_VALUE:
                raise CodecError(
                    "a message body is one amqp-value, or data sections, or amqp-sequence "
                    "sections, not a mix"
                )
            body_end = end
        elif code == FOOTER:
            if body_start < 0:
                raise CodecError("a footer before the body")
            body_end = end
    if body_start < 0:
        raise CodecError("a message needs a body section")
    return IncomingMessage(
        ttl_ms=ttl_ms,
        annotations=annotations,
        message_id=message_id,
        properties_raw=bytes(properties_raw),
        application_properties_raw=bytes(application_properties_raw),
        body_raw=bytes(raw[body_start:body_end]) + delivery_annotations,
    )


def decode_transfer(raw: bytes, message_format: int = 0) -> list[IncomingMessage]:
    """The messages in one transfer: one, or each inner message of a batch (0x80013700)."""
    if message_format != BATCH_FORMAT:
        return [decode_message(raw)]
    out = []
    for code, _start, value_at, end in sections(raw):
        if code == DATA:
            inner, at = decode(raw, value_at)
            if at != end or not isinstance(inner, bytes):
                raise CodecError("a batch's data section is not binary")
            out.append(decode_message(inner))
        elif code not in (HEADER, DELIVERY_ANNOTATIONS, MESSAGE_ANNOTATIONS, PROPERTIES):
            raise CodecError(f"a batch carries only data sections, not {code:#x}")
    if not out:
        raise CodecError("an empty batch")
    return out


def section(code: int, value: Any) -> bytes:
    return b"\x00\x53" + bytes((code,)) + encode(value)


def encode_application_properties(properties: dict[Any, Any]) -> bytes:
    return section(APPLICATION_PROPERTIES, properties)


def decode_application_properties(raw: bytes) -> dict[Any, Any]:
    if not raw:
        return {}
    ((code, _start, value_at, _end),) = sections(raw)
    value = decode(raw, value_at)[0]
    if code != APPLICATION_PROPERTIES or not isinstance(value, dict | None):
        raise CodecError("not an application-properties section")
    return dict(value or {})


def decode_section_value(raw: bytes, code: int) -> Any:
    """The value of the first section with ``code`` in an encoded message (None if absent)."""
    for found, _start, value_at, _end in sections(raw):
        if found == code:
            return decode(raw, value_at)[0]
    return None


def _header(ttl_ms: int | None, delivery_count: int) -> bytes:
    """durable, priority 4, ttl, first-acquirer, delivery-count: all five, as Azure sends."""
    fields = b"\x41\x50\x04" + (b"\x40" if ttl_ms is None else _uint(ttl_ms))
    fields += b"\x42" + _uint(delivery_count)
    return b"\x00\x53\x70\xc0" + bytes((len(fields) + 1, 5)) + fields


def encode_annotation_items(annotations: dict[Any, Any]) -> bytes:
    return b"".join(encode(k) + encode(v) for k, v in annotations.items())


def encode_message(
    *,
    delivery_count: int,
    ttl_ms: int | None,
    annotations: dict[Any, Any],
    properties_raw: bytes,
    application_properties_raw: bytes,
    body_raw: bytes,
) -> bytes:
    """A whole message: header with all five fields (the SDK reads delivery-count from it)."""
    items = encode_annotation_items(annotations)
    return encode_message_raw(
        delivery_count=delivery_count,
        ttl_ms=ttl_ms,
        annotation_items=items,
        annotation_count=2 * len(annotations),
        properties_raw=properties_raw,
        application_properties_raw=application_properties_raw,
        body_raw=body_raw,
    )


def encode_message_raw(
    *,
    delivery_count: int,
    ttl_ms: int | None,
    annotation_items: bytes,
    annotation_count: int,
    properties_raw: bytes,
    application_properties_raw: bytes,
    body_raw: bytes,
) -> bytes:
    """As `encode_message`, with the annotation map's items already encoded."""
    annotations = b"\x00\x53\x72" + _compound_bytes(0xC1, 0xD1, annotation_count, annotation_items)
    return b"".join(
        (
            _header(ttl_ms, delivery_count),
            annotations,
            properties_raw,
            application_properties_raw,
            body_raw,
        )
    )


def encode_message_sections(
    *, properties: list[Any] | None, application_properties: dict[Any, Any] | None, value: Any
) -> bytes:
    """A small message of our own (a `$cbs` or `$management` reply): amqp-value body."""
    parts = []
    if properties is not None:
        parts.append(section(PROPERTIES, properties))
    if application_properties is not None:
        parts.append(section(APPLICATION_PROPERTIES, application_properties))
    parts.append(section(AMQP_VALUE, value))
    return b"".join(parts)


def lock_token_from_tag(tag: bytes) -> uuid.UUID | None:
    """The SDK reads a delivery tag as ``uuid.UUID(bytes_le=tag)``."""
    if len(tag) != 16:
        return None
    return uuid.UUID(bytes_le=bytes(tag))
