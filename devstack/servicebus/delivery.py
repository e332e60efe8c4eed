"""Build the bytes of a stored message as the broker hands it to a receiver."""

from proton import timestamp

from .codec import (
    DEAD_LETTER_SOURCE,
    ENQUEUED_TIME,
    LOCKED_UNTIL,
    MESSAGE_STATE,
    SEQUENCE_NUMBER,
    encode_message,
)
from .store import MessageState, StoredMessage


def encode_for_delivery(message: StoredMessage, wire_delivery_count: int, *, locked: bool) -> bytes:
    annotations = dict(message.annotations)
    annotations[SEQUENCE_NUMBER] = int(message.sequence_number)
    annotations[ENQUEUED_TIME] = timestamp(message.enqueued_time_ms)
    state = message.state if message.state is not MessageState.LOCKED else MessageState.ACTIVE
    annotations[MESSAGE_STATE] = int(state)
    if locked:
        annotations[LOCKED_UNTIL] = timestamp(message.locked_until_ms)
    if message.dead_letter_source is not None:
        annotations[DEAD_LETTER_SOURCE] = message.dead_letter_source
    return encode_message(
        delivery_count=wire_delivery_count,
        ttl_ms=message.ttl_ms,
        annotations=annotations,
        properties_raw=message.properties_raw,
        application_properties_raw=message.application_properties_raw,
        body_raw=message.body_raw,
    )
