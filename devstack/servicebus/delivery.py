"""Build the bytes of a stored message as the broker hands it to a receiver.

Once per delivery, so the broker's own annotations are written from pre-encoded keys; the
client's annotations (rare) are encoded once per message and kept.
"""

import struct

from .codec import (
    DEAD_LETTER_SOURCE,
    ENQUEUED_TIME,
    LOCKED_UNTIL,
    MESSAGE_STATE,
    SEQUENCE_NUMBER,
    encode,
    encode_annotation_items,
    encode_message_raw,
)
from .store import MessageState, StoredMessage

_OURS = {SEQUENCE_NUMBER, ENQUEUED_TIME, MESSAGE_STATE, LOCKED_UNTIL, DEAD_LETTER_SOURCE}
_SEQUENCE = encode(SEQUENCE_NUMBER)
_ENQUEUED = encode(ENQUEUED_TIME) + b"\x83"
_LOCKED = encode(LOCKED_UNTIL) + b"\x83"
_STATE = encode(MESSAGE_STATE)
_SOURCE = encode(DEAD_LETTER_SOURCE)
_I64 = struct.Struct(">q").pack


def client_annotations(message: StoredMessage) -> tuple[bytes, int]:
    """The client's own message annotations, encoded (once), and their item count."""
    cached = message.encoded_annotations
    if cached is None:
        theirs = {k: v for k, v in message.annotations.items() if k not in _OURS}
        cached = (encode_annotation_items(theirs), 2 * len(theirs))
        message.encoded_annotations = cached
    return cached


def _long(value: int) -> bytes:
    if -128 <= value <= 127:
        return b"\x55" + struct.pack(">b", value)
    return b"\x81" + _I64(value)


def encode_for_delivery(message: StoredMessage, wire_delivery_count: int, *, locked: bool) -> bytes:
    items, count = client_annotations(message)
    state = message.state if message.state is not MessageState.LOCKED else MessageState.ACTIVE
    parts = [
        items,
        _SEQUENCE,
        _long(message.sequence_number),
        _ENQUEUED,
        _I64(message.enqueued_time_ms),
        _STATE,
        _long(int(state)),
    ]
    count += 6
    if locked:
        parts += (_LOCKED, _I64(message.locked_until_ms))
        count += 2
    if message.dead_letter_source is not None:
        parts += (_SOURCE, encode(message.dead_letter_source))
        count += 2
    return encode_message_raw(
        delivery_count=wire_delivery_count,
        ttl_ms=message.ttl_ms,
        annotation_items=b"".join(parts),
        annotation_count=count,
        properties_raw=message.properties_raw,
        application_properties_raw=message.application_properties_raw,
        body_raw=message.body_raw,
    )
