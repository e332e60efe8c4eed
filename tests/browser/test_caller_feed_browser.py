"""A caller's feed (`GET /api/events`, `/api/jobs/events`: every job on ONE stream) in Chromium.

- Seed 002's "Browser Console" snippet, read from ../shared/seeds/002_*.txt at test time and
  run unchanged in a page on the API's origin (`anonymous_stack`, AUTH_MODE=none, as the
  seed sends no token): it logs `Connected`, then every event of real jobs, in order.
- A small page of ours reading seed 002's event fields as the seed lists them (type, jobId,
  jobName, epochMs, progress.current/total/percent, data, error, timestamp) renders a
  completed job and a failed one (a corrupt PDF) as the API reports them.
- `JobstreamClient.watchAll` follows 12 jobs run at once over one EventSource: every event of
  every job, compared with each job's own stream; one request to the feed, one EventSource.
- The demo page's session list shows both jobs of two runs live, to `completed`, on
  `stream_stack` (AUTH_MODE=jwt: a feed token; 5 s stream max age: the feed is cut between
  the runs and resumed by EventSource with Last-Event-ID).
Pages on the API's origin open `/feed-pages/<page>` (the host's 404) and replace the
document (as test_seed_frontends.py does); nothing is intercepted. Every wait has a deadline.
"""

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Request
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from jobstream_client.sse import SseParser
from tests.browser.demo_page import fill_token
from tests.browser.stream_stack import StreamStack, submit_job
from tests.samples.documents import corrupt_pdf, make_pdf, paginate, resume_text
from tests.support.stack import LocalStack

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS = REPO_ROOT.parent / "shared" / "seeds"
SITE = "/feed-pages"
JOB_WAIT_SECONDS = 120.0
OPEN_WAIT_MS = 20_000
TERMINAL_TYPES = {"completed", "failed"}
TERMINAL_STATUSES = {"completed", "failed", "cancelled"}
MICRO_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FEED_PATHS = ("/api/events", "/api/jobs/events")

# Counts the EventSources a page constructs (the class stays a real EventSource).
COUNT_EVENT_SOURCES = """
window.__eventSources = [];
window.EventSource = class extends window.EventSource {
  constructor(url, init) { super(url, init); window.__eventSources.push(String(url)); }
};
"""


def seed_002_block(heading: str, language: str) -> str:
    """The first ```language block after the line `heading` in seed 002 (read now)."""
    files = sorted(SEEDS.glob("002_*.txt"))
    assert files, f"seed 002 not found under {SEEDS}"
    text = files[0].read_text(encoding="utf-8")
    starts = [m.end() for m in re.finditer(rf"^{re.escape(heading)}$", text, re.MULTILINE)]
    assert len(starts) == 1, f"{heading!r} found {len(starts)} times in seed 002"
    block = re.search(rf"^```{re.escape(language)}\n(.*?)^```", text[starts[0] :], re.S | re.M)
    assert block is not None, f"no ```{language} block after {heading!r}"
    return block.group(1)


def open_on_api(page: Page, origin: str, name: str, body: str) -> None:
    """`body` as the document of a page at `origin + SITE/name` (the API's origin)."""
    page.goto(f"{origin}{SITE}/{name}")
    page.set_content(
        f'<!doctype html>\n<html><head><meta charset="utf-8"></head><body>{body}</body></html>'
    )


def feed_requests(page: Page) -> list[str]:
    """Every request the page makes to the caller's feed, as it is made."""
    seen: list[str] = []

    def record(request: Request) -> None:
        if request.url.split("?")[0].endswith(FEED_PATHS):
            seen.append(request.url)

    page.on("request", record)
    return seen


def wait_until(page: Page, done: Callable[[], bool], what: str, seconds: float) -> None:
    """Poll `done` (letting the page's events in between) until it holds or time is up."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: not within {seconds:g} s; the page shows {page.inner_text('body')!r}"
            )
        page.wait_for_timeout(200)


def job_updates(
    api: str, job_id: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every `job_update` of a finished job, from its own stream (replayed from the start)."""
    updates: list[dict[str, Any]] = []
    parser = SseParser()
    with httpx.stream(
        "GET", f"{api}/jobs/{job_id}/stream", headers=headers or {}, timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        for event in parser.events(response.iter_lines()):
            if event.event == "job_update":
                updates.append(json.loads(event.data))
                if updates[-1]["status"] in TERMINAL_STATUSES:
                    break
    return updates


def job_status(api: str, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.get(f"{api}/jobs/{job_id}", headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def wait_terminal(api: str, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while (job := job_status(api, job_id, headers))["status"] not in TERMINAL_STATUSES:
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} did not finish: {job['status']}")
        time.sleep(0.25)
    return job


def resume_txt(api: str, name: str, headers: dict[str, str] | None = None) -> str:
    job = submit_job(api, name, "text/plain", resume_text().encode("utf-8"), headers)
    job_id: str = job["jobId"]
    return job_id


def assert_matches_its_own_stream(
    feed_events: list[dict[str, Any]], updates: list[dict[str, Any]], job_id: str
) -> None:
    """The feed's events of one job are that job's events: all of them, in order, once."""
    mine = [e for e in feed_events if e["jobId"] == job_id]
    assert [e["sequence"] for e in mine] == [u["sequence"] for u in updates], job_id
    assert [e["status"] for e in mine] == [u["status"] for u in updates], job_id
    assert [e["message"] for e in mine] == [u["message"] for u in updates], job_id
    assert [e["progress"]["percent"] for e in mine] == [u["progress"] for u in updates], job_id


# --- seed 002's "Browser Console" snippet, unchanged ------------------------------------


def test_seed_002_browser_console_snippet_logs_each_jobs_events_in_order(
    page: Page, anonymous_stack: LocalStack
) -> None:
    snippet = seed_002_block("### Browser Console", "javascript")
    messages: list[ConsoleMessage] = []
    # console.log only (the host's 404 under the page is a console error of its own).
    page.on("console", lambda message: messages.append(message) if message.type == "log" else None)
    requests = feed_requests(page)
    open_on_api(page, anonymous_stack.base_url, "console.html", "")
    try:
        with page.expect_console_message(lambda m: m.text == "Connected", timeout=OPEN_WAIT_MS):
            page.add_script_tag(content=snippet)
    except PlaywrightTimeoutError:
        pytest.fail(f"the snippet never logged Connected: {[m.text for m in messages]}")
    ids = [resume_txt(anonymous_stack.api, f"console-{n}.txt") for n in range(3)]

    logged: list[Any] = []  # what console.log got, in order: the parsed `job` data or a text

    def read_console() -> None:
        for message in messages[len(logged) :]:
            args = message.args
            logged.append(args[0].json_value() if args else message.text)

    def all_completed() -> bool:
        read_console()
        done = {e["jobId"] for e in logged if isinstance(e, dict) and e["type"] in TERMINAL_TYPES}
        return done >= set(ids)

    wait_until(page, all_completed, "every job's completed event in the console", JOB_WAIT_SECONDS)

    assert logged[0] == "Connected"
    assert requests == [f"{anonymous_stack.base_url}/api/jobs/events"], "the snippet's own URL"
    events = [e for e in logged if isinstance(e, dict)]
    for job_id in ids:
        assert wait_terminal(anonymous_stack.api, job_id)["status"] == "completed"
        updates = job_updates(anonymous_stack.api, job_id)
        assert_matches_its_own_stream(events, updates, job_id)
        types = [e["type"] for e in events if e["jobId"] == job_id]
        assert types[0] == "queued"
        assert "started" in types
        assert types[-1] == "completed"
        assert types.count("completed") == 1
    last = logged[-1]
    print(f"seed 002 console: {len(events)} job events of {len(ids)} jobs; last {last['type']}")


# --- seed 002's event fields, as the seed lists them ------------------------------------

SEED_FIELDS_PAGE = """
<ul id="jobs"></ul>
<script>
  // Reads only what seed 002's JobEvent type lists: type, jobId, jobName, epochMs,
  // progress.{current,total,percent}, data, error, timestamp.
  window.__epochs = [];
  const source = new EventSource('/api/jobs/events');
  source.addEventListener('hello', () => { document.body.dataset.feed = 'open'; });
  source.addEventListener('job', (e) => {
    const event = JSON.parse(e.data);
    if (!['started', 'progress', 'completed', 'failed'].includes(event.type)) return;
    window.__epochs.push(event.epochMs);
    let item = document.querySelector(`li[data-job-id="${event.jobId}"]`);
    if (!item) {
      item = document.createElement('li');
      item.dataset.jobId = event.jobId;
      item.innerHTML = '<b class="name"></b> <span class="type"></span> '
        + '<span class="progress"></span> <time class="time"></time> '
        + '<span class="epoch"></span> <code class="data"></code> <em class="error"></em>';
      document.getElementById('jobs').append(item);
    }
    const p = event.progress || {};
    item.dataset.type = event.type;
    item.querySelector('.name').textContent = event.jobName;
    item.querySelector('.type').textContent = event.type;
    item.querySelector('.progress').textContent = `${p.current}/${p.total} (${p.percent}%)`;
    item.querySelector('.time').textContent = event.timestamp;
    item.querySelector('.epoch').textContent = String(event.epochMs);
    item.querySelector('.data').textContent = JSON.stringify(event.data ?? null);
    item.querySelector('.error').textContent = event.error ?? '';
  });
</script>
"""


def rendered(page: Page, job_id: str) -> dict[str, str]:
    fields: dict[str, str] = page.eval_on_selector(
        f"li[data-job-id='{job_id}']",
        """(item) => Object.fromEntries(['name', 'type', 'progress', 'time', 'epoch', 'data',
              'error'].map((k) => [k, item.querySelector(`.${k}`).textContent]))""",
    )
    return fields


def test_a_page_reading_seed_002s_fields_renders_a_completed_and_a_failed_job(
    page: Page, anonymous_stack: LocalStack
) -> None:
    open_on_api(page, anonymous_stack.base_url, "fields.html", SEED_FIELDS_PAGE)
    page.wait_for_selector("body[data-feed='open']", state="attached", timeout=OPEN_WAIT_MS)
    started_at = time.time() * 1000
    good = resume_txt(anonymous_stack.api, "fields.txt")
    bad = submit_job(anonymous_stack.api, "broken.pdf", "application/pdf", corrupt_pdf())["jobId"]
    try:
        page.wait_for_selector(
            f"li[data-job-id='{good}'][data-type='completed']", timeout=JOB_WAIT_SECONDS * 1000
        )
        page.wait_for_selector(
            f"li[data-job-id='{bad}'][data-type='failed']", timeout=JOB_WAIT_SECONDS * 1000
        )
    except PlaywrightTimeoutError:
        pytest.fail(f"not both ended on the page: {page.inner_text('#jobs')!r}")

    completed = wait_terminal(anonymous_stack.api, good)
    assert completed["status"] == "completed"
    shown = rendered(page, good)
    assert shown["name"] == "analyze-resume"
    assert shown["type"] == "completed"
    assert shown["progress"] == "100/100 (100%)"
    assert json.loads(shown["data"]) == completed["result"]
    assert shown["error"] == ""
    assert MICRO_ISO.match(shown["time"]), shown["time"]
    assert started_at - 60_000 < float(shown["epoch"]) < time.time() * 1000 + 60_000

    failed = wait_terminal(anonymous_stack.api, bad)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "corrupt_file"
    shown = rendered(page, bad)
    assert shown["name"] == "analyze-resume"
    assert shown["type"] == "failed"
    assert shown["error"] == failed["error"]["message"]
    assert shown["error"]
    assert MICRO_ISO.match(shown["time"]), shown["time"]
    epochs: list[float] = page.evaluate("window.__epochs")
    assert epochs == sorted(epochs)
    assert len(set(epochs)) == len(epochs)
    print(f"seed 002 fields, failed job: {shown}")


# --- 12 jobs at once, one EventSource ---------------------------------------------------

WATCH_ALL = """async () => {
  const { JobstreamClient } = await import('/web/jobstream-client.js');
  window.__feed = { events: [], hellos: 0, errors: [] };
  const client = new JobstreamClient({ apiBase: '/api/v1' });
  window.__watcher = client.watchAll({
    onOpen: () => { window.__feed.hellos += 1; },
    onEvent: (event) => { window.__feed.events.push(event); },
    onError: (err) => { window.__feed.errors.push(String(err.message || err)); },
  });
  await window.__watcher.opened;
}"""


def test_watch_all_follows_12_jobs_at_once_over_one_event_source(
    page: Page, anonymous_stack: LocalStack
) -> None:
    requests = feed_requests(page)
    open_on_api(page, anonymous_stack.base_url, "watch-all.html", "")
    page.evaluate(f"() => {{ {COUNT_EVENT_SOURCES} }}")
    page.evaluate(WATCH_ALL)
    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = list(pool.map(lambda n: resume_txt(anonymous_stack.api, f"many-{n}.txt"), range(12)))
    assert len(set(ids)) == 12

    def events() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = page.evaluate("window.__feed.events")
        return got

    def all_ended() -> bool:
        feed = page.evaluate("window.__feed")
        assert feed["errors"] == [], feed["errors"]
        return {e["jobId"] for e in feed["events"] if e["type"] in TERMINAL_TYPES} >= set(ids)

    wait_until(page, all_ended, "the terminal event of all 12 jobs", JOB_WAIT_SECONDS)

    seen = events()
    for job_id in ids:
        assert wait_terminal(anonymous_stack.api, job_id)["status"] == "completed"
        assert_matches_its_own_stream(seen, job_updates(anonymous_stack.api, job_id), job_id)
    mine = [e for e in seen if e["jobId"] in ids]
    assert len(mine) >= 12 * 4
    assert page.evaluate("window.__feed.hellos") == 1
    assert page.evaluate("window.__eventSources") == [f"{anonymous_stack.base_url}/api/events"]
    assert requests == [f"{anonymous_stack.base_url}/api/events"], requests
    page.evaluate("window.__watcher.close()")
    print(f"watchAll: {len(mine)} events of 12 jobs over {len(requests)} feed request")


# --- the demo page's session list -------------------------------------------------------


def session_rows(page: Page) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#session-jobs tbody tr",
        """(rows) => rows.map((r) => ({
            id: r.dataset.jobId, status: r.dataset.status, events: Number(r.dataset.events),
            cells: [...r.cells].map((c) => c.textContent) }))""",
    )
    return rows


def connections(page: Page) -> int:
    return int(page.get_attribute("#session-feed", "data-connections") or 0)


def run_on_demo_page(page: Page, path: Path) -> str:
    page.set_input_files("#file", str(path))
    page.select_option("#job-name", "analyze-resume")
    page.click("#start")
    try:
        page.wait_for_selector("body[data-state='completed']", timeout=JOB_WAIT_SECONDS * 1000)
    except PlaywrightTimeoutError:
        pytest.fail(f"the run did not complete: {page.inner_text('body')!r}")
    job_id = page.text_content("#job-id") or ""
    assert job_id
    return job_id


def test_the_demo_pages_session_list_shows_both_jobs_of_two_runs_live(
    page: Page, stream_stack: StreamStack, tmp_path: Path
) -> None:
    page.add_init_script(COUNT_EVENT_SOURCES)
    owner = "petra"
    requests = feed_requests(page)
    resume = tmp_path / "petra.pdf"
    resume.write_bytes(make_pdf(paginate(resume_text().splitlines() * 20)))
    page.goto(f"{stream_stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    assert session_rows(page) == []
    fill_token(page, stream_stack.token(owner))

    first = run_on_demo_page(page, resume)

    def ended(ids: list[str]) -> Callable[[], bool]:
        def check() -> bool:
            statuses = {r["id"]: r["status"] for r in session_rows(page)}
            return all(statuses.get(i) == "completed" for i in ids)

        return check

    wait_until(page, ended([first]), "the first job completed in the list", 30)
    assert [r["id"] for r in session_rows(page)] == [first]  # live: before the second run
    # The server cuts the feed at 5 s; the EventSource comes back with its Last-Event-ID.
    # (Chromium's EventSource reconnects are not page requests: the page counts its hellos.)
    wait_until(page, lambda: connections(page) >= 2, "the feed reconnected after its cut", 20)
    second = run_on_demo_page(page, resume)
    wait_until(page, ended([first, second]), "both jobs completed in the list", 30)

    rows = session_rows(page)
    assert [r["id"] for r in rows] == [first, second]
    headers = stream_stack.headers(owner)
    for row in rows:
        job = job_status(stream_stack.api, row["id"], headers)
        assert job["status"] == "completed"
        assert row["cells"] == [row["id"], "analyze-resume", "completed", "100%", job["message"]]
        updates = job_updates(stream_stack.api, row["id"], headers)
        assert row["events"] == len(updates), "an event lost or seen twice across the feed cuts"
    assert page.get_attribute("#session-feed", "data-state") == "open"
    sources: list[str] = page.evaluate("window.__eventSources")
    feeds = [url for url in sources if url.split("?")[0].endswith(FEED_PATHS)]
    assert len(feeds) == 1, sources  # one for the session; the rest are each run's own stream
    assert len(sources) == 3, sources
    assert requests, "the feed was never requested"
    assert all("token=" in url for url in requests), requests
    assert page.is_hidden("#error")
    print(f"session list: {rows}; the feed connected {connections(page)} times (cut every 5 s)")
