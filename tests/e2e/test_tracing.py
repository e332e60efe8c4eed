"""One trace through the real local stack (docs/tracing.md): the test is the client and sends
a W3C `traceparent`; the answers, the status, every streamed event and the spans the host
exports (`TRACE_EXPORT=file:...`) must all name that trace, each span the child of the one
that caused it, across the real Service Bus emulator's message."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobstream_client.sse import SseParser
from tests.e2e.conftest import TERMINAL, new_owner
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4737"
CLIENT_SPAN = "10f067aa0ba902b8"
TRACEPARENT = f"00-{TRACE_ID}-{CLIENT_SPAN}-01"
SPANS_WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Path]]:
    workdir = tmp_path_factory.mktemp("traced-stack")
    spans = workdir / "spans.jsonl"
    with launch_stack(workdir, {"TRACE_EXPORT": f"file:{spans}"}) as stack:
        yield stack, spans


def read_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


async def spans_of_trace(path: Path, until: str) -> list[dict[str, Any]]:
    """The exported spans of TRACE_ID, once one named `until` is among them."""
    for _ in range(int(SPANS_WAIT_SECONDS / 0.2)):
        spans = [s for s in read_spans(path) if s["traceId"] == TRACE_ID]
        if any(s["name"] == until for s in spans):
            return spans
        await asyncio.sleep(0.2)
    pytest.fail(f"no span {until!r} in trace {TRACE_ID}: {read_spans(path)[-20:]}")


def only(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [s for s in spans if s["name"] == name]
    assert len(found) == 1, (name, [s["name"] for s in spans])
    return found[0]


async def streamed(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[Any]:
    """Every named event of the job's stream (both vocabularies), until its terminal one."""
    events: list[Any] = []
    parser = SseParser()
    async with http.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            event = parser.feed(line)
            if event is None or not event.data:
                continue
            events.append((event.event, json.loads(event.data)))
            if event.event == "job_update" and events[-1][1]["status"] in TERMINAL:
                break
    return events


async def test_a_clients_traceparent_names_the_job_its_events_and_one_tree_of_spans(
    traced_stack: tuple[LocalStack, Path],
) -> None:
    stack, spans_file = traced_stack
    owner = new_owner("tracer")
    headers = {**stack.headers(owner), "traceparent": TRACEPARENT}
    async with httpx.AsyncClient(timeout=30) as http:
        data = b"Plain text.\nTwo lines, traced.\n"
        presign = await http.post(
            f"{stack.api}/upload/presigned-url",
            json={"fileName": "traced.txt", "contentType": "text/plain", "size": len(data)},
            headers=headers,
        )
        assert presign.status_code == 201, presign.text
        upload = presign.json()["data"]
        assert upload["traceId"] == TRACE_ID
        put = await http.put(upload["uploadUrl"], content=data, headers=upload["headers"])
        assert put.status_code == 201, put.text
        enqueue = await http.post(
            f"{stack.api}/jobs",
            json={
                "queueName": "document-analysis",
                "jobName": "analyze-document",
                "data": {"blobName": upload["blobName"]},
            },
            headers=headers,
        )
        assert enqueue.status_code == 202, enqueue.text
        accepted = enqueue.json()["data"]
        assert accepted["traceId"] == TRACE_ID
        job_id = accepted["jobId"]

        events = await streamed(http, f"{stack.api}/jobs/{job_id}/stream", stack.headers(owner))
        updates = [data for name, data in events if name == "job_update"]
        assert updates[-1]["status"] == "completed"
        job_events = [
            (name, data) for name, data in events if name not in ("connected", "heartbeat")
        ]
        assert {data.get("traceId") for _, data in job_events} == {TRACE_ID}, job_events
        status = await http.get(f"{stack.api}/jobs/{job_id}", headers=stack.headers(owner))
        assert status.json()["data"]["traceId"] == TRACE_ID

    spans = await spans_of_trace(spans_file, "process document-analysis")
    by_id = {s["spanId"]: s for s in spans}
    assert only(spans, "presign_upload")["parentSpanId"] == CLIENT_SPAN
    assert only(spans, "presign_upload")["kind"] == "server"
    enqueue_request = only(spans, "enqueue_job")
    assert enqueue_request["parentSpanId"] == CLIENT_SPAN
    assert enqueue_request["attributes"]["http.response.status_code"] == 202
    enqueue_span = only(spans, "jobstream.enqueue")
    assert enqueue_span["parentSpanId"] == enqueue_request["spanId"]
    send = only(spans, "send document-analysis")
    assert (send["kind"], send["parentSpanId"]) == ("producer", enqueue_span["spanId"])
    # Across the emulator: the worker's span is the child of the send, from the message.
    run = only(spans, "process document-analysis")
    assert (run["kind"], run["parentSpanId"]) == ("consumer", send["spanId"])
    recorded = [
        s for s in spans if s["name"] == "jobstream.event" and s["attributes"]["jobstream.recorded"]
    ]
    sequences = sorted(s["attributes"]["jobstream.event.sequence"] for s in recorded)
    assert sequences == [u["sequence"] for u in updates]
    last = max(recorded, key=lambda s: s["attributes"]["jobstream.event.sequence"])
    assert last["attributes"]["jobstream.event.status"] == "completed"
    assert by_id[last["parentSpanId"]] is run
