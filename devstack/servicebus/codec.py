"""AMQP 1.0 message sections, encoded and decoded with python-qpid-proton's codec.

A stored message keeps its bare sections (properties, application-properties, body) as the
bytes the client sent, so every value round-trips with its exact AMQP type. Only the header
and the message annotations are rebuilt for each delivery.

Batches: the SDK sends a batch with message format 0x80013700, a message whose body is a
sequence of data sections, each holding one whole encoded message. Proton's binding does not
expose a transfer's message format, so a batch is recognised by its shape: no body other than
data sections, and every data section decodes completely into AMQP message sections.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from proton import Data, Described, symbol, ubyte, uint, ulong

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

SCHEDULED_ENQUEUE_TIME = symbol("x-opt-scheduled-enqueue-time")
SEQUENCE_NUMBER = symbol("x-opt-sequence-number")
ENQUEUED_TIME = symbol("x-opt-enqueued-time")
LOCKED_UNTIL = symbol("x-opt-locked-until")
MESSAGE_STATE = symbol("x-opt-message-state")
DEAD_LETTER_SOURCE = symbol("x-opt-deadletter-source")


class CodecError(ValueError):
    """The transfer is not a well-formed AMQP message."""


@dataclass(slots=True)
class IncomingMessage:
    """One message as a client sent it, split into the parts the broker needs."""

    ttl_ms: int | None
    annotations: dict[Any, Any]
    message_id: str | None
    properties_raw: bytes
    application_properties_raw: bytes
    body_raw: bytes


@dataclass(slots=True)
class _Section:
    code: int
    value: Any
    raw: bytes


def own(value: Any) -> Any:
    """Copy values that still point into proton's decode buffer (binary comes as memoryview)."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return {own(k): own(v) for k, v in value.items()}
    if isinstance(value, list):
        return [own(v) for v in value]
    return value


def _sections(raw: bytes | memoryview) -> list[_Section]:
    view = memoryview(raw)
    out: list[_Section] = []
    pos = 0
    data = Data()
    while pos < len(view):
        data.clear()
        try:
            consumed = data.decode(view[pos:])  # type: ignore[arg-type]  # cffi takes any buffer
        except Exception as exc:
            raise CodecError(f"undecodable section at byte {pos}") from exc
        if consumed <= 0:
            raise CodecError(f"empty section at byte {pos}")
        data.rewind()
        data.next()
        try:
            value = data.get_object()
        except Exception as exc:
            raise CodecError(f"undecodable value at byte {pos}") from exc
        if not isinstance(value, Described) or not isinstance(value.descriptor, int):
            raise CodecError(f"byte {pos}: not a described message section")
        code = int(value.descriptor)
        if not HEADER <= code <= FOOTER:
            raise CodecError(f"byte {pos}: unknown section descriptor {code:#x}")
        out.append(_Section(code, own(value.value), bytes(view[pos : pos + consumed])))
        pos += consumed
    return out


def _is_message(sections: list[_Section]) -> bool:
    codes = [s.code for s in sections]
    if not codes or codes != sorted(codes):
        return False
    return any(c in _BODY for c in codes)


def _message_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    return str(value)


def _incoming(sections: list[_Section]) -> IncomingMessage:
    ttl_ms: int | None = None
    annotations: dict[Any, Any] = {}
    message_id: str | None = None
    properties_raw = b""
    application_properties_raw = b""
    body: list[bytes] = []
    for section in sections:
        if section.code == HEADER:
            fields = list(section.value or [])
            if len(fields) > 2 and fields[2] is not None:
                ttl_ms = int(fields[2])
        elif section.code == MESSAGE_ANNOTATIONS:
            annotations = own(dict(section.value or {}))
        elif section.code == PROPERTIES:
            fields = list(section.value or [])
            message_id = _message_id(fields[0]) if fields else None
            properties_raw = section.raw
        elif section.code == APPLICATION_PROPERTIES:
            application_properties_raw = section.raw
        elif section.code in _BODY:
            body.append(section.raw)
    return IncomingMessage(
        ttl_ms=ttl_ms,
        annotations=annotations,
        message_id=message_id,
        properties_raw=properties_raw,
        application_properties_raw=application_properties_raw,
        body_raw=b"".join(body),
    )


def _looks_like_section(section: _Section) -> bool:
    value = section.value
    return (
        isinstance(value, bytes)
        and len(value) >= 3
        and value[0] == 0x00
        and value[1] == 0x53
        and HEADER <= value[2] <= FOOTER
    )


def decode_transfer(raw: bytes | memoryview) -> list[IncomingMessage]:
    """The messages in one transfer: one, or several when the client sent a batch."""
    sections = _sections(raw)
    if not _is_message(sections):
        raise CodecError("a message needs a body section and sections in order")
    data_sections = [s for s in sections if s.code == DATA]
    if all(s.code in (HEADER, MESSAGE_ANNOTATIONS, PROPERTIES, DATA) for s in sections):
        try:
            inner = [_sections(bytes(s.value)) for s in data_sections if _looks_like_section(s)]
        except CodecError:
            inner = []
        if len(inner) != len(data_sections):
            inner = []
        if inner and all(_is_message(m) for m in inner):
            return [_incoming(m) for m in inner]
    return [_incoming(sections)]


def decode_message(raw: bytes | memoryview) -> IncomingMessage:
    """One whole encoded message (as carried inside a `$management` request)."""
    return _incoming(_sections(raw))


def encode_value(value: Any) -> bytes:
    data = Data()
    data.put_object(value)
    return bytes(data.encode())


def encode_application_properties(properties: dict[Any, Any]) -> bytes:
    return encode_value(Described(ulong(APPLICATION_PROPERTIES), properties))


def decode_application_properties(raw: bytes) -> dict[Any, Any]:
    if not raw:
        return {}
    sections = _sections(raw)
    return dict(own(sections[0].value or {}))


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
    header = Described(
        ulong(HEADER),
        [True, ubyte(4), None if ttl_ms is None else uint(ttl_ms), False, uint(delivery_count)],
    )
    data = Data()
    data.put_object(header)
    data.put_object(Described(ulong(MESSAGE_ANNOTATIONS), annotations))
    return b"".join((bytes(data.encode()), properties_raw, application_properties_raw, body_raw))


def lock_token_from_tag(tag: bytes) -> uuid.UUID | None:
    """The SDK reads a delivery tag as ``uuid.UUID(bytes_le=tag)``."""
    if len(tag) != 16:
        return None
    return uuid.UUID(bytes_le=bytes(tag))
