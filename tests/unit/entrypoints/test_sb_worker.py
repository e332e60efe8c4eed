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
