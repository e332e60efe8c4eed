"""The job stream over real HTTP against the local stack (Azurite, Service Bus emulator, host).

Jobs come either through the API (presign, upload, enqueue, the worker) or are written step by
step through the real Table event log adapter (`stream_stack.jobs`), so a test can hold a job
open, append while it watches, and know exactly which events exist.

Tests about what ends a stream run on `long_stream_stack` (300 s max age, access log on), so a
stream that ends within the test was ended by what the test is about, not by its age.
"""

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from jobstream_client.sse import Event, SseParser
from tests.browser.stream_stack import (
    StreamStack,
    completed,
    progress,
    run_drafts,
    started,
    submit_job,
)

pytestmark = pytest.mark.e2e

TERMINAL = {"completed", "failed", "cancelled"}
# How soon after the client closes its socket the server must have freed the stream.
DISCONNECT_FREED_WITHIN_SECONDS = 1.5


@dataclass
class Received:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    events: list[Event] = field(default_factory=list)
    retry_ms: int | None = None
    # Why reading stopped: "server" (the response ended), "stop" (`stop(event)`), "timeout".
    ended_by: str = "server"

    def updates(self) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events if e.event == "job_update"]

    def ids(self) -> list[int]:
        return [int(e.id or 0) for e in self.events if e.event == "job_update"]

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.event == name]


def is_terminal(event: Event) -> bool:
    return event.event == "job_update" and json.loads(event.data)["status"] in TERMINAL


async def watch(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    stop: Callable[[Event], bool] = lambda _e: False,
    seconds: float = 20.0,
) -> Received:
    """Read a stream until the server closes it, `stop(event)` is true, or `seconds` pass."""
    parser = SseParser()
    timeout = httpx.Timeout(10.0, read=seconds)
    async with (
        httpx.AsyncClient(timeout=timeout) as http,
        http.stream("GET", url, headers=headers, params=params) as response,
    ):
        received = Received(response.status_code, response.headers)
        if response.status_code != 200:
            received.body = await response.aread()
            return received
        try:
            async with asyncio.timeout(seconds):
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is None:
                        continue
                    received.events.append(event)
                    if stop(event):
                        received.ended_by = "stop"
                        break
        except TimeoutError:
            received.ended_by = "timeout"
    received.retry_ms = parser.retry_ms
    return received


def submit_text_resume(stack: StreamStack, owner: str, text: str) -> dict[str, Any]:
    """A real job: presign, PUT to Azurite, enqueue through the API, as `owner`."""
    return submit_job(stack.api, "resume.txt", "text/plain", text.encode(), stack.headers(owner))


def stream_url(stack: StreamStack, job_id: str, route: str = "jobs") -> str:
    if route == "sse":
        return f"{stack.api}/sse/job/{job_id}"
    return f"{stack.api}/jobs/{job_id}/stream"


async def test_a_real_job_streams_gapless_ordered_ids_and_closes_after_the_end(
    stream_stack: StreamStack,
) -> None:
    job = await asyncio.to_thread(
        submit_text_resume,
        stream_stack,
        "alice",
        "Jane Doe\nPython developer\nSkills: Azure, SQL\n",
    )
    received = await watch(
        stream_url(stream_stack, str(job["jobId"])), params={"token": str(job["streamToken"])}
    )
    assert received.status == 200
    assert received.events[0].event == "connected"
    ids = received.ids()
    assert ids == list(range(1, len(ids) + 1))
    updates = received.updates()
    assert updates[0]["status"] == "queued"
    assert updates[-1]["status"] == "completed"
    assert isinstance(updates[-1]["result"], dict)
    progress_values = [u["progress"] for u in updates if u["attempt"] == updates[-1]["attempt"]]
    assert progress_values == sorted(progress_values)


@pytest.mark.parametrize("route", ["jobs", "sse"])
async def test_stream_opens_with_headers_retry_and_connected(
    stream_stack: StreamStack, route: str
) -> None:
    job_id, last = await stream_stack.jobs.finished("alice")
    received = await watch(
        stream_url(stream_stack, job_id, route), headers=stream_stack.headers("alice")
    )
    assert received.status == 200
    assert received.headers["content-type"].startswith("text/event-stream")
    assert "no-cache" in received.headers["cache-control"]
    assert "no-transform" in received.headers["cache-control"]
    assert received.headers["x-accel-buffering"] == "no"
    assert received.retry_ms == 200
    connected = json.loads(received.events[0].data)
    assert received.events[0].event == "connected"
    assert received.events[0].id is None
    assert connected["jobId"] == job_id
    assert {"connectionId", "timestamp", "message"} <= connected.keys()
    assert received.ids() == list(range(1, last + 1))


async def test_resume_from_every_possible_last_event_id(stream_stack: StreamStack) -> None:
    job_id, last = await stream_stack.jobs.finished("alice", steps=4)
    url = stream_url(stream_stack, job_id)
    for seen in range(last):
        by_header = await watch(
            url, headers={**stream_stack.headers("alice"), "Last-Event-ID": str(seen)}
        )
        by_query = await watch(
            url, headers=stream_stack.headers("alice"), params={"since": str(seen)}
        )
        assert by_header.ids() == list(range(seen + 1, last + 1)), seen
        assert by_query.ids() == by_header.ids(), seen


@pytest.mark.parametrize("seen", ["last", "beyond"])
async def test_a_finished_job_whose_events_were_all_seen_answers_204(
    stream_stack: StreamStack, seen: str
) -> None:
    job_id, last = await stream_stack.jobs.finished("alice")
    position = last if seen == "last" else last + 50
    received = await watch(
        stream_url(stream_stack, job_id),
        headers={**stream_stack.headers("alice"), "Last-Event-ID": str(position)},
    )
    assert received.status == 204
    assert received.events == []


async def test_a_bad_last_event_id_is_a_400_envelope(stream_stack: StreamStack) -> None:
    job_id, _ = await stream_stack.jobs.finished("alice")
    received = await watch(
        stream_url(stream_stack, job_id),
        headers={**stream_stack.headers("alice"), "Last-Event-ID": "not-a-number"},
    )
    assert received.status == 400
    assert json.loads(received.body)["success"] is False


@pytest.mark.parametrize("whose", ["another-owner", "nobody"])
async def test_foreign_or_unknown_jobs_are_404_json(stream_stack: StreamStack, whose: str) -> None:
    job_id, _ = await stream_stack.jobs.finished("alice")
    if whose == "nobody":
        job_id = "does-not-exist-0000"
    received = await watch(stream_url(stream_stack, job_id), headers=stream_stack.headers("bob"))
    assert received.status == 404
    assert received.headers["content-type"].startswith("application/json")
    body = json.loads(received.body)
    assert body["success"] is False
    assert body["error"]["code"] == "not_found"


async def test_a_user_jwt_in_the_query_also_opens_a_stream(stream_stack: StreamStack) -> None:
    job_id, last = await stream_stack.jobs.finished("alice")
    received = await watch(
        stream_url(stream_stack, job_id), params={"token": stream_stack.token("alice")}
    )
    assert received.ids() == list(range(1, last + 1))
    anonymous = await watch(stream_url(stream_stack, job_id))
    assert anonymous.status == 401


async def test_a_stream_token_reads_its_job_only(stream_stack: StreamStack) -> None:
    job_a = await asyncio.to_thread(
        submit_text_resume, stream_stack, "alice", "Jane Doe\nEngineer\n"
    )
    token = str(job_a["streamToken"])
    job_b, _ = await stream_stack.jobs.finished("alice")  # same owner, another job

    own = await watch(stream_url(stream_stack, str(job_a["jobId"])), params={"token": token})
    assert own.status == 200
    other = await watch(stream_url(stream_stack, job_b), params={"token": token})
    assert other.status == 404
    other_sse = await watch(stream_url(stream_stack, job_b, "sse"), params={"token": token})
    assert other_sse.status == 404

    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as http:
        stats = await http.get(f"{stream_stack.api}/sse/stats", params={"token": token})
        assert stats.status_code == 401
        stats_bearer = await http.get(f"{stream_stack.api}/sse/stats", headers=bearer)
        assert stats_bearer.status_code == 401
        enqueue = await http.post(
            f"{stream_stack.api}/jobs",
            headers=bearer,
            json={"queueName": "resume-analysis", "jobName": "analyze-resume", "data": {}},
        )
        assert enqueue.status_code in (401, 403, 404)
        presign = await http.post(
            f"{stream_stack.api}/upload/presigned-url", headers=bearer, json={"fileName": "a.txt"}
        )
        assert presign.status_code in (401, 403, 404)
        status_b = await http.get(f"{stream_stack.api}/jobs/{job_b}", headers=bearer)
        assert status_b.status_code in (401, 404)


async def test_heartbeat_after_silence_without_an_id(stream_stack: StreamStack) -> None:
    job_id = await stream_stack.jobs.create("alice")  # stays queued: nothing to say
    received = await watch(
        stream_url(stream_stack, job_id),
        headers=stream_stack.headers("alice"),
        stop=lambda e: e.event == "heartbeat",
    )
    beats = received.named("heartbeat")
    assert len(beats) == 1
    assert beats[0].id is None
    assert "timestamp" in json.loads(beats[0].data)
    assert received.ids() == [1]


async def test_queue_stats_with_a_queue_name(stream_stack: StreamStack) -> None:
    job_id = await stream_stack.jobs.create("alice")
    received = await watch(
        stream_url(stream_stack, job_id),
        headers=stream_stack.headers("alice"),
        params={"queueName": "resume-analysis"},
        stop=lambda e: e.event == "queue_stats",
    )
    stats = json.loads(received.named("queue_stats")[0].data)
    assert stats["queueName"] == "resume-analysis"
    for key in ("activeMessages", "deadLetterMessages", "scheduledMessages"):
        assert isinstance(stats[key], int)


async def test_live_events_arrive_in_order_then_timeout_and_resume_loses_and_repeats_nothing(
    stream_stack: StreamStack,
) -> None:
    job_id = await stream_stack.jobs.create("alice")
    url = stream_url(stream_stack, job_id)
    auth = stream_stack.headers("alice")

    async def worker() -> None:
        await stream_stack.jobs.record(job_id, started())
        for percent in range(5, 100, 5):
            await asyncio.sleep(0.3)
            await stream_stack.jobs.record(job_id, progress(percent))
        await stream_stack.jobs.record(job_id, completed())

    writing = asyncio.create_task(worker())
    seen: list[int] = []
    timeouts = 0
    position = 0
    for _ in range(10):
        headers = {**auth, "Last-Event-ID": str(position)} if position else auth
        received = await watch(url, headers=headers, stop=is_terminal, seconds=15)
        if received.status == 204:
            break
        seen.extend(received.ids())
        if received.ids():
            position = received.ids()[-1]
        for event in received.named("timeout"):
            timeouts += 1
            assert event.id is None
            assert json.loads(event.data) == {"jobId": job_id, "lastEventId": position}
        if received.updates() and received.updates()[-1]["status"] == "completed":
            break
    await writing
    assert timeouts >= 1
    assert seen == list(range(1, 23))


async def test_a_client_that_disconnects_frees_its_stream_and_the_poller(
    long_stream_stack: StreamStack,
) -> None:
    # The stream could live 300 s: only noticing the disconnect frees it within the test.
    stack = long_stream_stack
    job_id = await stack.jobs.create("carol")
    auth = stack.headers("carol")
    async with httpx.AsyncClient(timeout=10) as http:

        async def stats() -> dict[str, Any]:
            answer = await http.get(f"{stack.api}/sse/stats", headers=auth)
            assert answer.status_code == 200
            data: dict[str, Any] = answer.json()["data"]
            return data

        def freed(now: dict[str, Any]) -> bool:
            return (
                all(c["jobId"] != job_id for c in now["connections"])
                and now["totalConnections"] == before["totalConnections"]
                and now["totalJobSubscriptions"] == before["totalJobSubscriptions"]
            )

        before = await stats()
        # Its own client: leaving both blocks closes the stream's socket for certain.
        async with (
            httpx.AsyncClient(timeout=10) as viewer,
            viewer.stream("GET", stream_url(stack, job_id), headers=auth) as response,
        ):
            parser = SseParser()
            # Held, not a temporary: leaving `async for` on a temporary generator lets it be
            # collected, and asyncio's finalizer then closes it, and with it httpx's
            # connection: the client itself disconnects while "connected" (the stats below
            # saw 0 viewers about half the runs through the worker, whose extra hop is slower).
            lines = response.aiter_lines()
            async for line in lines:
                event = parser.feed(line)
                if event is not None and event.event == "connected":
                    connection_id = json.loads(event.data)["connectionId"]
                    break
            during = await stats()
            assert [c["connectionId"] for c in during["connections"] if c["jobId"] == job_id] == [
                connection_id
            ]
            assert during["totalConnections"] == before["totalConnections"] + 1
            assert during["totalJobSubscriptions"] == before["totalJobSubscriptions"] + 1
        # The client is gone; the server notices and frees the viewer and the job's poller.
        deadline = time.monotonic() + DISCONNECT_FREED_WITHIN_SECONDS
        after = await stats()
        while not freed(after) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            after = await stats()
        assert all(c["jobId"] != job_id for c in after["connections"])
        assert after["totalConnections"] == before["totalConnections"]
        assert after["totalJobSubscriptions"] == before["totalJobSubscriptions"]


async def test_a_running_jobs_stream_ends_with_its_terminal_update_and_the_server_closes_it(
    long_stream_stack: StreamStack,
) -> None:
    stack = long_stream_stack
    job_id = await stack.jobs.create("lena")
    await stack.jobs.record(job_id, started())  # running when the stream opens

    async def worker() -> None:
        for percent in (25, 50, 75):
            await asyncio.sleep(0.3)
            await stack.jobs.record(job_id, progress(percent))
        await stack.jobs.record(job_id, completed())

    writing = asyncio.create_task(worker())
    # No `stop`: reading ends only when the server ends the response (or after 30 s).
    watching = asyncio.create_task(
        watch(stream_url(stack, job_id), headers=stack.headers("lena"), seconds=30)
    )
    await writing
    # Without the close, heartbeats (every 1 s) would keep it open for up to 300 s: it must
    # end within 5 s of the terminal update.
    received = await asyncio.wait_for(watching, timeout=5.0)
    assert received.status == 200
    assert received.ended_by == "server"
    assert received.ids() == [1, 2, 3, 4, 5, 6]
    last = received.events[-1]
    assert last.event == "job_update"
    assert last.id == "6"
    assert json.loads(last.data)["status"] == "completed"
    assert [i for i, e in enumerate(received.events) if is_terminal(e)] == [
        len(received.events) - 1
    ]


async def test_many_viewers_of_one_job_all_get_every_event(stream_stack: StreamStack) -> None:
    job_id = await stream_stack.jobs.create("alice")
    auth = stream_stack.headers("alice")

    async def worker() -> None:
        await asyncio.sleep(0.5)
        await stream_stack.jobs.record(job_id, *run_drafts(6), completed())

    viewers = [
        watch(stream_url(stream_stack, job_id), headers=auth, stop=is_terminal) for _ in range(8)
    ]
    *results, _ = await asyncio.gather(*viewers, worker())
    for received in results:
        assert received.ids() == list(range(1, 9))


async def test_tokens_in_the_query_never_reach_the_logs(long_stream_stack: StreamStack) -> None:
    # The host's access log is on here: it writes every request line, query string included.
    stack = long_stream_stack
    job = await asyncio.to_thread(submit_text_resume, stack, "ivan", "Ivan Petrov\nEngineer\n")
    job_id, stream_token = str(job["jobId"]), str(job["streamToken"])
    by_stream_token = await watch(stream_url(stack, job_id), params={"token": stream_token})
    assert by_stream_token.updates()[-1]["status"] == "completed"
    seen = await watch(
        stream_url(stack, job_id, "sse"), params={"token": stream_token, "since": "1"}
    )
    assert seen.status == 200
    refused_stream_token = await watch(
        stream_url(stack, job_id), params={"token": stream_token + "x"}
    )
    assert refused_stream_token.status == 401

    seeded_id, last = await stack.jobs.finished("ivan")
    user_token = stack.token("ivan")
    received = await watch(stream_url(stack, seeded_id), params={"token": user_token})
    assert received.ids() == list(range(1, last + 1))
    refused = await watch(stream_url(stack, seeded_id), params={"token": user_token + "x"})
    assert refused.status == 401

    log = stack.stack.log_path.read_text(encoding="utf-8", errors="replace")
    assert seeded_id in log  # the streams were logged ...
    for token in (stream_token, user_token):
        assert token not in log  # ... their credentials were not
        assert token.split(".")[2] not in log
        assert token.split(".")[1] not in log
    # The access log did write the request lines, with the credential's value replaced.
    assert f"/api/v1/jobs/{job_id}/stream?token=[redacted]" in log
    assert f"/api/v1/jobs/{seeded_id}/stream?token=[redacted]" in log
    assert f"/api/v1/sse/job/{job_id}?token=[redacted]&since=1" in log


SEED_003_EVENTS = {"step-change", "progress-update", "scrape-phase", "complete", "failed"}


@pytest.mark.parametrize(
    ("events", "route"), [(None, "jobs"), ("steps", "sse"), ("jobstream", "jobs")]
)
async def test_a_resume_from_every_id_loses_and_repeats_nothing(
    stream_stack: StreamStack, events: str | None, route: str
) -> None:
    """Both vocabularies on one stream: reconnecting with Last-Event-ID set to any id it sent
    (the `N` of a whole group or the `N.k` inside one) gets exactly the rest."""
    job = await asyncio.to_thread(
        submit_text_resume, stream_stack, "rosa", "Rosa Diaz\nExperience\nEngineer 2019-2024\n"
    )
    url = stream_url(stream_stack, str(job["jobId"]), route)
    params = {"token": str(job["streamToken"])} | ({"events": events} if events else {})
    whole = await watch(url, params=params)
    assert whole.status == 200, whole.body
    sent = [(e.id, e.event, e.data) for e in whole.events if e.id is not None]
    names = {name for _, name, _ in sent}
    if events != "jobstream":
        assert {"step-change", "progress-update", "complete"} <= names
    if events != "steps":
        assert "job_update" in names
    else:
        assert names <= SEED_003_EVENTS
    assert len({event_id for event_id, _, _ in sent}) == len(sent)  # every id once
    for cut, (last_id, _, _) in enumerate(sent):
        rest = await watch(url, params=params, headers={"Last-Event-ID": last_id})
        if cut == len(sent) - 1:
            assert rest.status == 204, f"after the last id {last_id}"
            continue
        assert rest.status == 200, rest.body
        resent = [(e.id, e.event, e.data) for e in rest.events if e.id is not None]
        assert resent == sent[cut + 1 :], f"resumed after {last_id}"


async def test_the_steps_vocabulary_carries_what_seed_003_reads(stream_stack: StreamStack) -> None:
    job = await asyncio.to_thread(
        submit_text_resume, stream_stack, "sam", "Sam Lee\nSkills\nPython, SQL\n"
    )
    received = await watch(
        stream_url(stream_stack, str(job["jobId"])),
        params={"token": str(job["streamToken"]), "events": "steps"},
    )
    progress = [json.loads(e.data) for e in received.named("progress-update")]
    assert progress, received.events
    # Seed 003's fields, and the job's trace id beside them (docs/tracing.md).
    assert all(
        set(p)
        == {"progress", "currentStep", "phase", "detail", "estimatedTimeRemaining", "traceId"}
        for p in progress
    )
    steps = [json.loads(e.data) for e in received.named("step-change")]
    assert steps
    assert all(
        set(s) == {"progress", "currentStep", "estimatedTimeRemaining", "traceId"} for s in steps
    )
    (complete,) = [json.loads(e.data) for e in received.named("complete")]
    assert complete["result"]["score"] >= 0
    assert received.named("job_update") == []
    connected = json.loads(received.named("connected")[0].data)
    assert isinstance(connected["timestamp"], int)  # epoch milliseconds, as seed 001 reads it
    assert connected["message"] == "SSE connection established"
