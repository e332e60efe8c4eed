"""Live progress in a real browser: the demo page, the seed frontend's snippet, resume after a cut.

Runs headless Debian Chromium. The token-handling tests use `stream_stack` (AUTH_MODE=jwt, a
5 s stream max age, so the server cuts streams mid-job and EventSource has to resume by
itself). The seed frontend's snippet, loaded from ../shared/seeds at test time, runs as
written against `anonymous_stack` (AUTH_MODE=none, the local default), with nothing changed
on the wire, for real jobs uploaded and run by the worker.
The demo page's upload runs throttled (Chromium's network emulation) so its progress bar
has to move before it is full; a corrupt PDF shows the failure's text and code. Cross-origin:
with CORS "*", and against a second host whose `Host.CORS` allows one origin only, where a
page on any other origin is refused by the browser.
"""

import asyncio
import contextlib
import functools
import json
import os
import re
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from function_app.topology import topology
from tests.browser.demo_page import fill_token, raw_result
from tests.browser.stream_stack import (
    STREAM_SETTINGS,
    StreamStack,
    completed,
    progress,
    started,
    submit_job,
)
from tests.samples.documents import corrupt_pdf, make_pdf, paginate, resume_text
from tests.support.stack import (
    LocalStack,
    free_port,
    stack_environment,
    start_python,
    stop_process,
    wait_for_http,
)

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS = REPO_ROOT.parent / "shared" / "seeds"
JOB_WAIT_MS = 90_000


def seed_monitor_job() -> str:
    """`monitorJob` from the seed frontend's "Vanilla JavaScript - Minimal" block, as written."""
    files = sorted(SEEDS.glob("001_*.txt"))
    assert files, f"seed frontend not found under {SEEDS}"
    text = files[0].read_text(encoding="utf-8")
    section = text[text.index("### Vanilla JavaScript - Minimal") :]
    block = re.search(r"```javascript\n(.*?)```", section, re.DOTALL)
    assert block is not None
    code = block.group(1)
    function = re.search(r"^function monitorJob\(.*?^\}$", code, re.DOTALL | re.MULTILINE)
    assert function is not None
    return function.group(0)


def in_background(coro_factory: Callable[[], Coroutine[Any, Any, None]]) -> threading.Thread:
    """Run a coroutine on its own loop in a thread (Playwright's sync API owns this one's)."""
    thread = threading.Thread(target=lambda: asyncio.run(coro_factory()), daemon=True)
    thread.start()
    return thread


def run_async[T](coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    results: list[T] = []

    async def keep() -> None:
        results.append(await coro_factory())

    in_background(keep).join(timeout=60)
    assert results, "the coroutine did not finish"
    return results[0]


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Chromium's network emulation (DevTools protocol): uploads at `bytes_per_second`."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def record_values(page: Page, selector: str) -> None:
    """Record every value the element's `value` is set to, in order, in `window.__values`."""
    page.evaluate(
        """(selector) => {
            const bar = document.querySelector(selector);
            window.__values = [];
            new MutationObserver(() => window.__values.push(Number(bar.value)))
                .observe(bar, { attributes: true, attributeFilter: ['value'] });
        }""",
        selector,
    )


def test_demo_page_offers_the_job_names_the_api_lists_each_with_its_queue(
    stream_stack: StreamStack, page: Page
) -> None:
    page.goto(f"{stream_stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    offered = page.eval_on_selector_all(
        "#job-name option", "os => os.map((o) => [o.value, o.dataset.queue])"
    )
    assert offered == [[job, queue.name] for queue in topology().queues for job in queue.job_names]
    assert page.is_enabled("#start")


def test_demo_page_uploads_starts_and_shows_the_job_live(
    stream_stack: StreamStack, page: Page, tmp_path: Path
) -> None:
    resume = tmp_path / "jane-doe.txt"
    head = (
        "Jane Doe\njane@example.com\nExperience: 6 years Python, Azure Functions, SQL\n"
        "Education: MSc Computer Science\nSkills: Python, TypeScript, Docker, Kubernetes\n"
    )
    notes = "".join(f"Project {i}: streamed job progress to the browser.\n" for i in range(6000))
    resume.write_text(head + notes, encoding="utf-8")
    size = resume.stat().st_size
    assert size > 250_000
    page.goto(f"{stream_stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    # ~3 s to upload: the page gets several upload progress events before the end.
    throttle_uploads(page, size // 3)
    record_values(page, "#upload-progress")
    page.set_input_files("#file", str(resume))
    page.select_option("#job-name", "analyze-resume")
    fill_token(page, stream_stack.token("dora"))
    page.click("#start")
    page.wait_for_selector("body[data-state='completed']", timeout=60_000)

    assert page.eval_on_selector("#upload-progress", "e => e.value") == 100
    # The bar moved while the bytes left: values strictly between 0 and 100 before 100.
    # (The client's final onProgress(size, size) after the PUT only ever sets 100.)
    values: list[float] = page.evaluate("window.__values")
    assert 100 in values, values
    before_full = values[: values.index(100)]
    assert [v for v in before_full if 0 < v < 100], values
    assert values == sorted(values), values
    assert page.eval_on_selector("#job-progress", "e => e.value") == 100
    assert page.text_content("#job-status") == "completed"
    assert page.text_content("#job-id")
    result = raw_result(page)
    assert isinstance(result, dict)
    assert result
    sequences = page.eval_on_selector_all(
        "#events li", "items => items.map(i => Number(i.dataset.sequence))"
    )
    assert sequences == list(range(1, len(sequences) + 1))
    assert len(sequences) >= 3
    assert page.is_hidden("#error")


def test_demo_page_shows_a_failed_jobs_error_text_and_code(
    stream_stack: StreamStack, page: Page, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(corrupt_pdf())
    page.goto(f"{stream_stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    assert page.is_hidden("#error")
    page.set_input_files("#file", str(broken))
    page.select_option("#job-name", "analyze-resume")
    fill_token(page, stream_stack.token("oscar"))
    page.click("#start")
    page.wait_for_selector("body[data-state='failed']", timeout=JOB_WAIT_MS)

    job_id = page.text_content("#job-id") or ""
    assert job_id
    answer = httpx.get(
        f"{stream_stack.api}/jobs/{job_id}", headers=stream_stack.headers("oscar"), timeout=30
    )
    assert answer.status_code == 200, answer.text
    error = answer.json()["data"]["error"]
    assert error["code"] == "corrupt_file"
    assert error["message"]
    assert page.is_visible("#error")
    shown = page.inner_text("#error")
    codes = page.eval_on_selector_all("#error code", "tags => tags.map(t => t.textContent)")
    assert codes == ["corrupt_file"]
    # The page's own words for the code (web/messages.js), not the server's text, which may
    # name an internal exception (test_demo_page_for_people.py checks that none shows).
    assert re.fullmatch(r"Job failed: The file could not be read: .+\. \(corrupt_file\)", shown)
    assert page.text_content("#job-status") == "failed"
    assert page.is_hidden("#result-box")


def run_seed_snippet(page: Page, base_url: str, job_id: str) -> tuple[dict[str, Any], list[str]]:
    """Load the seed's `monitorJob` as written into a page of the stack and run it to the end.

    Nothing is routed or rewritten: returns what its callbacks got and every stream URL the
    page requested, so a test can check the snippet's own URL went out untouched.
    """
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/sse/job/" in r.url else None)
    page.goto(f"{base_url}/")
    page.add_script_tag(content=seed_monitor_job())
    page.evaluate(
        """(jobId) => {
            const updates = [];
            monitorJob(jobId, (data) => updates.push(data), (result, error) => {
                window.__outcome = { updates, result, error: error ?? null };
            });
        }""",
        job_id,
    )
    page.wait_for_function("window.__outcome !== undefined", timeout=JOB_WAIT_MS)
    outcome: dict[str, Any] = page.evaluate("window.__outcome")
    return outcome, streams


def job_status(stack: LocalStack, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.api}/jobs/{job_id}", timeout=30)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def test_the_seed_frontends_vanilla_snippet_works_unchanged(
    anonymous_stack: LocalStack, page: Page
) -> None:
    resume = make_pdf(paginate(resume_text().splitlines()))
    job = submit_job(anonymous_stack.api, "erin.pdf", "application/pdf", resume)

    outcome, streams = run_seed_snippet(page, anonymous_stack.base_url, job["jobId"])

    assert streams == [f"{anonymous_stack.api}/sse/job/{job['jobId']}"]
    assert outcome["error"] is None
    assert isinstance(outcome["result"], dict)
    assert outcome["result"] == job_status(anonymous_stack, job["jobId"])["result"]
    statuses = [u["status"] for u in outcome["updates"]]
    assert statuses[0] == "queued"
    assert "started" in statuses
    assert statuses[-1] == "completed"


def test_the_seed_snippet_reports_a_failure_with_its_error(
    anonymous_stack: LocalStack, page: Page
) -> None:
    job = submit_job(anonymous_stack.api, "broken.pdf", "application/pdf", corrupt_pdf())

    outcome, streams = run_seed_snippet(page, anonymous_stack.base_url, job["jobId"])

    assert streams == [f"{anonymous_stack.api}/sse/job/{job['jobId']}"]
    failed_job = job_status(anonymous_stack, job["jobId"])
    assert failed_job["status"] == "failed"
    assert failed_job["error"]["code"] == "corrupt_file"
    assert outcome["result"] is None
    assert isinstance(outcome["error"], str)
    assert outcome["error"]
    assert outcome["error"] == failed_job["error"]["message"]
    assert outcome["updates"][-1]["status"] == "failed"


def test_a_stream_cut_by_the_server_mid_job_resumes_with_nothing_lost_or_repeated(
    stream_stack: StreamStack, page: Page
) -> None:
    job_id = run_async(lambda: stream_stack.jobs.create("frank"))

    async def worker() -> None:
        await stream_stack.jobs.record(job_id, started())
        for percent in range(4, 100, 4):
            await asyncio.sleep(0.3)
            await stream_stack.jobs.record(job_id, progress(percent))
        await stream_stack.jobs.record(job_id, completed())

    page.goto(f"{stream_stack.base_url}/")
    url = f"{stream_stack.api}/jobs/{job_id}/stream?token={stream_stack.token('frank')}"
    page.evaluate(
        """(url) => {
            window.__seen = { ids: [], connected: 0, timeouts: 0, done: false };
            const source = new EventSource(url);
            source.addEventListener('connected', () => { window.__seen.connected += 1; });
            source.addEventListener('timeout', () => { window.__seen.timeouts += 1; });
            source.addEventListener('job_update', (e) => {
                window.__seen.ids.push(Number(e.lastEventId));
                if (['completed', 'failed', 'cancelled'].includes(JSON.parse(e.data).status)) {
                    source.close();
                    window.__seen.done = true;
                }
            });
        }""",
        url,
    )
    writer = in_background(worker)
    page.wait_for_function("window.__seen.done", timeout=60_000)
    writer.join(timeout=30)
    seen = page.evaluate("window.__seen")
    assert seen["timeouts"] >= 1
    assert seen["connected"] == seen["timeouts"] + 1
    assert seen["ids"] == list(range(1, 28))


def configure_page(site: Path, api: str | None) -> None:
    """Write the site's index.html: the demo page, its meta tag naming `api` when given."""
    page = (REPO_ROOT / "web" / "index.html").read_text(encoding="utf-8")
    if api is not None:
        configured = page.replace(
            'name="jobstream-api" content="/api/v1"', f'name="jobstream-api" content="{api}"'
        )
        assert configured != page, "the page's jobstream-api meta tag moved"
        page = configured
    (site / "index.html").write_text(page, encoding="utf-8")


@contextlib.contextmanager
def static_site(site: Path, api: str | None = None) -> Iterator[str]:
    """The demo page served from its own origin (a plain static server on a free port), with
    `api` in its `jobstream-api` meta tag as docs/deploy.md tells a deployer to do."""
    site.mkdir()
    (site / "web").symlink_to(REPO_ROOT / "web", target_is_directory=True)
    configure_page(site, api)
    handler = functools.partial(QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def elsewhere(stream_stack: StreamStack, tmp_path: Path) -> Iterator[str]:
    """The demo page served from another origin than the API's, configured with the API."""
    with static_site(tmp_path / "site", api=stream_stack.api) as origin:
        yield origin


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


def test_the_demo_page_hosted_on_another_origin_works_through_cors(
    stream_stack: StreamStack, page: Page, elsewhere: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nA short document about streams.\n", encoding="utf-8")
    page.goto(f"{elsewhere}/")
    page.wait_for_selector("body[data-state='ready']")
    assert page.evaluate("location.origin") != stream_stack.base_url
    page.set_input_files("#file", str(notes))
    page.select_option("#job-name", "analyze-document")
    fill_token(page, stream_stack.token("hana"))
    page.click("#start")
    page.wait_for_selector("body[data-state='completed']", timeout=60_000)
    assert page.eval_on_selector("#upload-progress", "e => e.value") == 100
    assert raw_result(page)


def test_a_crafted_link_cannot_send_the_pages_token_to_another_origin(
    stream_stack: StreamStack, page: Page, tmp_path: Path
) -> None:
    # The page once took its API from `?api=`: this link made it send every request, with the
    # bearer token typed into the page, to the link author's server.
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nA short document about links.\n", encoding="utf-8")
    with static_site(tmp_path / "attacker") as attacker:
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url))
        page.goto(f"{stream_stack.base_url}/?api={attacker}/api/v1")
        page.wait_for_selector("body[data-state='ready']")
        page.set_input_files("#file", str(notes))
        page.select_option("#job-name", "analyze-document")
        fill_token(page, stream_stack.token("jules"))
        page.click("#start")
        page.wait_for_selector("body[data-state='completed']", timeout=JOB_WAIT_MS)
    assert [url for url in sent if url.startswith(attacker)] == []
    api_calls = [url for url in sent if url.startswith(stream_stack.api)]
    assert any("/upload/presigned-url" in url for url in api_calls), sent


@contextlib.contextmanager
def host_allowing(stack: StreamStack, workdir: Path, origins: Sequence[str]) -> Iterator[str]:
    """A second Functions host (`python -m devstack.host`) whose CORS allows only `origins`.

    The app root is a directory of its own, so its local.settings.json can set `Host.CORS`
    (the full stack reads the repository's): host.json and main.py link to the real ones,
    the Values are the sample's. It shares `stack`'s Azurite and Service Bus emulator (a
    second instance of the same app, as Azure scales out). Yields its API base URL.
    """
    root = workdir / "app"
    root.mkdir(parents=True)
    for name in ("host.json", "main.py"):
        (root / name).symlink_to(REPO_ROOT / name)
    settings = json.loads((REPO_ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    settings["Host"] = {"CORS": ",".join(origins)}
    (root / "local.settings.json").write_text(json.dumps(settings), encoding="utf-8")
    env = stack_environment(os.environ)
    env.update(STREAM_SETTINGS)
    env.update(
        {
            "AzureWebJobsStorage": stack.stack.storage_connection_string,
            "STORAGE_CONNECTION_STRING": stack.stack.storage_connection_string,
            "ServiceBusConnection": stack.stack.servicebus_connection_string,
            "SERVICEBUS_EMULATOR_ADMIN_URL": stack.stack.servicebus_admin_url,
        }
    )
    port = free_port()
    log_path = workdir / "host.log"
    process = start_python(
        ["-m", "devstack.host", "--root", str(root), "--port", str(port)], env, log_path
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"
        wait_for_http(f"{api}/sse/stats", process, log_path)
        yield api
    finally:
        stop_process(process)


def fetch_outcome(page: Page, url: str, token: str) -> dict[str, Any]:
    """A credentialed API call from the page: {ok, status} or {error} when fetch rejects."""
    outcome: dict[str, Any] = page.evaluate(
        """async ([url, token]) => {
            try {
                const r = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
                return { ok: r.ok, status: r.status };
            } catch (e) {
                return { error: `${e.name}: ${e.message}` };
            }
        }""",
        [url, token],
    )
    return outcome


def test_the_api_refuses_a_page_on_an_origin_its_cors_does_not_allow(
    stream_stack: StreamStack, page: Page, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nA short document about origins.\n", encoding="utf-8")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    with (
        static_site(tmp_path / "allowed") as allowed,
        static_site(tmp_path / "other") as other,
        host_allowing(stream_stack, tmp_path / "host", [allowed]) as api,
    ):
        configure_page(tmp_path / "allowed", api)
        configure_page(tmp_path / "other", api)
        token = stream_stack.token("ines")
        # The allowed origin: the whole flow works (presign, enqueue, the stream).
        page.goto(f"{allowed}/")
        page.wait_for_selector("body[data-state='ready']")
        assert fetch_outcome(page, f"{api}/sse/stats", token) == {"ok": True, "status": 200}
        page.set_input_files("#file", str(notes))
        page.select_option("#job-name", "analyze-document")
        fill_token(page, token)
        page.click("#start")
        page.wait_for_selector("body[data-state='completed']", timeout=JOB_WAIT_MS)
        # (Only CORS messages count here: the page links its icon, so no 404 for /favicon.ico.)
        assert [m for m in console if "CORS" in m] == []

        # Another origin: the browser refuses to hand the page the API's answers, the job list
        # (GET /queues) first, so the page offers no job and nothing can be started.
        page.goto(f"{other}/")
        page.wait_for_selector("body[data-state='error']", timeout=30_000)
        assert page.evaluate("location.origin") == other != allowed
        assert page.is_visible("#error")
        assert page.inner_text("#error") == "Failed to fetch"
        assert page.eval_on_selector("#job-name", "s => s.options.length") == 0
        assert page.is_disabled("#start")
        refused = fetch_outcome(page, f"{api}/sse/stats", token)
        assert refused == {"error": "TypeError: Failed to fetch"}
        assert page.text_content("#job-id") == ""  # nothing was enqueued
        blocked = [m for m in console if "blocked by CORS policy" in m]
        assert blocked, console
        assert all(f"from origin '{other}'" in m for m in blocked), blocked
        assert any(f"{api}/sse/stats" in m for m in blocked), blocked
        assert any(f"{api}/queues" in m for m in blocked), blocked
