"""Per-caller limits through the real local stack (its own stack, with low limits in its
environment): the request over a limit is 429 `throttled` with `Retry-After` and the
envelope, other callers go on, a closed stream and an ended job free their place, and one
caller's flood, sent all at once, throttles nobody else."""

import asyncio
import contextlib
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobstream_client.sse import SseParser
from tests.e2e.conftest import TERMINAL, Api, new_owner
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e

PRESIGNS = 3
ENQUEUES = 4
STREAMS = 2
RUNNING = 2
MAX_AGE = 60
LIMITS_ENV = {
    "LIMIT_PRESIGNS_PER_MINUTE": str(PRESIGNS),
    "LIMIT_ENQUEUES_PER_MINUTE": str(ENQUEUES),
    "LIMIT_STREAMS_PER_CALLER": str(STREAMS),
    "LIMIT_RUNNING_JOBS_PER_CALLER": str(RUNNING),
    "STREAM_MAX_AGE_SECONDS": str(MAX_AGE),
    "STREAM_HEARTBEAT_SECONDS": "1",
}
DOCUMENT = ("document-analysis", "analyze-document")
# `paced-read` (a test-only job type) at 64 KiB/s: 2 MiB runs for 32 s unless cancelled.
SLOW = ("document-analysis", "paced-read")
SLOW_TEXT = b"A job that takes its time, so it is still running.\n" * 41_000
PACE = {"bytesPerSecond": 64 * 1024}


@pytest.fixture(scope="module")
def limits_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with launch_stack(tmp_path_factory.mktemp("limits"), LIMITS_ENV) as stack:
        yield stack


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        yield client


def caller(stack: LocalStack, http: httpx.AsyncClient, name: str) -> Api:
    return Api(stack, http, new_owner(name))


def assert_throttled(response: httpx.Response, limit: str, at_most: int) -> int:
    """The 429 answer's shape; returns its Retry-After."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "throttled"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= at_most
    assert error["details"] == [
        {
            "limit": limit,
            "maximum": error["details"][0]["maximum"],
            "retryAfterSeconds": retry_after,
        }
    ]
    return retry_after


async def enqueue(api: Api, job: tuple[str, str], blob: str, **data: Any) -> httpx.Response:
    return await api.enqueue(*job, {"blobName": blob, "fileName": "a.txt", **data})


async def cancel(api: Api, job_id: str) -> None:
    r = await api.http.post(f"{api.stack.api}/jobs/{job_id}/cancel", headers=api.auth)
    assert r.status_code in {202, 409}, r.text


async def test_the_presign_over_the_limit_is_throttled_and_others_go_on(
    limits_stack: LocalStack, http: httpx.AsyncClient
) -> None:
    alice, bob = caller(limits_stack, http, "alice"), caller(limits_stack, http, "bob")
    for _ in range(PRESIGNS):
        assert (await alice.presign("a.txt", "text/plain", 5)).status_code == 201
    assert_throttled(await alice.presign("a.txt", "text/plain", 5), "LIMIT_PRESIGNS_PER_MINUTE", 60)
    assert (await bob.presign("a.txt", "text/plain", 5)).status_code == 201


async def test_the_enqueue_over_the_limit_is_throttled(
    limits_stack: LocalStack, http: httpx.AsyncClient
) -> None:
    alice = caller(limits_stack, http, "alice")
    upload = await alice.upload("a.txt", b"hello limits\n", "text/plain")
    for _ in range(ENQUEUES):
        r = await enqueue(alice, DOCUMENT, upload["blobName"])
        assert r.status_code == 202, r.text
        job_id = r.json()["data"]["jobId"]
        await cancel(alice, job_id)  # keeps the running-jobs limit out of the way
        await alice.wait_terminal(job_id)
    r = await enqueue(alice, DOCUMENT, upload["blobName"])
    assert_throttled(r, "LIMIT_ENQUEUES_PER_MINUTE", 60)


async def test_the_running_jobs_limit_refuses_and_frees_when_a_job_ends(
    limits_stack: LocalStack, http: httpx.AsyncClient
) -> None:
    alice, bob = caller(limits_stack, http, "alice"), caller(limits_stack, http, "bob")
    upload = await alice.upload("slow.txt", SLOW_TEXT, "text/plain")
    running = []
    for _ in range(RUNNING):
        r = await enqueue(alice, SLOW, upload["blobName"], **PACE)
        assert r.status_code == 202, r.text
        running.append(r.json()["data"]["jobId"])
    try:
        r = await enqueue(alice, SLOW, upload["blobName"], **PACE)
        assert assert_throttled(r, "LIMIT_RUNNING_JOBS_PER_CALLER", 5) == 5
        # Bob's jobs are counted apart.
        bobs = await bob.submit(*DOCUMENT, "b.txt", b"bob's own\n")
        assert (await bob.wait_terminal(bobs["jobId"]))["status"] == "completed"
        # A job that ends gives its place back.
        await cancel(alice, running[0])
        assert (await alice.wait_terminal(running[0]))["status"] == "cancelled"
        r = await enqueue(alice, SLOW, upload["blobName"], **PACE)
        assert r.status_code == 202, r.text
        running.append(r.json()["data"]["jobId"])
    finally:
        for job_id in running:
            await cancel(alice, job_id)


class Sse:
    """One open SSE response, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self._parser = SseParser()

    async def next_event(self, names: set[str], timeout: float = 20.0) -> tuple[str, str]:
        async def read() -> tuple[str, str]:
            async for line in self._lines:
                event = self._parser.feed(line)
                if event is not None and event.event in names:
                    return event.event, event.data
            raise AssertionError("the stream ended")

        return await asyncio.wait_for(read(), timeout)


async def test_streams_over_the_limit_are_refused_while_the_others_keep_streaming(
    limits_stack: LocalStack, http: httpx.AsyncClient
) -> None:
    alice = caller(limits_stack, http, "alice")
    upload = await alice.upload("slow.txt", SLOW_TEXT, "text/plain")
    r = await enqueue(alice, SLOW, upload["blobName"], **PACE)
    assert r.status_code == 202, r.text
    job_id = r.json()["data"]["jobId"]
    job_stream = f"{limits_stack.api}/jobs/{job_id}/stream"
    feed = f"{limits_stack.base_url}/api/events"
    try:
        async with contextlib.AsyncExitStack() as streams:

            async def open_sse(url: str) -> Sse:
                cm = http.stream("GET", url, headers=alice.auth, timeout=30)
                response = await streams.enter_async_context(cm)
                assert response.status_code == 200, await response.aread()
                return Sse(response)

            # A job stream and the caller's feed: together at the limit.
            first = await open_sse(job_stream)
            await first.next_event({"job_update"})
            second = await open_sse(feed)
            await second.next_event({"hello"})
            for url in (job_stream, feed, f"{limits_stack.base_url}/api/v1/queue/events"):
                refused = await http.get(url, headers=alice.auth)
                retry_after = assert_throttled(refused, "LIMIT_STREAMS_PER_CALLER", MAX_AGE + 15)
                assert retry_after > 5  # the oldest stream has most of its maximum age left
            # Another caller streams meanwhile.
            bob = caller(limits_stack, http, "bob")
            async with http.stream("GET", feed, headers=bob.auth, timeout=30) as bobs:
                assert bobs.status_code == 200
            # The open ones go on: progress on the job stream, the same events on the feed.
            _, update = await first.next_event({"job_update"})
            assert json.loads(update)["jobId"] == job_id
            _, entry = await second.next_event({"job"})
            assert json.loads(entry)["jobId"] == job_id
            # A stream closed frees its slot.
            await first.response.aclose()
            again = await asyncio.wait_for(_open_when_free(http, job_stream, alice.auth), 10)
            assert again == 200
    finally:
        await cancel(alice, job_id)
    assert (await alice.wait_terminal(job_id))["status"] in TERMINAL


async def _open_when_free(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    """The stream's status once its slot is free (the server sees a close a moment later)."""
    while True:
        async with http.stream("GET", url, headers=headers, timeout=30) as response:
            if response.status_code != 429:
                return response.status_code
        await asyncio.sleep(0.1)


async def test_one_caller_s_flood_does_not_throttle_the_others(
    limits_stack: LocalStack, http: httpx.AsyncClient
) -> None:
    flooder = caller(limits_stack, http, "flood")
    others = [caller(limits_stack, http, f"other{n}") for n in range(8)]
    flood = [flooder.presign("f.txt", "text/plain", 5) for _ in range(40)]
    calm = [api.presign("c.txt", "text/plain", 5) for api in others for _ in range(PRESIGNS)]
    answers = await asyncio.gather(*flood, *calm)
    flooded, answered = answers[: len(flood)], answers[len(flood) :]
    statuses = sorted(r.status_code for r in flooded)
    assert statuses == [201] * PRESIGNS + [429] * (len(flood) - PRESIGNS)
    for r in flooded:
        if r.status_code == 429:
            assert_throttled(r, "LIMIT_PRESIGNS_PER_MINUTE", 60)
    assert [r.status_code for r in answered] == [201] * len(calm), [r.text for r in answered]


# --- the terminal client ------------------------------------------------------------------------


def terminal_client(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobstream_client", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_the_terminal_client_says_throttled_and_when_to_retry(
    limits_stack: LocalStack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    alice = caller(limits_stack, http, "alice")
    token = limits_stack.token(alice.owner)
    for _ in range(PRESIGNS):
        assert (await alice.presign("a.txt", "text/plain", 5)).status_code == 201
    cv = tmp_path / "cv.txt"
    cv.write_text("Ada Lovelace\n", encoding="utf-8")
    done = await asyncio.to_thread(
        terminal_client, str(cv), "--api", limits_stack.api, "--token", token
    )
    assert done.returncode == 2, done.stderr
    assert re.search(
        r"error: throttled: too many upload URLs per minute.*\(HTTP 429, retry after \d+ s\)",
        done.stderr,
    ), done.stderr

    feed = f"{limits_stack.base_url}/api/events"
    async with contextlib.AsyncExitStack() as streams:
        for _ in range(STREAMS):
            held = await streams.enter_async_context(
                http.stream("GET", feed, headers=alice.auth, timeout=30)
            )
            assert held.status_code == 200
        done = await asyncio.to_thread(
            terminal_client, "follow-all", "--api", limits_stack.api, "--token", token
        )
    assert done.returncode == 2, done.stderr
    assert re.search(
        r"error: throttled: too many open streams.*\(HTTP 429, retry after \d+ s\)", done.stderr
    ), done.stderr


async def test_one_caller_s_enqueue_flood_does_not_throttle_the_others(
    limits_stack: LocalStack, http: httpx.AsyncClient
) -> None:
    flooder = caller(limits_stack, http, "flood")
    others = [caller(limits_stack, http, f"other{n}") for n in range(8)]
    uploads = await asyncio.gather(
        *(api.upload("a.txt", b"hello limits\n", "text/plain") for api in [flooder, *others])
    )
    blobs = [u["blobName"] for u in uploads]
    flood = [enqueue(flooder, DOCUMENT, blobs[0]) for _ in range(30)]
    # Each of the others: as many at once as the running-jobs limit allows.
    calm = [
        enqueue(api, DOCUMENT, blob)
        for api, blob in zip(others, blobs[1:], strict=True)
        for _ in range(RUNNING)
    ]
    answers = await asyncio.gather(*flood, *calm)
    flooded, answered = answers[: len(flood)], answers[len(flood) :]
    accepted = [r for r in flooded if r.status_code == 202]
    assert 1 <= len(accepted) <= ENQUEUES, [r.status_code for r in flooded]
    for r in flooded:
        if r.status_code != 202:
            limit = r.json()["error"]["details"][0]["limit"]
            assert limit in {"LIMIT_ENQUEUES_PER_MINUTE", "LIMIT_RUNNING_JOBS_PER_CALLER"}
            assert_throttled(r, limit, 60)
    assert [r.status_code for r in answered] == [202] * len(calm), [r.text for r in answered]
