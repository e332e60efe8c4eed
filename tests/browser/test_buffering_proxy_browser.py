"""Behind a proxy that buffers whole responses (tests/support/buffering_proxy.py, in front of
the local host), a stream reaches the browser only when it ends. The demo page, served through
that proxy, still shows every event of a running job to its end: the client notices that its
stream says nothing, says so on the page ("live updates through polling"), and follows the job
by long polling from the last event it has, nothing lost or repeated.

Runs on `proxied_stack` (tests/browser/stream_stack.py: AUTH_MODE=jwt, 300 s stream max age,
so no stream ends within a test by its age and the proxy holds it back for as long as its job
runs; CORS open to every origin, the page being on the proxy's), `proxied` its proxy. The
job is a `paced-read` (a test-only job type reading its upload at 512 KiB/s) of a few MiB: it
runs for seconds, long enough for the switch and several long polls.
"""

import asyncio

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.demo_page import fill_token
from tests.browser.stream_stack import StreamStack, completed, progress, started
from tests.e2e.conftest import new_owner
from tests.e2e.test_recipes import text_of

pytestmark = pytest.mark.browser

PACED_BYTES = 5 * 1024 * 1024  # about 10 s at paced-read's default 512 KiB/s
JOB_WAIT_MS = 120_000
# Longer than the client's 5 s wait for `connected`: the stream is held back, not slow.
HELD_BACK_SECONDS = 6.0


def test_the_proxy_holds_a_stream_back_until_it_ends(
    proxied_stack: StreamStack, proxied: str
) -> None:
    owner = new_owner("held-back")
    jobs = proxied_stack.jobs

    async def scenario() -> tuple[bool, str]:
        job_id = await jobs.create(owner)
        await jobs.record(job_id, started(), progress(20))
        async with httpx.AsyncClient(timeout=60) as http:
            get = asyncio.ensure_future(
                http.get(
                    f"{proxied}/api/v1/jobs/{job_id}/stream",
                    headers=proxied_stack.headers(owner),
                )
            )
            await asyncio.sleep(HELD_BACK_SECONDS)
            held_back = not get.done()  # not even the head: everything waits for the end
            await jobs.record(job_id, completed())
            response = await get
            return held_back, response.text

    held_back, body = asyncio.run(scenario())
    assert held_back
    assert body.count("event: job_update") == 4  # then all of it at once
    assert "event: connected" in body


def test_the_demo_page_behind_a_buffering_proxy_shows_every_event_by_long_polling(
    proxied_stack: StreamStack, proxied: str, page: Page
) -> None:
    owner = new_owner("proxied-page")
    polls: list[str] = []
    streams: list[str] = []
    page.on(
        "request",
        lambda r: (
            polls.append(r.url)
            if "/events?" in r.url and "/jobs/" in r.url
            else streams.append(r.url)
            if "/stream?" in r.url
            else None
        ),
    )
    page.goto(f"{proxied}/")
    page.wait_for_selector("body[data-state='ready']")
    fill_token(page, proxied_stack.token(owner))
    # paced-read is a test-only job name: offer it as GET /queues would list a job name.
    page.evaluate(
        """() => {
            const option = new Option('paced-read (queue document-analysis)', 'paced-read');
            option.dataset.queue = 'document-analysis';
            document.getElementById('job-name').append(option);
            document.getElementById('job-name').value = 'paced-read';
        }"""
    )
    page.set_input_files(
        "#file",
        files=[{"name": "paced.txt", "mimeType": "text/plain", "buffer": text_of(PACED_BYTES)}],
    )
    page.click("#start")
    page.wait_for_selector("#transport[data-transport='polling']", timeout=30_000)
    assert "through polling" in (page.text_content("#transport") or "")
    assert page.get_attribute("body", "data-state") == "running"  # switched mid-job
    page.wait_for_selector("body[data-state='completed']", timeout=JOB_WAIT_MS)

    job_id = page.text_content("#job-id") or ""
    shown = page.eval_on_selector_all(
        "#events li", "items => items.map((li) => Number(li.dataset.sequence))"
    )
    with httpx.Client(timeout=30) as http:
        job = http.get(
            f"{proxied_stack.api}/jobs/{job_id}", headers=proxied_stack.headers(owner)
        ).json()["data"]
    assert job["status"] == "completed"
    assert shown == list(range(1, job["lastEventId"] + 1))  # every event, once, in order
    assert len(polls) >= 2, polls  # it followed the job by long polls ...
    assert all("events=jobstream" in url for url in polls)
    assert all("token=" not in url for url in polls)  # ... with the credential in a header
    assert streams, "the stream was tried first"
    assert "Live updates through polling" in (page.text_content("#transport") or "")


def test_the_demo_page_without_a_proxy_stays_on_its_stream(
    proxied_stack: StreamStack, page: Page
) -> None:
    owner = new_owner("direct-page")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/events?" in r.url else None)
    page.goto(f"{proxied_stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    fill_token(page, proxied_stack.token(owner))
    page.set_input_files(
        "#file",
        files=[{"name": "cv.txt", "mimeType": "text/plain", "buffer": b"Jane Doe\nEngineer\n"}],
    )
    page.click("#start")
    page.wait_for_selector("body[data-state='completed']", timeout=JOB_WAIT_MS)
    assert page.is_hidden("#transport")
    assert [u for u in polls if "/jobs/" in u] == []
