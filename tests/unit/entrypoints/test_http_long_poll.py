"""The long-poll route at the HTTP edge, over fakes: the same events with the same ids and
payloads as the stream from every position and in every vocabulary, where to ask next, the
stream's visibility rule, and strict parameters."""

import asyncio
import json
from typing import Any

import httpx
import pytest

from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, EventDraft, JobStatus
from tests.fakes import FakeWorld

ANONYMOUS = Caller("anonymous")
VOCABULARY_CHOICES = [None, "jobstream", "steps"]


async def new_job(world: FakeWorld) -> tuple[str, str]:
    """A queued job of `anonymous`: (job id, its stream token)."""
    blob = world.upload("anonymous", "a.txt", b"hello")
    accepted = await world.services.jobs.enqueue(
        ANONYMOUS, EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob})
    )
    return accepted.job_id, accepted.stream_token


def run(world: FakeWorld, job_id: str, *, finish: bool = True) -> None:
    """Steps, a log line, a step change, then the end: every kind of group the stream sends."""
    drafts = [
        EventDraft(JobStatus.STARTED, 0, "initializing", "started", step="Reading"),
        EventDraft(JobStatus.IN_PROGRESS, 20, "analyzing", "reading", step="Reading"),
        EventDraft(JobStatus.IN_PROGRESS, 20, "analyzing", "a thought", phase="p1", log=True),
        EventDraft(JobStatus.IN_PROGRESS, 60, "analyzing", "scoring", step="Scoring"),
    ]
    if finish:
        drafts.append(EventDraft(JobStatus.COMPLETED, 100, "done", "done", result={"score": 1}))
    for draft in drafts:
        world.log.record(job_id, draft)  # type: ignore[attr-defined]


def sse_events(body: str) -> list[dict[str, Any]]:
    """The stream's job events as (id, event, data), control events left out."""
    out = []
    for block in body.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if "id" in fields:
            out.append(
                {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}
            )
    return out


def query(**params: str | None) -> dict[str, str]:
    return {k: v for k, v in params.items() if v is not None}


async def polled(api: httpx.AsyncClient, job_id: str, after: str, events: str | None) -> list[Any]:
    """Every event after `after`, by long polls of two stored events each, until finished."""
    got: list[Any] = []
    while True:
        r = await api.get(
            f"/api/v1/jobs/{job_id}/events", params=query(after=after, events=events, limit="2")
        )
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        data = r.json()["data"]
        got += data["events"]
        if data["events"]:
            assert data["after"] == data["events"][-1]["id"]
        after = data["after"]
        if data["finished"]:
            assert data["retryAfterMs"] is None
            assert "retry-after" not in r.headers
            return got
        assert data["retryAfterMs"] == 0
        assert r.headers["retry-after"] == "0"


@pytest.mark.parametrize("events", VOCABULARY_CHOICES)
async def test_from_every_id_it_gives_what_the_stream_gives(
    api: httpx.AsyncClient, world: FakeWorld, events: str | None
) -> None:
    job_id, _ = await new_job(world)
    run(world, job_id)
    stream = await api.get(f"/api/v1/jobs/{job_id}/stream", params=query(events=events))
    everything = sse_events(stream.text)
    assert len(everything) >= 6
    for start in ["0", *(e["id"] for e in everything)]:
        resumed = await api.get(
            f"/api/v1/jobs/{job_id}/stream",
            params=query(events=events),
            headers={"Last-Event-ID": start},
        )
        expected = sse_events(resumed.text) if resumed.status_code == 200 else []
        assert await polled(api, job_id, start, events) == expected, start


async def test_a_running_job_with_nothing_new_answers_empty_after_the_wait(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job_id, _ = await new_job(world)
    run(world, job_id, finish=False)
    for after, next_after in [("5", "5"), ("99", "5"), ("99.1", "5")]:
        r = await api.get(f"/api/v1/jobs/{job_id}/events", params={"after": after, "wait": "0.05"})
        assert r.status_code == 200
        data = r.json()["data"]
        assert data == {
            "jobId": job_id,
            "events": [],
            "after": next_after,
            "finished": False,
            "more": False,
            "retryAfterMs": 0,
        }, after
    # `N.k`: the rest of group N at once (as the stream resumes), then ask from `N`.
    r = await api.get(f"/api/v1/jobs/{job_id}/events", params={"after": "5.1", "wait": "0.05"})
    data = r.json()["data"]
    assert [e["id"] for e in data["events"]] == ["5.2", "5"]
    assert data["after"] == "5"


async def test_a_finished_job_seen_to_its_end_answers_finished_at_once(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job_id, _ = await new_job(world)
    run(world, job_id)
    for after in ("6", "42"):
        r = await api.get(f"/api/v1/jobs/{job_id}/events", params={"after": after})
        data = r.json()["data"]
        assert (data["events"], data["after"], data["finished"]) == ([], "6", True)


async def test_the_stream_token_reads_its_own_job_only(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job_id, token = await new_job(world)
    other, _ = await new_job(world)
    for auth in ({"params": {"token": token}}, {"headers": {"Authorization": f"Bearer {token}"}}):
        mine = await api.get(f"/api/v1/jobs/{job_id}/events", **auth)  # type: ignore[arg-type]
        assert mine.status_code == 200
        assert mine.json()["data"]["events"][-1]["data"]["sequence"] == 1
        theirs = await api.get(f"/api/v1/jobs/{other}/events", **auth)  # type: ignore[arg-type]
        assert theirs.status_code == 404
        assert theirs.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "abc"}, "after"),
        ({"after": "-1"}, "after"),
        ({"after": "1.2.3"}, "after"),
        ({"wait": "-1"}, "wait"),
        ({"wait": "61"}, "wait"),
        ({"wait": "nan"}, "wait"),
        ({"wait": "soon"}, "wait"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"events": "everything"}, "events"),
    ],
)
async def test_bad_parameters_are_400_and_read_nothing(
    api: httpx.AsyncClient, world: FakeWorld, params: dict[str, str], field: str
) -> None:
    job_id, _ = await new_job(world)
    r = await api.get(f"/api/v1/jobs/{job_id}/events", params=params)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"]
    assert world.services.limits.open_streams("anonymous") == 0


async def test_unknown_jobs_are_404(api: httpx.AsyncClient) -> None:
    for job_id in ("0" * 32, "%2e%2e", "a" * 80):
        r = await api.get(f"/api/v1/jobs/{job_id}/events")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


async def test_a_waiting_long_poll_holds_a_stream_slot_until_it_answers(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job_id, _ = await new_job(world)
    limits = world.services.limits
    waiting = asyncio.ensure_future(
        api.get(f"/api/v1/jobs/{job_id}/events", params={"after": "1", "wait": "0.5"})
    )
    for _ in range(100):
        if limits.open_streams("anonymous"):
            break
        await asyncio.sleep(0.01)
    assert limits.open_streams("anonymous") == 1
    assert world.services.streams.stats().total_connections == 1
    r = await waiting
    assert r.json()["data"]["events"] == []
    assert limits.open_streams("anonymous") == 0
    assert world.services.streams.stats().total_connections == 0
