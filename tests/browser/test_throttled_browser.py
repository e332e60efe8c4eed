"""`web/jobstream-client.js` under the per-caller limits, in Chromium, on a stack of its own
(AUTH_MODE=none, so the page and this test are the one caller `anonymous`) with one open
stream and three presigns a minute allowed.

- A stream refused with 429: `watch()` rejects with code `throttled` and its `retryAfter`,
  and nothing hammers the route (the EventSource gives up on a non-200 answer; the client
  asks once more, plainly, to learn why, and stops).
- The feed refused with 429: `watchAll()` fails the same way and does not reopen.
- A presign over the limit: a `JobstreamError` saying `throttled` with its `retryAfter`.
"""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request

from tests.browser.stream_stack import submit_job
from tests.samples.documents import resume_text
from tests.support.stack import LocalStack, launch_default_stack

pytestmark = pytest.mark.browser

SITE = "/throttle-pages"
QUIET_MS = 5_000  # longer than the stream's reconnect hint (STREAM_RETRY_MS, 2 s)


@pytest.fixture(scope="module")
def throttled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {"LIMIT_STREAMS_PER_CALLER": "1", "LIMIT_PRESIGNS_PER_MINUTE": "3"}
    with launch_default_stack(tmp_path_factory.mktemp("throttled-stack"), env) as stack:
        yield stack


def open_on_api(page: Page, origin: str) -> None:
    page.goto(f"{origin}{SITE}/page.html")
    page.set_content(
        '<!doctype html>\n<html><head><meta charset="utf-8"></head><body></body></html>'
    )


def requests_to(page: Page, path_end: str) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        if request.url.split("?")[0].endswith(path_end):
            seen.append(request.url)

    page.on("request", record)
    return seen


def finished_job(stack: LocalStack) -> str:
    job = submit_job(stack.api, "cv.txt", "text/plain", resume_text().encode("utf-8"))
    job_id: str = job["jobId"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = httpx.get(f"{stack.api}/jobs/{job_id}", timeout=10).json()["data"]["status"]
        if status in {"completed", "failed", "cancelled"}:
            return job_id
        time.sleep(0.25)
    pytest.fail(f"job {job_id} did not end")


WATCH = """async (jobId) => {
  const { JobstreamClient } = await import('/web/jobstream-client.js');
  const client = new JobstreamClient({ apiBase: '/api/v1' });
  try {
    await client.watch(jobId).done;
    return { resolved: true };
  } catch (err) {
    return { code: err.code, status: err.status, retryAfter: err.retryAfter, message: err.message };
  }
}"""

WATCH_ALL = """async () => {
  const { JobstreamClient } = await import('/web/jobstream-client.js');
  const client = new JobstreamClient({ apiBase: '/api/v1' });
  const errors = [];
  const watcher = client.watchAll({ onError: (err) => errors.push(err.code) });
  try {
    await watcher.opened;
    return { resolved: true };
  } catch (err) {
    const { code, status, retryAfter, message } = err;
    return { code, status, retryAfter, message, errors };
  }
}"""

PRESIGN = """async () => {
  const { JobstreamClient } = await import('/web/jobstream-client.js');
  const client = new JobstreamClient({ apiBase: '/api/v1' });
  const file = new File(['hello'], 'a.txt', { type: 'text/plain' });
  for (let n = 0; n < 10; n += 1) {
    try {
      await client.presign(file);
    } catch (err) {
      const { code, status, retryAfter, message } = err;
      return { n, code, status, retryAfter, message };
    }
  }
  return { n: 10 };
}"""


def assert_throttled(answer: dict[str, Any], at_most: int) -> None:
    assert answer.get("code") == "throttled", answer
    assert answer["status"] == 429
    assert 1 <= answer["retryAfter"] <= at_most
    assert answer["message"].startswith("throttled: ")
    assert f"try again in {answer['retryAfter']} s" in answer["message"]


def test_a_throttled_stream_rejects_with_retry_after_and_is_not_retried(
    page: Page, throttled_stack: LocalStack
) -> None:
    job_id = finished_job(throttled_stack)
    streams = requests_to(page, f"/jobs/{job_id}/stream")
    feeds = requests_to(page, "/api/events")
    open_on_api(page, throttled_stack.base_url)
    # This test holds the caller's one stream: the caller's feed, left open.
    with httpx.stream("GET", f"{throttled_stack.base_url}/api/events", timeout=30) as held:
        assert held.status_code == 200
        answer = page.evaluate(WATCH, job_id)
        assert_throttled(answer, 600 + 15)
        page.wait_for_timeout(QUIET_MS)
        # The EventSource's one request and the client's one look at why: no reconnects.
        assert len(streams) == 2, streams

        answer = page.evaluate(WATCH_ALL)
        assert_throttled(answer, 600 + 15)
        assert answer["errors"] == ["throttled"]
        page.wait_for_timeout(QUIET_MS)
        assert len(feeds) == 2, feeds
    print(f"throttled stream: {answer['message']}")


def test_a_presign_over_the_limit_is_a_throttled_error_with_retry_after(
    page: Page, throttled_stack: LocalStack
) -> None:
    open_on_api(page, throttled_stack.base_url)
    answer = page.evaluate(PRESIGN)
    assert answer["n"] <= 3  # the first test's job used one presign of this minute
    assert_throttled(answer, 60)
    print(f"throttled presign: {answer['message']}")
