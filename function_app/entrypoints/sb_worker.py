"""Service Bus triggers: one per job queue (the worker) and one per dead-letter sub-queue.

The queues are function_app/queues.json's. Each binding names its queue by the queue's app
setting, as a binding expression (`%RESUME_ANALYSIS_QUEUE%`, and
`%RESUME_ANALYSIS_QUEUE%/$DeadLetterQueue`), so a deployment renames a queue by setting it;
function names keep the file's name (`worker_resume_analysis`, `dead_letter_resume_analysis`).

Each converts the `func.ServiceBusMessage` into a `JobDelivery` (with the trace context its
application properties carry) and calls the worker service.
Returning completes the message; an exception propagates so the host abandons it and
Service Bus redelivers (then dead-letters after MaxDeliveryCount).
"""

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from function_app.bootstrap import app_services
from function_app.domain.tracing import TraceContext, parse_traceparent
from function_app.services.worker import JobDelivery
from function_app.topology import Queue, topology

logger = logging.getLogger(__name__)

CONNECTION = "ServiceBusConnection"
DEAD_LETTER_SUFFIX = "/$DeadLetterQueue"

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def to_delivery(msg: func.ServiceBusMessage) -> JobDelivery | None:
    """The delivery a message stands for, or None when it names no job."""
    body: dict[str, Any] = {}
    try:
        parsed = json.loads(msg.get_body() or b"{}")
        if isinstance(parsed, dict):
            body = parsed
    except (UnicodeDecodeError, json.JSONDecodeError):
        logger.warning("message %s has a body that is not JSON", msg.message_id)
    job_id = msg.message_id or body.get("jobId")
    if not isinstance(job_id, str) or not job_id:
        return None
    return JobDelivery(
        job_id=job_id,
        body=body,
        delivery_count=int(msg.delivery_count or 1),
        enqueued_time=msg.enqueued_time_utc,
        locked_until=_utc(msg.locked_until),
        trace=message_trace({**(msg.user_properties or {}), **(msg.application_properties or {})}),
    )


# Where a message carries its trace context, in the order the Service Bus SDK reads them.
TRACE_PROPERTIES = ("traceparent", "Diagnostic-Id")


def message_trace(properties: Mapping[str, object]) -> TraceContext | None:
    """The sending span a message names (`traceparent`, else `Diagnostic-Id`); None when it
    names none or a malformed one."""
    for key in TRACE_PROPERTIES:
        value = properties.get(key)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str) and (trace := parse_traceparent(value)) is not None:
            return trace
    return None


def _utc(at: datetime | None) -> datetime | None:
    """The trigger's times, as aware UTC (a naive one is UTC)."""
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _function_suffix(queue_name: str) -> str:
    return queue_name.replace("-", "_")


def _worker(queue_name: str) -> Callable[[func.ServiceBusMessage], Awaitable[None]]:
    async def run_job(msg: func.ServiceBusMessage) -> None:
        delivery = to_delivery(msg)
        if delivery is None:
            logger.warning("message on %s names no job: completed", queue_name)
            return
        await app_services().worker.handle(delivery)

    return run_job


def _dead_letter(queue_name: str) -> Callable[[func.ServiceBusMessage], Awaitable[None]]:
    async def end_dead_lettered(msg: func.ServiceBusMessage) -> None:
        delivery = to_delivery(msg)
        if delivery is None:
            return
        await app_services().worker.handle_dead_letter(delivery)

    return end_dead_lettered


def _register(queue: Queue) -> None:
    suffix = _function_suffix(queue.name)
    bp.function_name(name=f"worker_{suffix}")(
        bp.service_bus_queue_trigger(
            arg_name="msg", queue_name=queue.binding, connection=CONNECTION
        )(_worker(queue.name))
    )
    bp.function_name(name=f"dead_letter_{suffix}")(
        bp.service_bus_queue_trigger(
            arg_name="msg",
            queue_name=queue.binding + DEAD_LETTER_SUFFIX,
            connection=CONNECTION,
        )(_dead_letter(queue.name))
    )


for _queue in topology().queues:
    _register(_queue)
