"""The Service Bus triggers: message -> delivery -> worker; transient errors propagate."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.functions.servicebus import ServiceBusMessage

from function_app.bootstrap import override_app_services
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, JobStatus
from function_app.entrypoints import sb_worker
from tests.fakes import FakeWorld, fake_world, test_settings

WORKER = sb_worker._worker("document-analysis")
DEAD_LETTER = sb_worker._dead_letter("document-analysis")


def message(message_id: str, body: Any, delivery_count: int = 1) -> ServiceBusMessage:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ServiceBusMessage(
        body=raw,
        message_id=message_id,
        delivery_count=delivery_count,
        enqueued_time_utc=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="application/json",
        application_properties={},
        user_properties={},
    )


async def queued(world: FakeWorld, **data: Any) -> str:
    blob = world.upload("anonymous", "a.txt", b"Plain text.\nTwo lines.\n")
    request = EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob, **data})
    return (await world.services.jobs.enqueue(Caller("anonymous"), request)).job_id


def test_a_message_becomes_a_delivery() -> None:
    delivery = sb_worker.to_delivery(message("job1", {"jobId": "job1"}, 3))
    assert delivery is not None
    assert (delivery.job_id, delivery.delivery_count) == ("job1", 3)
    assert delivery.body == {"jobId": "job1"}
    assert delivery.enqueued_time == datetime(2026, 1, 1, tzinfo=UTC)


def test_the_body_names_the_job_when_the_message_id_does_not() -> None:
    delivery = sb_worker.to_delivery(message("", {"jobId": "job2"}))
    assert delivery is not None
    assert delivery.job_id == "job2"
    assert sb_worker.to_delivery(message("", b"not json")) is None


async def test_the_trigger_runs_the_job(world: FakeWorld) -> None:
    job_id = await queued(world)
    await WORKER(message(job_id, {"jobId": job_id}))
    assert world.log.jobs[job_id].status is JobStatus.COMPLETED


async def test_a_transient_failure_propagates_so_the_host_abandons(world: FakeWorld) -> None:
    world = fake_world(test_settings(ALLOW_FAULT_INJECTION=True))
    override_app_services(world.services)  # the `world` fixture removes it afterwards
    job_id = await queued(world, simulateTransientFailures=1)
    with pytest.raises(Exception, match="simulated transient failure"):
        await WORKER(message(job_id, {"jobId": job_id}, 1))
    assert world.log.jobs[job_id].status is JobStatus.RETRYING


async def test_the_dead_letter_trigger_fails_the_job(world: FakeWorld) -> None:
    job_id = await queued(world)
    await DEAD_LETTER(message(job_id, {"jobId": job_id}, 5))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "dead_lettered"


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def traced_message(properties: dict[str, Any], *, user: dict[str, Any] | None = None) -> Any:
    return ServiceBusMessage(
        body=b"{}",
        message_id="job1",
        delivery_count=1,
        application_properties=properties,
        user_properties=user or {},
    )


def test_a_delivery_carries_the_messages_traceparent() -> None:
    delivery = sb_worker.to_delivery(traced_message({"traceparent": TRACEPARENT}))
    assert delivery is not None
    assert delivery.trace is not None
    assert delivery.trace.traceparent == TRACEPARENT


def test_traceparent_wins_over_diagnostic_id_as_the_sdk_reads_them() -> None:
    both = {"Diagnostic-Id": OTHER, "traceparent": TRACEPARENT}
    assert sb_worker.message_trace(both) == sb_worker.message_trace({"traceparent": TRACEPARENT})
    only_diagnostic = sb_worker.message_trace({"Diagnostic-Id": OTHER})
    assert only_diagnostic is not None
    assert only_diagnostic.traceparent == OTHER
    # Bytes values (as an AMQP client may hand them over) read the same.
    as_bytes = sb_worker.message_trace({"traceparent": TRACEPARENT.encode()})
    assert as_bytes is not None
    assert as_bytes.traceparent == TRACEPARENT


def test_a_message_with_no_or_a_bad_trace_context_is_untraced() -> None:
    assert sb_worker.message_trace({}) is None
    assert sb_worker.message_trace({"traceparent": "nonsense", "Diagnostic-Id": 7}) is None
    # A legacy (Application Insights) Diagnostic-Id that is no traceparent: ignored too.
    assert sb_worker.message_trace({"Diagnostic-Id": "|abc.1."}) is None
    # A malformed traceparent does not hide a good Diagnostic-Id.
    fallback = sb_worker.message_trace({"traceparent": "nonsense", "Diagnostic-Id": OTHER})
    assert fallback is not None
    assert fallback.traceparent == OTHER


def test_user_properties_count_when_application_properties_lack_them() -> None:
    delivery = sb_worker.to_delivery(traced_message({}, user={"traceparent": TRACEPARENT}))
    assert delivery is not None
    assert delivery.trace is not None
