"""Per-caller limits at the HTTP edge: 429 `throttled` in the envelope, with `Retry-After`,
from presign, enqueue and every stream route; a refused stream reads nothing and a stream
that never starts gives its slot back."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp

from function_app.bootstrap import override_app_services
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, JobStatus, Stage
from tests.fakes import FakeWorld, fake_world, test_settings

ANONYMOUS = Caller("anonymous")
STREAM_ROUTES = [
    "/api/v1/jobs/{job}/stream",
    "/api/v1/sse/job/{job}",
    "/api/v1/jobs/{job}/events",
    "/api/events",
    "/api/jobs/events",
    "/api/v1/queue/events",
]


@pytest.fixture
def world() -> Iterator[FakeWorld]:
    w = fake_world(
        test_settings(
            LIMIT_PRESIGNS_PER_MINUTE=2,
            LIMIT_ENQUEUES_PER_MINUTE=2,
            LIMIT_STREAMS_PER_CALLER=2,
            LIMIT_RUNNING_JOBS_PER_CALLER=0,
        )
    )
    override_app_services(w.services)
    yield w
    override_app_services(None)


@pytest.fixture
async def api(world: FakeWorld, asgi_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client


def assert_throttled(response: httpx.Response, limit: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["code"] == "throttled"
    [detail] = error["details"]
    assert detail["limit"] == limit
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert detail["retryAfterSeconds"] == retry_after
    assert response.headers["cache-control"] == "no-store"
    return error


async def test_the_presign_over_the_limit_is_429_with_retry_after(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    for _ in range(2):
        r = await api.post("/api/v1/upload/presigned-url", json={"fileName": "a.pdf"})
        assert r.status_code == 201
    r = await api.post("/api/v1/upload/presigned-url", json={"fileName": "a.pdf"})
    assert_throttled(r, "LIMIT_PRESIGNS_PER_MINUTE")
    assert len(world.uploads.signed) == 2  # type: ignore[attr-defined]


async def test_the_enqueue_over_the_limit_is_429_and_writes_nothing(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    blob = world.upload("anonymous", "a.txt", b"hello")
    body = {"queueName": "document-analysis", "jobName": "analyze-document"}
    for _ in range(2):
        r = await api.post("/api/v1/jobs", json={**body, "data": {"blobName": blob}})
        assert r.status_code == 202
    writes = world.log.writes
    r = await api.post("/api/v1/queue/add", json={**body, "data": {"blobName": blob}})
    assert_throttled(r, "LIMIT_ENQUEUES_PER_MINUTE")
    assert world.log.writes == writes


async def test_the_running_jobs_limit_is_429_at_the_edge(
    asgi_app: ASGIApp,
) -> None:
    world = fake_world(test_settings(LIMIT_RUNNING_JOBS_PER_CALLER=1))
    override_app_services(world.services)
    try:
        transport = httpx.ASGITransport(app=asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as api:
            blob = world.upload("anonymous", "a.txt", b"hello")
            body = {"queueName": "document-analysis", "jobName": "analyze-document"}
            first = await api.post("/api/v1/jobs", json={**body, "data": {"blobName": blob}})
            assert first.status_code == 202
            r = await api.post("/api/v1/jobs", json={**body, "data": {"blobName": blob}})
            assert_throttled(r, "LIMIT_RUNNING_JOBS_PER_CALLER")
    finally:
        override_app_services(None)


async def finished_job(world: FakeWorld) -> str:
    """A job of `anonymous` that has ended (its stream, read from the start, would answer)."""
    blob = world.upload("anonymous", "a.txt", b"hello")
    body = {"blobName": blob}
    from function_app.domain.jobs import EnqueueRequest

    accepted = await world.services.jobs.enqueue(
        ANONYMOUS, EnqueueRequest("document-analysis", "analyze-document", body)
    )
    await world.services.event_log.append(
        accepted.job_id, lambda job: EventDraft(JobStatus.COMPLETED, 100, Stage.DONE, "done")
    )
    return accepted.job_id


@pytest.mark.parametrize("route", STREAM_ROUTES)
async def test_every_stream_route_refuses_over_the_limit_before_it_reads(
    api: httpx.AsyncClient, world: FakeWorld, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await finished_job(world)
    held = [world.services.limits.stream(ANONYMOUS) for _ in range(2)]
    reads: list[str] = []
    get = world.log.get

    async def counted_get(job: str) -> Any:
        reads.append(job)
        return await get(job)

    monkeypatch.setattr(world.log, "get", counted_get)
    r = await api.get(route.format(job=job_id))
    error = assert_throttled(r, "LIMIT_STREAMS_PER_CALLER")
    assert "open streams" in error["message"]
    assert reads == []  # refused before the job was even looked up
    for slot in held:
        slot.release()
    assert world.services.limits.open_streams("anonymous") == 0  # the refusal held none


async def test_a_stream_that_never_starts_gives_its_slot_back(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job_id = await finished_job(world)
    # 204: the job ended and the client saw it all (Last-Event-ID past the end).
    for _ in range(3):
        r = await api.get(f"/api/v1/jobs/{job_id}/stream", headers={"Last-Event-ID": "99"})
        assert r.status_code == 204
    # 404: no such job.
    for _ in range(3):
        r = await api.get(f"/api/v1/jobs/{'0' * 32}/stream")
        assert r.status_code == 404
    assert world.services.limits.open_streams("anonymous") == 0


async def test_a_finished_stream_gives_its_slot_back(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job_id = await finished_job(world)
    for _ in range(4):  # more than the limit, one after the other
        r = await api.get(f"/api/v1/jobs/{job_id}/stream")
        assert r.status_code == 200
        assert "job_update" in r.text
    assert world.services.limits.open_streams("anonymous") == 0


async def test_a_response_that_never_sends_a_byte_still_gives_its_slot_back(
    world: FakeWorld,
) -> None:
    from collections.abc import AsyncIterator as Frames

    from function_app.entrypoints.http_stream import EventStreamResponse

    limits = world.services.limits
    slot = limits.stream(ANONYMOUS)
    started: list[bool] = []

    async def frames() -> Frames[bytes]:
        started.append(True)
        yield b"data: never\n\n"

    response = EventStreamResponse(frames(), slot=slot)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the client went away")

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}
    with pytest.raises(ClientDisconnect):
        await response(scope, receive, send)  # type: ignore[arg-type]
    assert started == []
    assert limits.open_streams("anonymous") == 0


def test_every_event_stream_response_answers_with_the_stream_headers() -> None:
    from collections.abc import AsyncIterator as Frames

    from function_app.entrypoints.http_stream import EventStreamResponse
    from function_app.entrypoints.sse import STREAM_HEADERS

    async def frames() -> Frames[bytes]:
        yield b"data: x\n\n"

    response = EventStreamResponse(frames())
    for name, value in STREAM_HEADERS.items():
        assert response.headers[name] == value
    assert response.media_type == "text/event-stream"
