"""The long-poll route over real HTTP against the local stack (Azurite, the Service Bus
emulator, the host): it waits for the next event and answers when it is recorded, answers at
once for a finished job, resumes from `after` with nothing lost or repeated while a job is
being written, gives what the stream gives, and shows nobody else's job.

Jobs are written step by step through the real Table event log adapter
(`stream_stack.jobs`), or run for real by the worker (presign, upload, enqueue).
"""

import asyncio
import json
import random
import time
from typing import Any

import httpx
import pytest

from jobstream_client.cli import follow
from tests.browser.stream_stack import StreamStack, completed, progress, started
from tests.e2e.conftest import new_owner
from tests.e2e.test_stream_http import stream_url, submit_text_resume, watch

pytestmark = pytest.mark.e2e

# Far longer than any answer below should take: an answer before it was not a full wait.
LONG_WAIT = "20"


def events_url(stack: StreamStack, job_id: str) -> str:
    return f"{stack.api}/jobs/{job_id}/events"


async def poll(
    stack: StreamStack, job_id: str, owner: str = "alice", **params: str
) -> tuple[httpx.Response, float]:
    """One long poll as `owner`: the response and the seconds it took."""
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.get(events_url(stack, job_id), params=params, headers=stack.headers(owner))
    return r, time.monotonic() - began


def data_of(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    data: dict[str, Any] = r.json()["data"]
    return data


def sequences(data: dict[str, Any]) -> list[int]:
    return [e["data"]["sequence"] for e in data["events"] if e["event"] == "job_update"]


async def test_a_long_poll_waits_and_answers_when_the_next_event_is_recorded(
    stream_stack: StreamStack,
) -> None:
    job_id = await stream_stack.jobs.create("alice")
    await stream_stack.jobs.record(job_id, started())
    waiting = asyncio.create_task(
        poll(stream_stack, job_id, after="2", wait=LONG_WAIT, events="jobstream")
    )
    await asyncio.sleep(1.0)
    assert not waiting.done()  # nothing after 2 yet: it waits
    await stream_stack.jobs.record(job_id, progress(30))
    r, took = await waiting
    data = data_of(r)
    assert sequences(data) == [3]
    assert (data["after"], data["finished"], data["retryAfterMs"]) == ("3", False, 0)
    assert r.headers["retry-after"] == "0"
    assert took < float(LONG_WAIT)  # answered by the event, not by the end of the wait


async def test_with_nothing_new_it_answers_empty_at_the_end_of_its_wait(
    stream_stack: StreamStack,
) -> None:
    job_id = await stream_stack.jobs.create("alice")
    r, took = await poll(stream_stack, job_id, after="1", wait="1.5")
    data = data_of(r)
    assert (data["events"], data["after"], data["finished"]) == ([], "1", False)
    assert took >= 1.4


async def test_a_finished_job_is_answered_at_once(stream_stack: StreamStack) -> None:
    job_id, last = await stream_stack.jobs.finished("alice", steps=3)
    r, took = await poll(stream_stack, job_id, after="2", wait=LONG_WAIT, events="jobstream")
    data = data_of(r)
    assert sequences(data) == list(range(3, last + 1))
    assert (data["finished"], data["retryAfterMs"]) == (True, None)
    assert "retry-after" not in r.headers
    for after in (str(last), "999"):
        r, took = await poll(stream_stack, job_id, after=after, wait=LONG_WAIT)
        data = data_of(r)
        assert (data["events"], data["after"], data["finished"]) == ([], str(last), True)
        assert took < float(LONG_WAIT)


async def test_resuming_from_each_answer_while_the_job_is_written_loses_and_repeats_nothing(
    stream_stack: StreamStack,
) -> None:
    job_id = await stream_stack.jobs.create("alice")
    rng = random.Random(17)

    async def writer() -> None:
        await stream_stack.jobs.record(job_id, started())
        for percent in range(5, 100, 5):
            await asyncio.sleep(rng.choice([0.0, 0.05, 0.3, 0.8]))
            await stream_stack.jobs.record(job_id, progress(percent))
        await stream_stack.jobs.record(job_id, completed())

    async def client() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        after = "0"
        while True:
            r, _ = await poll(stream_stack, job_id, after=after, wait="5", limit="3")
            data = data_of(r)
            got += data["events"]
            after = data["after"]
            if data["finished"]:
                return got

    got, _ = await asyncio.gather(client(), writer())
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids))  # nothing repeated
    assert [e["data"]["sequence"] for e in got if e["event"] == "job_update"] == list(range(1, 23))
    # Exactly the stream's events of the finished job, ids, names and payloads.
    streamed = await watch(stream_url(stream_stack, job_id), headers=stream_stack.headers("alice"))
    assert got == [
        {"id": e.id, "event": e.event, "data": json.loads(e.data)}
        for e in streamed.events
        if e.id is not None
    ]


async def test_a_real_job_followed_by_its_stream_token_alone(stream_stack: StreamStack) -> None:
    job = await asyncio.to_thread(
        submit_text_resume, stream_stack, "alice", "Jane Doe\nPython engineer\n"
    )
    statuses: list[str] = []
    after = "0"
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(100):
            r = await http.get(
                events_url(stream_stack, str(job["jobId"])),
                params={"after": after, "events": "jobstream", "token": str(job["streamToken"])},
            )
            data = data_of(r)
            statuses += [e["data"]["status"] for e in data["events"]]
            after = data["after"]
            if data["finished"]:
                break
    assert statuses[0] == "queued"
    assert statuses[-1] == "completed"
    assert int(after) == len(statuses)


@pytest.mark.parametrize("who", ["stranger", "no-credential", "bad-token", "other-job-token"])
async def test_nobody_else_reads_a_jobs_events(stream_stack: StreamStack, who: str) -> None:
    job_id, _ = await stream_stack.jobs.finished("alice")
    other = await asyncio.to_thread(submit_text_resume, stream_stack, "alice", "Other\n")
    headers = {
        "stranger": stream_stack.headers("mallory"),
        "no-credential": {},
        "bad-token": {"Authorization": "Bearer not-a-token"},
        "other-job-token": {"Authorization": f"Bearer {other['streamToken']}"},
    }[who]
    async with httpx.AsyncClient(timeout=30) as http:
        own = await http.get(
            events_url(stream_stack, job_id), headers=stream_stack.headers("alice")
        )
        assert sequences(data_of(own))  # the owner reads them
        r = await http.get(events_url(stream_stack, job_id), headers=headers)
    expected = {"stranger": 404, "no-credential": 401, "bad-token": 401, "other-job-token": 404}
    assert r.status_code == expected[who], r.text
    body = r.json()
    assert body["success"] is False
    assert body["error"]["code"] in {"not_found", "unauthenticated", "invalid_token"}
    assert "events" not in r.text


async def test_the_terminal_client_behind_a_buffering_proxy_follows_the_job_by_polling(
    proxied_stack: StreamStack, proxied: str, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = new_owner("terminal-proxied")
    jobs = proxied_stack.jobs
    job_id = await jobs.create(owner)
    await jobs.record(job_id, started())

    def follow_it() -> dict[str, Any]:
        with httpx.Client() as http:
            return follow(
                http,
                f"{proxied}/api/v1",
                {"jobId": job_id},
                "resume-analysis",
                proxied_stack.headers(owner),
                silence_seconds=2.0,
            )

    following = asyncio.ensure_future(asyncio.to_thread(follow_it))
    for percent in (20, 40, 60, 80):
        await asyncio.sleep(1.0)
        await jobs.record(job_id, progress(percent))
    await jobs.record(job_id, completed())
    final = await following
    assert (final["status"], final["sequence"]) == ("completed", 7)
    assert "following the job by polling" in capsys.readouterr().err
