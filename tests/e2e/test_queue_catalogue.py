"""Seed 000's queue catalogue over real HTTP (`GET /api/v1/queue/events`): the local stack,
real Table counters and heartbeats, the real worker; a caller's job from enqueue to
completion in seed 000's events, queue-wide figures as counts only."""

import asyncio
import json
from typing import Any

import pytest

from jobstream_client.sse import SseParser
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

Event = tuple[str, str | None, dict[str, Any]]
TEXT = b"The quick brown fox jumps over the lazy dog.\n" * 200


async def read_catalogue(
    api: Api, until: Any, *, headers: dict[str, str] | None = None, seconds: float = 60.0
) -> list[Event]:
    """(event, id, data) of the caller's catalogue until `until(events)` holds."""
    received: list[Event] = []
    parser = SseParser()

    async def read() -> None:
        async with api.http.stream(
            "GET",
            f"{api.stack.api}/queue/events",
            headers={**api.auth, **(headers or {})},
            timeout=seconds,
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is None or not event.data:
                    continue
                received.append((event.event or "message", event.id, json.loads(event.data)))
                if until(received):
                    return

    await asyncio.wait_for(read(), seconds)
    return received


def names(events: list[Event]) -> list[str]:
    return [name for name, _, _ in events]


async def test_a_job_from_enqueue_to_completion_in_seed_000s_events(alice: Api, bob: Api) -> None:
    opened: list[Event] = []
    job_ids: set[str] = set()

    def completed_and_counted(events: list[Event]) -> bool:
        opened[:] = events
        done = any(n == "job-completed" and d["jobId"] in job_ids for n, _, d in events)
        if not done:
            return False
        end = max(i for i, (n, _, _) in enumerate(events) if n == "job-completed")
        return any(n == "queue-stats" for n, _, _ in events[end:])

    reader = asyncio.create_task(read_catalogue(alice, completed_and_counted, seconds=90))
    # the catalogue opens with queue-status, then queue-stats: wait for both (a loaded host
    # may send them in separate reads), within a deadline
    deadline = asyncio.get_running_loop().time() + 30
    while not any(n == "queue-stats" for n, _, _ in opened):
        assert not reader.done(), reader
        assert asyncio.get_running_loop().time() < deadline, f"no queue-stats: {opened}"
        await asyncio.sleep(0.05)
    before = next(d for n, _, d in opened if n == "queue-stats")
    theirs = await bob.submit("document-analysis", "analyze-document", "bob.txt", TEXT)
    mine = await alice.submit("document-analysis", "analyze-document", "alice.txt", TEXT)
    job_ids.add(mine["jobId"])
    events = await reader

    assert names(events)[0] == "queue-status"
    status = events[0][2]
    assert set(status) == {"totalJobs", "activeJobs", "queuedJobs", "timestamp"}
    jobs = [(n, d) for n, _, d in events if n.startswith("job-")]
    assert {d["jobId"] for _, d in jobs} == {mine["jobId"]}
    assert theirs["jobId"] not in json.dumps(events), "another caller's job leaked"
    kinds = [n for n, _ in jobs]
    assert kinds[0] == "job-queued"
    assert kinds[1] == "job-started"
    assert kinds[-1] == "job-completed"
    assert set(kinds[2:-1]) == {"job-progress"}
    queued, started, completed = jobs[0][1], jobs[1][1], jobs[-1][1]
    assert queued["type"] == "analyze-document"
    assert queued["queuePosition"] is None or queued["queuePosition"] >= 1
    assert started["workerId"].startswith("worker-")
    assert completed["status"] == "success"
    assert isinstance(completed["duration"], int)
    assert completed["resultId"] == mine["jobId"]
    result = await alice.http.get(
        f"{alice.stack.base_url}{completed['resultUrl']}", headers=alice.auth
    )
    assert result.json()["data"]["status"] == "completed"
    progress = [d["progress"] for n, d in jobs if n == "job-progress"]
    assert progress == sorted(progress)
    ids = [int(i) for n, i, _ in events if n.startswith("job-") and i]
    assert len(ids) == len(jobs)
    assert ids == sorted(ids)

    end = max(i for i, (n, _, _) in enumerate(events) if n == "job-completed")
    after = next(d for n, _, d in events[end:] if n == "queue-stats")
    assert after["totalProcessed"] >= before["totalProcessed"] + 1
    assert after["activeWorkers"] >= 1
    assert 0 <= after["successRate"] <= 100
    assert after["averageProcessingTime"] >= 0


async def test_the_catalogue_resumes_after_the_last_event_id(alice: Api) -> None:
    job = await alice.submit("document-analysis", "analyze-document", "resume.txt", TEXT)
    await alice.wait_terminal(job["jobId"])

    def completed(events: list[Event]) -> bool:
        return any(n == "job-completed" for n, _, _ in events)

    first = await read_catalogue(alice, completed, headers={"Last-Event-ID": "1"})
    mine = [(i, n) for n, i, d in first if n.startswith("job-") and d["jobId"] == job["jobId"]]
    assert mine[0][1] == "job-queued"
    middle_id = mine[len(mine) // 2][0]
    assert middle_id is not None
    rest = await read_catalogue(alice, completed, headers={"Last-Event-ID": middle_id})
    again = [(i, n) for n, i, d in rest if n.startswith("job-") and d["jobId"] == job["jobId"]]
    assert again == mine[len(mine) // 2 + 1 :]
