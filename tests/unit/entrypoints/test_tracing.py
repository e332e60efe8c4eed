"""One trace from the presign request to the job's last event (docs/tracing.md).

The real blueprints and services over the fakes, with the real OpenTelemetry adapter
exporting to memory (`FakeWorld.spans`): the HTTP requests carry a client's `traceparent`,
the message the enqueue sent is handed to the Service Bus trigger with the application
properties the real adapter writes, and the spans, the events and the answers must all name
that one trace, each span the child of the one that caused it.
"""

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from azure.functions.servicebus import ServiceBusMessage
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from function_app.domain.jobs import JobStatus
from function_app.domain.tracing import TraceContext
from function_app.entrypoints import sb_worker
from tests.fakes import FakeWorld, SentMessage

# The browser's (or a gateway's) span, as a W3C traceparent.
CLIENT = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
TEXT = "text/plain"


def trigger_message(sent: SentMessage) -> ServiceBusMessage:
    """The message as the Functions host hands it to the trigger."""
    properties = sent.application_properties()
    return ServiceBusMessage(
        body=json.dumps(sent.body).encode(),
        message_id=sent.message_id,
        delivery_count=1,
        enqueued_time_utc=datetime(2026, 1, 1, tzinfo=UTC),
        content_type="application/json",
        application_properties=dict(properties),
        user_properties=dict(properties),
    )


async def presign_upload_enqueue(
    api: httpx.AsyncClient, world: FakeWorld, headers: dict[str, str]
) -> tuple[dict[str, object], dict[str, object]]:
    r = await api.post(
        "/api/v1/upload/presigned-url",
        json={"fileName": "notes.txt", "contentType": TEXT},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    presigned = r.json()["data"]
    world.uploads.put(presigned["blobName"], b"Plain text.\nTwo lines.\n", TEXT)  # type: ignore[attr-defined]
    r = await api.post(
        "/api/v1/jobs",
        json={
            "queueName": "document-analysis",
            "jobName": "analyze-document",
            "data": {"blobName": presigned["blobName"]},
        },
        headers=headers,
    )
    assert r.status_code == 202, r.text
    return presigned, r.json()["data"]


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def parent_id(span: ReadableSpan) -> str | None:
    return None if span.parent is None else f"{span.parent.span_id:016x}"


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    """The names of the spans above `span`, nearest first (ids outside `spans` by id)."""
    by_id = {span_id(s): s for s in spans}
    names: list[str] = []
    current = parent_id(span)
    while current is not None:
        above = by_id.get(current)
        if above is None:
            names.append(current)
            break
        names.append(above.name)
        current = parent_id(above)
    return names


async def test_one_trace_runs_from_the_presign_through_the_worker_to_the_last_event(
    world: FakeWorld, api: httpx.AsyncClient
) -> None:
    presigned, accepted = await presign_upload_enqueue(
        api, world, {"traceparent": CLIENT.traceparent}
    )
    job_id = str(accepted["jobId"])
    [sent] = world.queue.sent
    await sb_worker._worker("document-analysis")(trigger_message(sent))

    # The answers and every stored event name the client's trace.
    assert presigned["traceId"] == accepted["traceId"] == CLIENT.trace_id
    status_answer = await api.get(
        f"/api/v1/jobs/{job_id}", headers={"traceparent": CLIENT.traceparent}
    )
    status = status_answer.json()["data"]
    assert status["status"] == "completed"
    assert status["traceId"] == CLIENT.trace_id
    events = world.log.events[job_id]
    assert events[-1].status is JobStatus.COMPLETED
    assert {e.trace_id for e in events} == {CLIENT.trace_id}

    # Every span is in that trace, each the child of the one that caused it.
    spans = list(world.spans.get_finished_spans())
    assert {f"{s.context.trace_id:032x}" for s in spans if s.context} == {CLIENT.trace_id}
    presign_request = only(spans, "presign_upload")
    assert presign_request.kind is SpanKind.SERVER
    assert parent_id(presign_request) == CLIENT.span_id
    assert ancestors(only(spans, "jobstream.presign"), spans) == [
        "presign_upload",
        CLIENT.span_id,
    ]
    enqueue_request = only(spans, "enqueue_job")
    assert parent_id(enqueue_request) == CLIENT.span_id
    send = only(spans, "send document-analysis")
    assert send.kind is SpanKind.PRODUCER
    assert ancestors(send, spans) == ["jobstream.enqueue", "enqueue_job", CLIENT.span_id]
    # The message carries the send span, as the Service Bus SDK writes it.
    assert sent.trace is not None
    assert sent.application_properties()["Diagnostic-Id"] == sent.trace.traceparent
    assert sent.trace.span_id == span_id(send)
    run = only(spans, "process document-analysis")
    assert run.kind is SpanKind.CONSUMER
    assert parent_id(run) == span_id(send)
    # One span per recorded event; the last event's is inside the run.
    recorded = [s for s in spans if s.name == "jobstream.event" and s.attributes]
    by_sequence = {s.attributes["jobstream.event.sequence"]: s for s in recorded if s.attributes}
    assert sorted(by_sequence) == [e.sequence for e in events]
    last = by_sequence[events[-1].sequence]
    assert last.attributes is not None
    assert last.attributes["jobstream.event.status"] == "completed"
    assert ancestors(last, spans) == [
        "process document-analysis",
        "send document-analysis",
        "jobstream.enqueue",
        "enqueue_job",
        CLIENT.span_id,
    ]
    assert ancestors(by_sequence[1], spans) == ["jobstream.enqueue", "enqueue_job", CLIENT.span_id]
    # A later request with the traceparent is in the trace too.
    assert parent_id(only(spans, "job_status")) == CLIENT.span_id


async def test_without_a_traceparent_each_request_begins_a_trace_the_job_keeps(
    world: FakeWorld, api: httpx.AsyncClient
) -> None:
    presigned, accepted = await presign_upload_enqueue(api, world, {})
    job_id = str(accepted["jobId"])
    spans = list(world.spans.get_finished_spans())
    assert parent_id(only(spans, "presign_upload")) is None
    enqueue_request = only(spans, "enqueue_job")
    assert parent_id(enqueue_request) is None
    assert enqueue_request.context is not None
    enqueue_trace = f"{enqueue_request.context.trace_id:032x}"
    assert presigned["traceId"] != accepted["traceId"] == enqueue_trace
    [sent] = world.queue.sent
    await sb_worker._worker("document-analysis")(trigger_message(sent))
    assert {e.trace_id for e in world.log.events[job_id]} == {enqueue_trace}
    status = (await api.get(f"/api/v1/jobs/{job_id}")).json()["data"]
    assert status["traceId"] == enqueue_trace


@pytest.mark.parametrize(
    "header",
    [
        "not-a-traceparent",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
    ],
)
async def test_a_malformed_traceparent_is_ignored_and_a_new_trace_begins(
    world: FakeWorld, api: httpx.AsyncClient, header: str
) -> None:
    r = await api.post(
        "/api/v1/upload/presigned-url",
        json={"fileName": "notes.txt", "contentType": TEXT},
        headers={"traceparent": header},
    )
    assert r.status_code == 201
    request = only(list(world.spans.get_finished_spans()), "presign_upload")
    assert parent_id(request) is None
    assert r.json()["data"]["traceId"] not in (None, CLIENT.trace_id)


async def test_a_replay_answers_the_trace_of_the_job_it_replays(
    world: FakeWorld, api: httpx.AsyncClient
) -> None:
    blob = world.upload("anonymous", "a.txt", b"Plain text.\n")
    body = {
        "queueName": "document-analysis",
        "jobName": "analyze-document",
        "data": {"blobName": blob},
    }
    first = await api.post(
        "/api/v1/jobs",
        json=body,
        headers={"Idempotency-Key": "k-trace", "traceparent": CLIENT.traceparent},
    )
    again = await api.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "k-trace"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["data"]["traceId"] == again.json()["data"]["traceId"] == CLIENT.trace_id


async def test_each_request_span_records_the_status_it_answered(
    world: FakeWorld, api: httpx.AsyncClient
) -> None:
    r = await api.get("/api/v1/jobs/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    request = only(list(world.spans.get_finished_spans()), "job_status")
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 404
    assert request.attributes["http.request.method"] == "GET"


async def test_concurrent_requests_each_keep_their_own_trace(
    world: FakeWorld, api: httpx.AsyncClient
) -> None:
    """One tracer serves every request: 24 enqueues at once, each with its own traceparent,
    and the jobs run at once too; no span, job or event lands in another's trace."""
    clients = [TraceContext(f"{n + 1:032x}", f"{n + 1:016x}") for n in range(24)]
    blobs = [world.upload("anonymous", f"f{n}.txt", b"Plain text.\n") for n in range(24)]

    async def enqueue(client: TraceContext, blob: str) -> str:
        r = await api.post(
            "/api/v1/jobs",
            json={
                "queueName": "document-analysis",
                "jobName": "analyze-document",
                "data": {"blobName": blob},
            },
            headers={"traceparent": client.traceparent},
        )
        assert r.status_code == 202, r.text
        assert r.json()["data"]["traceId"] == client.trace_id
        return str(r.json()["data"]["jobId"])

    job_ids = await asyncio.gather(*(enqueue(c, b) for c, b in zip(clients, blobs, strict=True)))
    worker = sb_worker._worker("document-analysis")
    await asyncio.gather(*(worker(trigger_message(sent)) for sent in world.queue.sent))

    spans = list(world.spans.get_finished_spans())
    for client, job_id in zip(clients, job_ids, strict=True):
        assert {e.trace_id for e in world.log.events[job_id]} == {client.trace_id}
        mine = [s for s in spans if s.context and f"{s.context.trace_id:032x}" == client.trace_id]
        runs = [s for s in mine if s.name == "process document-analysis"]
        assert len(runs) == 1
        assert all(
            ancestors(s, mine)[-1] == client.span_id for s in mine if s.name == "jobstream.event"
        )
        job_of = {s.attributes.get("jobstream.job_id") for s in mine if s.attributes}
        assert job_of - {None} == {job_id}


async def test_a_message_without_trace_context_runs_in_its_jobs_trace(
    world: FakeWorld, api: httpx.AsyncClient
) -> None:
    """A message sent without `Diagnostic-Id`/`traceparent` (an older sender): the run's span
    is still in the job's trace, a child of its enqueue."""
    _, accepted = await presign_upload_enqueue(api, world, {"traceparent": CLIENT.traceparent})
    [sent] = world.queue.sent
    await sb_worker._worker("document-analysis")(trigger_message(replace(sent, trace=None)))
    spans = list(world.spans.get_finished_spans())
    run = only(spans, "process document-analysis")
    assert run.context is not None
    assert f"{run.context.trace_id:032x}" == CLIENT.trace_id
    assert parent_id(run) == span_id(only(spans, "jobstream.enqueue"))
    assert world.log.jobs[str(accepted["jobId"])].status is JobStatus.COMPLETED
