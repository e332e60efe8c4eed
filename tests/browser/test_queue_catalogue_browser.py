"""Seed 000's queue catalogue in Chromium: a page on the API's origin listens for every event
name seed 000 lists on one EventSource (`/api/v1/queue/events`), while a real resume job runs
on `make run`'s stack (AUTH_MODE=none), from enqueue to completion."""

import json
from typing import Any

import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.stream_stack import submit_job
from tests.samples.documents import make_pdf, paginate, resume_text
from tests.support.stack import LocalStack

pytestmark = pytest.mark.browser

SEED_000_EVENTS = (
    "queue-status",
    "job-queued",
    "job-started",
    "job-progress",
    "job-completed",
    "job-failed",
    "queue-stats",
    "worker-status",
    "system-alert",
    "heartbeat",
)

PAGE = """
<ul id="log"></ul>
<script>
  window.__seen = [];
  window.__opened = 0;
  const source = new EventSource('/api/v1/queue/events');
  source.onopen = () => { window.__opened += 1; };
  for (const name of %s) {
    source.addEventListener(name, (e) => {
      const data = JSON.parse(e.data);
      window.__seen.push({ name, id: e.lastEventId, data });
      const li = document.createElement('li');
      li.textContent = name + ' ' + (data.jobId || '') + ' ' + (data.progress ?? '');
      document.getElementById('log').appendChild(li);
    });
  }
</script>
"""


def wait_for(page: Page, condition: str, what: str, timeout_ms: int = 90_000) -> None:
    try:
        page.wait_for_function(condition, timeout=timeout_ms)
    except PlaywrightTimeoutError:
        seen = page.evaluate("window.__seen.map(e => e.name)")
        pytest.fail(f"{what}: not within {timeout_ms / 1000:g} s; the page saw {seen}")


def test_seed_000s_events_for_a_real_job_from_enqueue_to_completion(
    page: Page, anonymous_stack: LocalStack
) -> None:
    page.goto(f"{anonymous_stack.base_url}/seed-000/catalogue")
    page.set_content(f"<!doctype html><html><body>{PAGE % json.dumps(SEED_000_EVENTS)}</body>")
    wait_for(page, "window.__seen.some(e => e.name === 'queue-stats')", "the first queue-stats")

    pdf = make_pdf(paginate(resume_text().splitlines()))
    job = submit_job(anonymous_stack.api, "cv.pdf", "application/pdf", pdf)
    job_id = job["jobId"]
    wait_for(
        page,
        f"window.__seen.some(e => e.name === 'job-completed' && e.data.jobId === '{job_id}')",
        "job-completed",
    )
    seen: list[dict[str, Any]] = page.evaluate("window.__seen")
    assert seen[0]["name"] == "queue-status"
    assert set(seen[0]["data"]) == {"totalJobs", "activeJobs", "queuedJobs", "timestamp"}
    mine = [e for e in seen if e["data"].get("jobId") == job_id]
    kinds = [e["name"] for e in mine]
    assert kinds[:2] == ["job-queued", "job-started"], kinds
    assert kinds[-1] == "job-completed"
    assert set(kinds[2:-1]) == {"job-progress"}, kinds
    percents = [e["data"]["progress"] for e in mine if e["name"] == "job-progress"]
    assert percents == sorted(percents)
    assert percents[-1] >= 90
    assert mine[0]["data"]["type"] == "analyze-resume"
    assert mine[1]["data"]["workerId"].startswith("worker-")
    done = mine[-1]["data"]
    assert done["status"] == "success"
    assert done["resultId"] == job_id
    assert isinstance(done["duration"], int)
    assert all(e["id"] for e in mine), "every job event carries an id for Last-Event-ID"
    stats = next(e["data"] for e in seen if e["name"] == "queue-stats")
    assert set(stats) >= {"totalProcessed", "successRate", "averageProcessingTime", "activeWorkers"}
    assert page.evaluate("window.__opened") == 1
    assert page.locator("#log li").count() == len(seen)
