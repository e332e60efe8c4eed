"""The Service Bus trigger data the local host sends, read back by the worker's own code.

`servicebus_trigger_metadata` builds what the Azure host sends for a delivery; the real
runtime's `from_incoming_proto` (with the `azure.functions` ServiceBusMessage converter it
loads) turns it into the message the function receives. Each field of that message is
pinned against the delivery it came from.
"""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

import azure.functions as func
import pytest
from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus.amqp import AmqpMessageBodyType
from azure_functions_runtime.bindings import meta

from devstack.host import protos
from devstack.host.trigger_data import (
    dotnet_datetime,
    http_trigger_data,
    servicebus_trigger_metadata,
    timer_trigger_data,
)

ENQUEUED = datetime(2026, 12, 7, 22, 39, 38, 123456, tzinfo=UTC)
LOCK = UUID("4f0c6f2e-8f3e-4a8e-9d6a-3c1b2a0e9f11")


def delivery(**overrides: Any) -> ServiceBusReceivedMessage:
    """The attributes of a received message that the trigger data reads."""
    fields: dict[str, Any] = {
        "body": [b'{"jobId": ', b'"j1"}'],
        "body_type": AmqpMessageBodyType.DATA,
        "message_id": "j1",
        "content_type": "application/json",
        "correlation_id": "corr-1",
        "reply_to": "replies",
        "reply_to_session_id": "reply-session",
        "to": "jobs",
        "subject": "analyze",
        "session_id": None,
        "partition_key": None,
        "dead_letter_source": None,
        "dead_letter_reason": None,
        "dead_letter_error_description": None,
        "lock_token": LOCK,
        "delivery_count": 0,  # the Python SDK's: previous attempts
        "sequence_number": 42,
        "enqueued_sequence_number": 41,
        "state": 0,
        "enqueued_time_utc": ENQUEUED,
        "expires_at_utc": ENQUEUED + timedelta(hours=1),
        "locked_until_utc": ENQUEUED + timedelta(seconds=30),
        "application_properties": {b"traceparent": b"00-abc-def-01", b"attempt": 2, "flag": True},
        "time_to_live": timedelta(hours=1),
        "scheduled_enqueue_time_utc": None,
    }
    fields.update(overrides)
    return cast(ServiceBusReceivedMessage, SimpleNamespace(**fields))


def received_by_the_function(message: ServiceBusReceivedMessage) -> func.ServiceBusMessage:
    meta.load_binding_registry()
    binding = protos.ParameterBinding(name="msg", data=protos.TypedData(bytes=b"payload"))
    decoded = meta.from_incoming_proto(
        "serviceBusTrigger",
        binding,
        pytype=func.ServiceBusMessage,
        trigger_metadata=servicebus_trigger_metadata(message),
        function_name="worker",
    )
    assert isinstance(decoded, func.ServiceBusMessage)
    return decoded


def test_each_field_of_the_message_the_function_receives() -> None:
    msg = received_by_the_function(delivery())

    assert msg.get_body() == b"payload"
    assert msg.message_id == "j1"
    assert msg.delivery_count == 1  # 1-based, as the Azure host (the .NET SDK) counts
    assert msg.content_type == "application/json"
    assert msg.correlation_id == "corr-1"
    assert msg.reply_to == "replies"
    assert msg.reply_to_session_id == "reply-session"
    assert msg.to == "jobs"
    assert msg.label == "analyze"
    assert msg.subject == "analyze"
    assert msg.lock_token == str(LOCK)
    assert msg.sequence_number == 42
    assert msg.enqueued_sequence_number == 41
    assert msg.state == 0
    assert msg.enqueued_time_utc == ENQUEUED
    assert msg.enqueued_time_utc is not None
    assert msg.enqueued_time_utc.tzinfo is not None
    assert msg.expires_at_utc == ENQUEUED + timedelta(hours=1)
    assert msg.locked_until == ENQUEUED + timedelta(seconds=30)
    # Property names and string values as text; numbers and booleans keep their type.
    properties = {"traceparent": "00-abc-def-01", "attempt": 2, "flag": True}
    assert msg.application_properties == properties
    assert msg.user_properties == properties
    # Not part of the host's metadata (see trigger_data's docstring).
    assert msg.time_to_live is None
    assert msg.scheduled_enqueue_time_utc is None
    assert msg.session_id is None
    assert msg.partition_key is None
    assert msg.dead_letter_source is None
    assert msg.dead_letter_reason is None


def test_a_dead_lettered_message_carries_why() -> None:
    msg = received_by_the_function(
        delivery(
            dead_letter_source="jobs",
            dead_letter_reason="MaxDeliveryCountExceeded",
            dead_letter_error_description="too many deliveries",
            delivery_count=9,
            session_id="s1",
            partition_key="s1",
        )
    )

    assert msg.dead_letter_source == "jobs"
    assert msg.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert msg.dead_letter_error_description == "too many deliveries"
    assert msg.delivery_count == 10
    assert (msg.session_id, msg.partition_key) == ("s1", "s1")


def test_absent_properties_are_left_out_as_the_host_does() -> None:
    metadata = servicebus_trigger_metadata(delivery(correlation_id=None, reply_to=None))

    assert "CorrelationId" not in metadata
    assert "ReplyTo" not in metadata
    assert metadata["MessageId"].WhichOneof("data") == "string"
    # Numbers and times as JSON: the runtime refuses an `int` TypedData.
    assert metadata["DeliveryCount"].json == "1"
    assert metadata["EnqueuedTimeUtc"].json == '"2026-12-07T22:39:38.1234560Z"'


def test_an_int_typed_data_is_what_the_runtime_refuses() -> None:
    # Why numbers go as JSON: the runtime's reader has no case for the `int` kind.
    with pytest.raises(NotImplementedError, match="int"):
        meta.Datum.from_typed_data(protos.TypedData(int=1))


def test_dotnet_datetime_writes_seven_fractional_digits_in_utc() -> None:
    assert dotnet_datetime(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.0000060Z"
    )
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert dotnet_datetime(naive) == "2026-01-02T03:04:05.0000000Z"


def test_http_trigger_data_carries_the_matched_route_values() -> None:
    meta.load_binding_registry()
    data = http_trigger_data(
        "GET",
        "http://h/api/jobs/j1?x=1",
        {"accept": "text/event-stream"},
        {"x": "1"},
        {"jobId": "j1"},
    )
    request = meta.from_incoming_proto(
        "httpTrigger",
        protos.ParameterBinding(name="req", data=data),
        pytype=func.HttpRequest,
        trigger_metadata=None,
        function_name="job_stream",
    )

    assert request.route_params == {"jobId": "j1"}
    assert request.params == {"x": "1"}
    assert request.method == "GET"


@pytest.mark.parametrize("past_due", [False, True])
def test_timer_trigger_data_reads_back_as_a_timer_request(past_due: bool) -> None:
    meta.load_binding_registry()
    timer = meta.from_incoming_proto(
        "timerTrigger",
        protos.ParameterBinding(
            name="timer", data=timer_trigger_data("0 * * * * *", past_due=past_due)
        ),
        pytype=func.TimerRequest,
        trigger_metadata=None,
        function_name="sweep_jobs",
    )

    assert timer.past_due is past_due
