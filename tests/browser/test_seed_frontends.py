"""Seed 001's frontend guide, run in Chromium as written, against real jobs on the local stack.

Every snippet is read from ../shared/seeds/001_*.txt at test time and runs unchanged:
- "Complete Workflow" steps 1-3 in one module script (their top-level awaits need one), with
  `file` a File the test put in an <input type=file>, `updateUI` and `showSuccess` page
  globals that record what they got;
- "Quick Start" in a classic script with a global `jobId`, its console lines captured;
- "React - Complete Example" and "Vue - Simple Job Monitor", built as written with esbuild
  (and Vue's SFC compiler) from the pinned packages of tests/browser/frontends into a temp
  dir, mounted by a small entry of ours (frontends/mount-react.jsx, mount-vue.js).
The pages are on the API's own origin, as the snippets' relative URLs need: the test opens
`/seed-frontends/<page>` on the host (its 404) and replaces the document with its own
(`Browser.open`); nothing is intercepted, every request goes to the real stack untouched.
The stack is `make run`'s (AUTH_MODE=none): seed 001 sends no token. Every wait has a
deadline, so a snippet that never sees its job end fails instead of hanging.
"""

import asyncio
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, FilePayload, Page
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.stream_stack import SeededJobs, started, submit_job
from tests.samples.documents import make_docx, make_pdf, paginate, resume_text
from tests.support.stack import LocalStack

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS = REPO_ROOT.parent / "shared" / "seeds"
FRONTENDS = Path(__file__).resolve().parent / "frontends"
SITE = "/seed-frontends"
JOB_WAIT_MS = 90_000
BUILD_TIMEOUT_SECONDS = 120

# Where each snippet is in the seed: (the heading it follows, its fence's language).
QUICK_START = ("## Quick Start", "javascript")
REACT = ("### React - Complete Example", "jsx")
VUE = ("### Vue - Simple Job Monitor", "vue")
WORKFLOW = "## Complete Workflow"
WORKFLOW_STEPS = (
    ("### 1. Upload Resume", "javascript"),
    ("### 2. Add to Queue", "javascript"),
    ("### 3. Monitor Progress", "javascript"),
)

# Collects the page's uncaught errors and rejections, so a wait ends as soon as one happens.
CATCH_ERRORS = """
window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push(String(e.message || e.error)));
window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
"""


def seed_001() -> str:
    files = sorted(SEEDS.glob("001_*.txt"))
    assert files, f"seed 001 not found under {SEEDS}"
    return files[0].read_text(encoding="utf-8")


def seed_block(heading: str, language: str, text: str | None = None) -> str:
    """The first ```language block after the line `heading` (which must appear once)."""
    text = seed_001() if text is None else text
    starts = [m.end() for m in re.finditer(rf"^{re.escape(heading)}$", text, re.MULTILINE)]
    assert len(starts) == 1, f"{heading!r} found {len(starts)} times in seed 001"
    block = re.search(rf"^```{re.escape(language)}\n(.*?)^```", text[starts[0] :], re.S | re.M)
    assert block is not None, f"no ```{language} block after {heading!r}"
    return block.group(1)


def workflow_steps() -> list[str]:
    """Steps 1-3 of "Complete Workflow", each as written."""
    text = seed_001()
    section = text[text.index(f"\n{WORKFLOW}\n") :]
    return [seed_block(heading, language, section) for heading, language in WORKFLOW_STEPS]


@dataclass
class Browser:
    page: Page
    origin: str
    console: list[str]
    requests: list[dict[str, Any]]

    def open(self, path: str, body: str) -> None:
        """Show `body` in a page at `origin + SITE + path` (the API's origin, no interception).

        The host answers the URL with its 404; the test's document then replaces it
        (Playwright's set_content), keeping the origin and the URL's query string. Nothing is
        routed: with Playwright's request interception on, Chromium fails a fetch whose body
        is a File from an <input> (net::ERR_FAILED), which is just what step 1 sends.
        """
        self.page.goto(f"{self.origin}{SITE}/{path}")
        self.page.set_content(
            f'<!doctype html>\n<html><head><meta charset="utf-8">'
            f"<script>{CATCH_ERRORS}</script></head><body>{body}</body></html>"
        )

    def wait_for(self, condition: str, what: str, timeout_ms: int = JOB_WAIT_MS) -> None:
        """Wait for the JS `condition`, failing at once on a page error and at the deadline."""
        try:
            self.page.wait_for_function(
                f"() => window.__errors.length > 0 || Boolean({condition})", timeout=timeout_ms
            )
        except PlaywrightTimeoutError:
            pytest.fail(
                f"{what}: not within {timeout_ms / 1000:g} s; the page shows "
                f"{self.page.inner_text('body')!r}; console {self.console[-10:]}"
            )
        errors = self.page.evaluate("window.__errors")
        assert errors == [], f"{what}: page errors {errors}; requests:\n{self.exchanges()}"

    def exchanges(self) -> str:
        """One line per API or Azurite request seen: method, path, status, the answer's start."""
        lines = []
        for r in self.requests:
            path = r["url"].split("?")[0].split("/", 3)[-1]
            outcome = r.get("failure") or f"{r.get('status')} {(r.get('answer') or '')[:300]}"
            lines.append(f"  {r['method']} /{path} -> {outcome}")
        return "\n".join(lines)


@pytest.fixture
def browser(chromium_context: BrowserContext, anonymous_stack: LocalStack) -> Iterator[Browser]:
    page = chromium_context.new_page()
    console: list[str] = []
    requests: list[dict[str, Any]] = []
    page_errors: list[str] = []

    def seen(response: Any) -> None:
        if "/api/v1/" not in response.url and "devstoreaccount1" not in response.url:
            return
        request = response.request
        entry = {
            "method": request.method,
            "url": request.url,
            "headers": request.all_headers(),
            "body": request.post_data if request.method != "PUT" else None,
            "status": response.status,
        }
        if "text/event-stream" not in (response.headers.get("content-type") or ""):
            try:
                entry["answer"] = response.text()
            except PlaywrightError:
                entry["answer"] = None
        requests.append(entry)

    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("response", seen)
    page.on(
        "requestfailed",
        lambda request: requests.append(
            {"method": request.method, "url": request.url, "failure": request.failure}
        ),
    )
    try:
        yield Browser(page, anonymous_stack.base_url, console, requests)
    finally:
        page.close()
    assert page_errors == [], page_errors


def run_async(factory: Callable[[], Coroutine[Any, Any, str]]) -> str:
    """Run a coroutine on a loop of its own thread (Playwright's sync API owns this one's)."""
    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(factory())))
    thread.start()
    thread.join(timeout=60)
    assert results, "the coroutine did not finish"
    return results[0]


def job_status(stack: LocalStack, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.api}/jobs/{job_id}", timeout=30)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


def resume_pdf() -> bytes:
    return make_pdf(paginate(resume_text().splitlines()))


def resume_docx() -> bytes:
    return make_docx(resume_text().splitlines())


def submitted_resume(stack: LocalStack) -> str:
    """A real `analyze-resume` job for a PDF (presign, PUT, enqueue by blobName): its id."""
    job = submit_job(stack.api, "erin.pdf", "application/pdf", resume_pdf())
    job_id: str = job["jobId"]
    return job_id


# --- Complete Workflow ------------------------------------------------------------------

WORKFLOW_PAGE = """
<input type="file" id="file">
<script>
  window.__ui = [];
  window.__successes = 0;
  function updateUI(progress, message) { window.__ui.push({ progress, message }); }
  function showSuccess() { window.__successes += 1; }
</script>
"""


# The file as a browser without a type for it presents it (a .docx on a desktop with no
# MIME mapping for it): the same bytes and name, File.type "".
WITHOUT_TYPE = """() => {
    const input = document.getElementById('file');
    const picked = input.files[0];
    const transfer = new DataTransfer();
    transfer.items.add(new File([picked], picked.name, { lastModified: picked.lastModified }));
    input.files = transfer.files;
}"""


@pytest.mark.parametrize(
    ("name", "mime_type", "make"),
    [
        pytest.param("erin.pdf", "application/pdf", resume_pdf, id="pdf-typed"),
        # The seed's PUT then sends no Content-Type at all.
        pytest.param("erin.docx", "", resume_docx, id="docx-untyped"),
    ],
)
def test_seed_001_complete_workflow_runs_unchanged_to_a_completed_job(
    browser: Browser, anonymous_stack: LocalStack, name: str, mime_type: str, make: Any
) -> None:
    steps = workflow_steps()
    browser.open("workflow.html", WORKFLOW_PAGE)
    payload: FilePayload = {"name": name, "mimeType": mime_type, "buffer": make()}
    browser.page.set_input_files("#file", files=[payload])
    if not mime_type:
        browser.page.evaluate(WITHOUT_TYPE)
    picked = browser.page.evaluate(
        "(({ name, type, size }) => ({ name, type, size }))"
        "(document.getElementById('file').files[0])"
    )
    assert picked == {"name": name, "type": mime_type, "size": len(payload["buffer"])}
    browser.page.evaluate("window.file = document.getElementById('file').files[0]")

    browser.page.add_script_tag(content="\n".join(steps), type="module")
    browser.wait_for("window.__successes > 0", "showSuccess() after 'completed'")

    answered = [r for r in browser.requests if "status" in r]  # not a failure (a closed stream)
    by_route = {r["url"].split("?")[0].rsplit("/api/v1", 1)[-1]: r for r in answered}
    presign = by_route["/upload/presigned-url"]
    assert json.loads(presign["body"]) == {"fileName": name}
    assert presign["status"] == 201, presign
    upload = json.loads(presign["answer"])["data"]
    put = next(r for r in answered if r["method"] == "PUT")
    assert put["url"] == upload["uploadUrl"]
    assert put["status"] == 201, put
    assert put["headers"]["x-ms-blob-type"] == "BlockBlob"
    if mime_type:
        assert put["headers"]["content-type"] == mime_type
    else:
        assert "content-type" not in put["headers"], put["headers"]
    enqueue = by_route["/queue/add"]
    assert json.loads(enqueue["body"])["data"] == {
        "resumeId": "resume-123",
        "fileName": upload["fileName"],
    }
    assert enqueue["status"] == 202, enqueue
    job_id = json.loads(enqueue["answer"])["data"]["jobId"]
    assert by_route[f"/sse/job/{job_id}"]["status"] == 200

    assert browser.page.evaluate("window.__successes") == 1
    ui: list[dict[str, Any]] = browser.page.evaluate("window.__ui")
    progresses = [u["progress"] for u in ui]
    assert progresses == sorted(progresses), ui
    assert progresses[-1] == 100, ui
    job = job_status(anonymous_stack, job_id)
    assert job["status"] == "completed"
    assert isinstance(job["result"], dict)
    assert job["result"]
    assert ui[-1]["message"] == job["message"]
    # The enqueue found this very upload by its fileName, and kept the seed's extra field.
    assert job["blobName"] == upload["blobName"]
    assert job["data"] == {"resumeId": "resume-123", "fileName": upload["fileName"]}
    assert job["result"]["format"] == name.rsplit(".", 1)[-1]
    score = job["result"]["score"]
    print(f"complete workflow ({name}): updateUI {ui}; score {score}; data {job['data']}")


# --- Quick Start ------------------------------------------------------------------------


def test_seed_001_quick_start_logs_progress_to_100_percent(
    browser: Browser, anonymous_stack: LocalStack
) -> None:
    job_id = submitted_resume(anonymous_stack)
    browser.open("quick-start.html", "")
    browser.page.evaluate("(id) => { window.jobId = id; }", job_id)

    def done(message: ConsoleMessage) -> bool:
        return message.text.startswith("100%: ")

    try:
        with browser.page.expect_console_message(done, timeout=JOB_WAIT_MS):
            browser.page.add_script_tag(content=seed_block(*QUICK_START))
    except PlaywrightTimeoutError:
        pytest.fail(f"Quick Start never logged 100%: console {browser.console}")

    streams = [r["url"] for r in browser.requests if "/sse/job/" in r["url"]]
    assert streams[0] == f"{anonymous_stack.api}/sse/job/{job_id}?queueName=resume-analysis"
    lines = [m for m in browser.console if re.match(r"^\d+%: ", m)]
    percents = [int(m.split("%", 1)[0]) for m in lines]
    assert percents == sorted(percents), lines
    assert percents[0] == 0
    assert percents[-1] == 100
    job = job_status(anonymous_stack, job_id)
    assert job["status"] == "completed"
    assert lines[-1] == f"100%: {job['message']}"
    print(f"quick start console: {lines}")


# --- React and Vue, built as written ----------------------------------------------------


@dataclass(frozen=True)
class Bundles:
    react: bytes
    vue: bytes


def build(kind: str, component: str, suffix: str, workdir: Path) -> bytes:
    workdir.mkdir()
    source = workdir / f"seed-component{suffix}"
    source.write_text(component, encoding="utf-8")
    out = workdir / "out"
    out.mkdir()
    done = subprocess.run(
        ["node", str(FRONTENDS / "build.mjs"), kind, str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{kind} build failed:\n{done.stdout}\n{done.stderr}"
    return (out / "bundle.js").read_bytes()


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    if shutil.which("node") is None:
        pytest.fail("node missing: the seed components are built with esbuild under node")
    if not (FRONTENDS / "node_modules" / ".installed").exists():
        pytest.fail("tests/browser/frontends/node_modules missing: run `make setup-test`")
    workdir = tmp_path_factory.mktemp("seed-frontends")
    return Bundles(
        react=build("react", seed_block(*REACT), ".jsx", workdir / "react"),
        vue=build("vue", seed_block(*VUE), ".vue", workdir / "vue"),
    )


def mount(browser: Browser, name: str, bundle: bytes, root: str, watch: str, query: str) -> None:
    """A page with `root` and the bundle; `window.__seen` records `watch`'s text as it changes."""
    body = f"""
<div id="{root}"></div>
<script>
  window.__seen = [];
  new MutationObserver(() => {{
    const text = document.querySelector({json.dumps(watch)})?.textContent.trim();
    if (text !== undefined && text !== window.__seen.at(-1)) window.__seen.push(text);
  }}).observe(document.getElementById({json.dumps(root)}),
              {{ subtree: true, childList: true, characterData: true }});
</script>
"""
    browser.open(f"{name}.html?{query}", body)
    browser.page.add_script_tag(content=bundle.decode("utf-8"))


def react_shows_completion(
    browser: Browser, bundle: bytes, job_id: str, timeout_ms: int = JOB_WAIT_MS
) -> None:
    mount(browser, "react", bundle, "root", ".progress-fill", f"jobId={job_id}")
    browser.wait_for(
        "document.querySelector('.results h3')?.textContent === 'Analysis Complete!'",
        "React: 'Analysis Complete!'",
        timeout_ms,
    )


def vue_shows_completion(
    browser: Browser, bundle: bytes, job_id: str, timeout_ms: int = JOB_WAIT_MS
) -> None:
    mount(browser, "vue", bundle, "app", ".fill", f"jobId={job_id}&jobName=analyze-resume")
    browser.wait_for(
        "document.querySelector('.fill')?.textContent.trim() === '100%'",
        "Vue: bar at 100%",
        timeout_ms,
    )


def test_seed_001_react_component_shows_a_real_job_to_completion(
    browser: Browser, anonymous_stack: LocalStack, bundles: Bundles
) -> None:
    job_id = submitted_resume(anonymous_stack)
    react_shows_completion(browser, bundles.react, job_id)

    job = job_status(anonymous_stack, job_id)
    assert job["status"] == "completed"
    page = browser.page
    assert page.inner_text(".results p") == f"Score: {job['result']['score']}/100"
    assert page.inner_text(".status") == "completed"
    assert page.inner_text(".message") == job["message"]
    assert page.inner_text(".progress-fill") == "100%"
    assert page.eval_on_selector(".progress-fill", "e => e.style.width") == "100%"
    assert "✅ Connected to job monitoring" in browser.console
    seen: list[str] = page.evaluate("window.__seen")
    percents = [int(s.rstrip("%")) for s in seen]
    assert percents == sorted(percents), seen
    assert percents[-1] == 100
    print(f"react: bar {seen}; {page.inner_text('.resume-analysis')!r}")


def test_seed_001_vue_component_shows_a_real_job_to_completion(
    browser: Browser, anonymous_stack: LocalStack, bundles: Bundles
) -> None:
    job_id = submitted_resume(anonymous_stack)
    vue_shows_completion(browser, bundles.vue, job_id)
    job = job_status(anonymous_stack, job_id)
    assert job["status"] == "completed"
    page = browser.page
    assert page.inner_text(".job-monitor h3") == "analyze-resume"
    assert page.eval_on_selector(".fill", "e => e.style.width") == "100%"
    assert page.inner_text(".message") == job["message"]
    seen: list[str] = page.evaluate("window.__seen")
    percents = [int(s.rstrip("%")) for s in seen]
    assert percents == sorted(percents), seen
    assert percents[-1] == 100
    print(f"vue: bar {seen}; {page.inner_text('.job-monitor')!r}")


@pytest.mark.parametrize("kind", ["react", "vue"])
def test_a_seed_component_whose_job_never_ends_fails_at_its_deadline(
    browser: Browser, anonymous_stack: LocalStack, bundles: Bundles, kind: str
) -> None:
    """The same waits, on a job that stays started, end in a failure at their deadline."""
    jobs = SeededJobs(anonymous_stack.table_endpoint)

    async def stuck() -> str:
        job_id = await jobs.create("anonymous")
        await jobs.record(job_id, started())
        return job_id

    job_id = run_async(stuck)
    shows_completion = react_shows_completion if kind == "react" else vue_shows_completion
    bundle = bundles.react if kind == "react" else bundles.vue
    with pytest.raises(pytest.fail.Exception, match="not within 3 s"):
        shows_completion(browser, bundle, job_id, timeout_ms=3_000)
    page = browser.page
    if kind == "react":
        assert page.inner_text(".status") == "started"
        assert page.is_hidden(".results")
    else:
        assert page.inner_text(".message") == started().message
    assert page.evaluate("window.__seen") == ["0%"]
