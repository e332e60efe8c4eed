"""Every AMQP body type (data, amqp-sequence, amqp-value) and the annotations round-trip
through the emulator, sent and received by the unmodified SDK (sync and async)."""

from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusReceiver, ServiceBusSender
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.amqp import AmqpAnnotatedMessage, AmqpMessageBodyType

from devstack.servicebus.codec import CodecError, decode_message, section


def _messages() -> list[AmqpAnnotatedMessage]:
    return [
        AmqpAnnotatedMessage(
            data_body=[b"aa", b"bb", b"cc"],
            delivery_annotations={"delivery-key": "delivery-value"},
            application_properties={"body_type": "data"},
        ),
        AmqpAnnotatedMessage(
            sequence_body=[b"message", 123.456, True],
            footer={"footer_key": "footer_value"},
            properties={"subject": "sequence"},
            application_properties={"body_type": "sequence"},
        ),
        AmqpAnnotatedMessage(
            value_body={b"key": [-123, b"data", False]},
            header={"priority": 7},
            annotations={"annotation_key": "value"},
            application_properties={"body_type": "value"},
        ),
    ]


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    return value


def _check(received: list[Any]) -> None:
    by_type = {_text(m.application_properties)["body_type"]: m.raw_amqp_message for m in received}
    assert set(by_type) == {"data", "sequence", "value"}
    data, sequence, value = by_type["data"], by_type["sequence"], by_type["value"]
    assert data.body_type == AmqpMessageBodyType.DATA
    assert list(data.body) == [b"aa", b"bb", b"cc"]
    assert _text(data.delivery_annotations) == {"delivery-key": "delivery-value"}
    assert sequence.body_type == AmqpMessageBodyType.SEQUENCE
    assert list(sequence.body) == [[b"message", 123.456, True]]
    assert _text(sequence.footer) == {"footer_key": "footer_value"}
    assert _text(sequence.properties.subject) == "sequence"
    assert value.body_type == AmqpMessageBodyType.VALUE
    assert value.body == {b"key": [-123, b"data", False]}
    assert _text(value.annotations)["annotation_key"] == "value"
    # The header is the broker's (as in Azure, which does not keep durable or priority):
    # delivery-count and the TTL are what it carries.
    assert value.header.delivery_count == 0


def test_data_sequence_and_value_bodies_round_trip_with_annotations(
    client: ServiceBusClient,
) -> None:
    sender: ServiceBusSender
    receiver: ServiceBusReceiver
    with (
        client.get_queue_sender("bodies") as sender,
        client.get_queue_receiver("bodies", max_wait_time=5) as receiver,
    ):
        for message in _messages():
            sender.send_messages(message)
        received = receiver.receive_messages(max_message_count=3, max_wait_time=5)
        for message in received:
            receiver.complete_message(message)
    _check(received)


async def test_bodies_round_trip_async(aclient: AsyncServiceBusClient) -> None:
    async with (
        aclient.get_queue_sender("async-bodies") as sender,
        aclient.get_queue_receiver("async-bodies", max_wait_time=5) as receiver,
    ):
        for message in _messages():
            await sender.send_messages(message)
        received = await receiver.receive_messages(max_message_count=3, max_wait_time=5)
        for message in received:
            await receiver.complete_message(message)
    _check(received)


def test_a_body_mixing_kinds_is_refused() -> None:
    with pytest.raises(CodecError, match="not a mix"):
        decode_message(section(0x75, b"data") + section(0x77, "value"))


def test_two_amqp_values_are_refused() -> None:
    with pytest.raises(CodecError, match="not a mix"):
        decode_message(section(0x77, 1) + section(0x77, 2))


def test_delivery_annotations_are_taken_after_the_footer_and_kept_after_the_body() -> None:
    body = section(0x77, "x")
    footer = section(0x78, {"f": 1})
    annotations = section(0x71, {"d": 2})
    decoded = decode_message(body + footer + annotations)
    assert decoded.body_raw == body + footer + annotations
    decoded = decode_message(annotations + body)  # where AMQP puts them
    assert decoded.body_raw == body + annotations
