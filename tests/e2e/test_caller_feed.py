"""A caller's feed over real HTTP (seed 002's `GET /api/events`): the local stack, the real
Table feed, the worker writing events; one connection sees every event of every job."""

import asyncio
import json
from datetime import datetime
from typing import Any

import jwt
import pytest

from jobstream_client.sse import SseParser
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

TERMINAL_TYPES = {"completed", "failed"}


async def read_feed(
    api: Api,
    route: str,
    until_done: set[str],
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    seconds: float = 60.0,
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(event name, id, data) of a feed until every job in `until_done` ended (or time out)."""
    received: list[tuple[str, str | None, dict[str, Any]]] = []
    parser = SseParser()
    pending = set(until_done)

    async def read() -> None:
        async with api.http.stream(
            "GET",
            f"{api.stack.base_url}/api/{route}",
            params=params,
            headers={**api.auth, **(headers or {})},
            timeout=seconds,
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is None or event.data is None or not event.data:
                    continue
                data = json.loads(event.data)
                received.append((event.event or "message", event.id, data))
                if event.event == "job" and data["type"] in TERMINAL_TYPES:
                    pending.discard(data["jobId"])
                if not pending:
                    return

    await asyncio.wait_for(read(), seconds)
    return received


async def test_one_feed_carries_every_event_of_every_job_in_order(alice: Api, bob: Api) -> None:
    text = b"The quick brown fox jumps over the lazy dog.\n" * 200
    jobs = [
        await alice.submit("document-analysis", "analyze-document", f"{n}.txt", text)
        for n in range(5)
    ]
    await bob.submit("document-analysis", "analyze-document", "bob.txt", text)
    ids = {job["jobId"] for job in jobs}
    for job_id in ids:
        await alice.wait_terminal(job_id)
    # Everything the feed keeps (an hour back: the owner is new), on seed 002's proxied route.
    received = await read_feed(alice, "jobs/events", ids, params={"since": "1"})
    assert received[0][0] == "hello"
    job_events = [(i, d) for name, i, d in received if name == "job"]
    assert {d["jobId"] for _, d in job_events} == ids, "another caller's job, or one missing"
    for job_id in ids:
        sequences = [d["sequence"] for _, d in job_events if d["jobId"] == job_id]
        expected = [e["sequence"] for e in await alice.events(job_id)]
        assert sequences == list(range(1, len(sequences) + 1)), f"{job_id}: {sequences}"
        assert sequences[-1] == expected[-1]
        assert [d["type"] for _, d in job_events if d["jobId"] == job_id][-1] == "completed"
    positions = [int(i or 0) for i, _ in job_events]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    epochs = [d["epochMs"] for _, d in job_events]
    assert epochs == sorted(epochs)
    assert len(set(epochs)) == len(epochs)
    for _, d in job_events:
        assert set(d) >= {"type", "jobId", "jobName", "epochMs", "progress", "timestamp"}
        assert set(d["progress"]) == {"current", "total", "percent"}

    # Resume after every position, by since= (epochMs) and by Last-Event-ID: the rest, once.
    for k, (event_id, data) in enumerate(job_events[:-1]):
        rest = job_events[k + 1 :]
        want = [(d["jobId"], d["sequence"]) for _, d in rest]
        last_ids = {d["jobId"] for _, d in rest if d["type"] in TERMINAL_TYPES}
        by_since = await read_feed(
            alice, "events", last_ids, params={"since": str(data["epochMs"])}
        )
        got = [(d["jobId"], d["sequence"]) for name, _, d in by_since if name == "job"]
        assert got == want, f"since={data['epochMs']}"
        if k % 5 == 0:
            by_id = await read_feed(
                alice, "events", last_ids, headers={"Last-Event-ID": str(event_id)}
            )
            got = [(d["jobId"], d["sequence"]) for name, _, d in by_id if name == "job"]
            assert got == want, f"Last-Event-ID {event_id}"


async def test_live_feed_sees_jobs_enqueued_after_it_opened(alice: Api) -> None:
    text = b"Lorem ipsum dolor sit amet.\n" * 100
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    received: list[dict[str, Any]] = []
    ids: set[str] = set()

    async def watch() -> None:
        parser = SseParser()
        async with alice.http.stream(
            "GET", f"{alice.stack.base_url}/api/events", headers=alice.auth, timeout=60
        ) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is None:
                    continue
                if event.event == "hello":
                    opened.set_result(None)
                elif event.event == "job":
                    data = json.loads(event.data)
                    received.append(data)
                    done = {d["jobId"] for d in received if d["type"] in TERMINAL_TYPES}
                    if ids and done >= ids:
                        return

    task = asyncio.create_task(watch())
    await asyncio.wait_for(opened, 20)
    for n in range(3):
        job = await alice.submit("document-analysis", "analyze-document", f"live{n}.txt", text)
        ids.add(job["jobId"])
    await asyncio.wait_for(task, 60)
    for job_id in ids:
        sequences = [d["sequence"] for d in received if d["jobId"] == job_id]
        assert sequences == list(range(1, len(sequences) + 1)), sequences
        assert sequences[0] == 1
        assert received[-1]["type"] in TERMINAL_TYPES


async def test_a_one_job_stream_token_cannot_read_the_feed_and_a_feed_token_can(
    alice: Api,
) -> None:
    text = b"tokens\n" * 10
    job = await alice.submit("document-analysis", "analyze-document", "t.txt", text)
    refused = await alice.http.get(
        f"{alice.stack.base_url}/api/events", params={"token": job["streamToken"]}
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "read_only_token"
    issued = await alice.http.post(f"{alice.stack.api}/events/token", headers=alice.auth)
    assert issued.status_code == 200, issued.text
    token = issued.json()["data"]["streamToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    expires_at = datetime.fromisoformat(issued.json()["data"]["expiresAt"])
    assert expires_at.timestamp() == claims["exp"], "expiresAt is the token's own exp"
    assert claims["scp"] == "feed"
    await alice.wait_terminal(job["jobId"])
    parser = SseParser()
    seen: list[dict[str, Any]] = []
    async with alice.http.stream(
        "GET", f"{alice.stack.base_url}/api/events", params={"since": "1", "token": token}
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            event = parser.feed(line)
            if event is not None and event.event == "job":
                seen.append(json.loads(event.data))
                if seen[-1]["type"] in TERMINAL_TYPES:
                    break
    assert {d["jobId"] for d in seen} == {job["jobId"]}
    with_feed_token = await alice.http.get(
        f"{alice.stack.api}/jobs/{job['jobId']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert with_feed_token.status_code == 404


async def test_a_malformed_since_is_a_clear_400(alice: Api) -> None:
    response = await alice.http.get(
        f"{alice.stack.base_url}/api/events", params={"since": "yesterday"}, headers=alice.auth
    )
    assert response.status_code == 400
    assert "since" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("route", "first"), [("jobs/events", "hello"), ("v1/queue/events", "queue-status")]
)
async def test_the_feeds_retry_hint_comes_in_their_first_block(
    alice: Api, route: str, first: str
) -> None:
    # A `retry:` block of its own has no data: libraries that dispatch such blocks hand the
    # caller an empty message.
    base = alice.stack.api.removesuffix("/v1")
    async with alice.http.stream("GET", f"{base}/{route}", headers=alice.auth) as response:
        assert response.status_code == 200
        head = b""
        async for chunk in response.aiter_bytes():
            head += chunk
            if b"\n\n" in head:
                break
    block = head.split(b"\n\n", 1)[0].decode().splitlines()
    assert block[0] == f"event: {first}", block
    assert any(line.startswith("retry: ") for line in block), block
    assert any(line.startswith("data: ") for line in block), block
