"""A seed 003/004-style page in Chromium: an EventSource on `/api/v1/jobs/:jobId/stream?token=`
(the user's JWT, as seed 003 passes it) listening for the named events `connected`,
`step-change`, `progress-update`, `complete` and `failed`, as those seeds' frontends do.

It runs against `stream_stack` (AUTH_MODE=jwt, streams cut after 5 s: a job running longer is
resumed by the browser itself with Last-Event-ID); the page must see every event once, its
progress never going back, and end with `complete` carrying the job's result.
"""

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.stream_stack import StreamStack, submit_job
from tests.samples.documents import make_pdf, paginate, resume_text

pytestmark = pytest.mark.browser

JOB_WAIT_MS = 90_000

# Written the way seed 003/004's contract reads: named events, data fields as listed there.
STEPS_PAGE = """
<script>
  window.__events = [];
  window.__ended = null;
  function listen(jobId, token) {
    const url = `/api/v1/jobs/${jobId}/stream?token=${encodeURIComponent(token)}`;
    const source = new EventSource(url);
    const keep = (name) => source.addEventListener(name, (e) => {
      window.__events.push({ name, id: e.lastEventId, data: JSON.parse(e.data) });
    });
    ['connected', 'step-change', 'progress-update', 'scrape-phase'].forEach(keep);
    source.addEventListener('complete', (e) => {
      window.__events.push({ name: 'complete', id: e.lastEventId, data: JSON.parse(e.data) });
      window.__ended = 'complete';
      source.close();
    });
    source.addEventListener('failed', (e) => {
      window.__events.push({ name: 'failed', id: e.lastEventId, data: JSON.parse(e.data) });
      window.__ended = 'failed';
      source.close();
    });
  }
</script>
"""


def big_resume_pdf() -> bytes:
    # Long enough that the job is still running when the 5 s stream cut comes now and then.
    return make_pdf(paginate(resume_text().splitlines() * 30))


def test_a_seed_003_style_page_follows_a_real_job_with_the_users_jwt(
    stream_stack: StreamStack, page: Page
) -> None:
    owner = "noor"
    job = submit_job(
        stream_stack.api,
        "noor.pdf",
        "application/pdf",
        big_resume_pdf(),
        stream_stack.headers(owner),
    )
    page.goto(f"{stream_stack.base_url}/seed-003-page")  # the API's origin (its 404 page)
    page.set_content(f"<!doctype html><html><body>{STEPS_PAGE}</body></html>")
    page.evaluate(f"listen({json.dumps(job['jobId'])}, {json.dumps(stream_stack.token(owner))})")
    page.wait_for_function("window.__ended !== null", timeout=JOB_WAIT_MS)

    events: list[dict[str, Any]] = page.evaluate("window.__events")
    assert page.evaluate("window.__ended") == "complete", events[-3:]
    names = [e["name"] for e in events]
    assert names[0] == "connected"
    assert names[-1] == "complete"
    assert "step-change" in names
    assert "progress-update" in names
    ids = [e["id"] for e in events if e["name"] != "connected"]
    assert len(ids) == len(set(ids)), "an event arrived twice across the reconnects"
    progress = [e["data"]["progress"] for e in events if e["name"] == "progress-update"]
    assert progress == sorted(progress)
    assert all(
        set(e["data"]) >= {"progress", "currentStep", "estimatedTimeRemaining"}
        for e in events
        if e["name"] in ("progress-update", "step-change")
    )
    complete = events[-1]["data"]
    assert complete["result"]["score"] >= 0
    status = httpx.get(
        f"{stream_stack.api}/jobs/{job['jobId']}/status",
        headers=stream_stack.headers(owner),
        timeout=30,
    ).json()["data"]
    assert status["status"] == "completed"
    assert complete["result"] == status["result"]
