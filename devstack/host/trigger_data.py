"""Trigger data as the Functions host sends it to a language worker (`InvocationRequest`).

Service Bus: the message body as `input_data` (bytes) and the message's properties as
`trigger_metadata`, under the names of the Service Bus trigger's documented message
metadata (DeliveryCount, DeadLetterSource, ExpiresAtUtc, EnqueuedTimeUtc, MessageId,
ContentType, ReplyTo, SequenceNumber, To, Label, CorrelationId, UserProperties) and of the
newer extension (ApplicationProperties, Subject, SessionId, LockToken, ...): the names
`azure.functions.ServiceBusMessage` reads. Values go as the host converts .NET values to
`TypedData`: strings as `string`; numbers, dictionaries and DateTimes as `json` (a DateTime
as a JSON string in .NET's round-trip form: 7 fractional digits, `Z`). Not `int`: the
runtime's `Datum.from_typed_data` refuses that kind ("unsupported TypeData kind: int"), so
the host cannot be sending it. A property the
message does not have is left out (the host adds only non-null values). DeliveryCount is
1-based (the .NET SDK's), unlike the Python SDK's. TimeToLive and ScheduledEnqueueTimeUtc
are not sent: they are not in the documented metadata and a .NET TimeSpan over a day
("1.00:00:00") is a value the Python library cannot parse.

HTTP: `RpcHttp` with method, URL, headers, query and the route values the host matched
(`params`); the body travels over the worker's HTTP v2 server instead.

Timer: `json` of the TimerInfo the host sends (Schedule, ScheduleStatus, IsPastDue).
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus.amqp import AmqpMessageBodyType

from devstack.host.protos import RpcHttp, TypedData


def dotnet_datetime(value: datetime) -> str:
    """A UTC DateTime as Json.NET writes it: 2026-12-07T22:39:38.1234560Z."""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _text(value: object) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def message_body(message: ServiceBusReceivedMessage) -> bytes:
    raw = message.body
    if message.body_type == AmqpMessageBodyType.DATA:
        return b"".join(raw)
    if isinstance(raw, bytes):
        return raw
    return str(raw).encode("utf-8")


def application_properties(message: ServiceBusReceivedMessage) -> dict[str, Any]:
    return {str(_text(k)): _text(v) for k, v in (message.application_properties or {}).items()}


def servicebus_trigger_metadata(message: ServiceBusReceivedMessage) -> dict[str, TypedData]:
    properties = json.dumps(application_properties(message), default=str)
    strings = {
        "MessageId": message.message_id,
        "ContentType": message.content_type,
        "CorrelationId": message.correlation_id,
        "ReplyTo": message.reply_to,
        "ReplyToSessionId": message.reply_to_session_id,
        "To": message.to,
        "Label": message.subject,
        "Subject": message.subject,
        "SessionId": message.session_id,
        "PartitionKey": message.partition_key,
        "DeadLetterSource": message.dead_letter_source,
        "DeadLetterReason": message.dead_letter_reason,
        "DeadLetterErrorDescription": message.dead_letter_error_description,
        "LockToken": None if message.lock_token is None else str(message.lock_token),
    }
    integers = {
        "DeliveryCount": (message.delivery_count or 0) + 1,
        "SequenceNumber": message.sequence_number,
        "EnqueuedSequenceNumber": message.enqueued_sequence_number,
        "State": None if message.state is None else int(message.state),
    }
    times = {
        "EnqueuedTimeUtc": message.enqueued_time_utc,
        "ExpiresAtUtc": message.expires_at_utc,
        "LockedUntil": message.locked_until_utc,
    }
    metadata: dict[str, TypedData] = {
        name: TypedData(string=str(value)) for name, value in strings.items() if value is not None
    }
    metadata.update(
        {
            name: TypedData(json=json.dumps(int(value)))
            for name, value in integers.items()
            if value is not None
        }
    )
    metadata.update(
        {
            name: TypedData(json=json.dumps(dotnet_datetime(value)))
            for name, value in times.items()
            if value is not None
        }
    )
    metadata["ApplicationProperties"] = TypedData(json=properties)
    metadata["UserProperties"] = TypedData(json=properties)
    return metadata


def http_trigger_data(
    method: str,
    url: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    route_params: Mapping[str, str],
) -> TypedData:
    return TypedData(
        http=RpcHttp(
            method=method,
            url=url,
            headers=dict(headers),
            query=dict(query),
            params=dict(route_params),
            # Empty: with HTTP v2 the body reaches the function through the worker's server.
            body=TypedData(),
        )
    )


def timer_trigger_data(schedule: str, *, past_due: bool) -> TypedData:
    info = {
        "Schedule": {"AdjustForDST": True},
        "ScheduleStatus": None,  # null: the local host keeps no schedule monitor
        "IsPastDue": past_due,
    }
    return TypedData(json=json.dumps(info))
