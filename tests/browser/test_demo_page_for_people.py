"""The demo page as a person sees it, in headless Debian Chromium at desktop and phone widths.

Real jobs on `anonymous_stack` (`make run`'s AUTH_MODE=none: no token, the settings
disclosure stays closed): a resume runs to the end, and the test asserts what is on the
screen, not only what is in the DOM: the score in view without scrolling at desktop width,
the log scrolled to its last event, a page no wider than the viewport, a timeline whose
steps all say `done`, queue figures gone once the job ended, no console error (no 404 for a
favicon either). A corrupt PDF shows its failure once, with its code and a human message,
and no internal exception or class name anywhere on the page. Screenshots go under the
test's tmp_path (`--basetemp` to choose where); their paths are printed (`-s` to see them).
"""

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Response

from function_app.jobtypes import analyze_resume
from tests.browser.stream_stack import submit_job
from tests.samples.documents import corrupt_pdf, make_pdf, paginate, resume_text
from tests.support.stack import LocalStack

pytestmark = pytest.mark.browser

JOB_WAIT_MS = 90_000
DESKTOP = {"width": 1280, "height": 800}
WIDE = {"width": 1440, "height": 900}
TABLET = {"width": 768, "height": 1024}
# From this width the page has two columns and the result sits at the top of the right one.
TWO_COLUMNS = 960
PHONES = [{"width": 390, "height": 844}, {"width": 360, "height": 740}]
# An exception class (PdfStreamError, KeyError, ...) or a dotted module path.
INTERNAL_NAME = re.compile(
    r"\b(?:[A-Z][a-z0-9]+)+(?:Error|Exception|Warning)\b|\b[a-z_]+\.[a-z_]+\.[A-Za-z_]+\b"
)
# The ETA is learned from 3 completed runs of the job type (docs/job-types.md).
RUNS_BEFORE_AN_ETA = 3
STEP_LABELS = ["Queued", "Starting", *(step.label for step in analyze_resume.STEPS.steps)]


@dataclass
class Watched:
    """What the page did that a person (or its console) would notice."""

    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def watched(page: Page) -> Watched:
    seen = Watched()
    page.on(
        "console",
        lambda m: seen.console_errors.append(m.text) if m.type == "error" else None,
    )

    def answered(response: Response) -> None:
        if response.status >= 400:
            seen.failed.append(f"{response.status} {response.url}")

    page.on("response", answered)
    page.on("request", lambda r: seen.requests.append(r.url))
    return seen


def record_texts(page: Page, ids: list[str]) -> None:
    """Record every text the elements show while the job runs, in `window.__texts[id]`."""
    page.evaluate(
        """(ids) => {
            window.__texts = {};
            for (const id of ids) {
                const node = document.getElementById(id);
                window.__texts[id] = [];
                if (!node) continue;
                new MutationObserver(() => {
                    if (!node.hidden && node.textContent) window.__texts[id].push(node.textContent);
                }).observe(node, { childList: true, characterData: true, subtree: true });
            }
        }""",
        ids,
    )


def run_file(
    page: Page,
    stack: LocalStack,
    path: Path,
    viewport: dict[str, int],
    job_name: str = "analyze-resume",
) -> None:
    page.set_viewport_size(viewport)
    page.goto(f"{stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    record_texts(page, ["queue-stats", "job-eta", "job-elapsed"])
    page.set_input_files("#file", str(path))
    page.select_option("#job-name", job_name)
    page.click("#start")
    page.wait_for_selector(
        "body[data-state='completed'], body[data-state='failed']", timeout=JOB_WAIT_MS
    )


def screenshots(page: Page, tmp_path: Path, name: str) -> list[Path]:
    shots = [tmp_path / f"{name}-viewport.png", tmp_path / f"{name}-full.png"]
    page.screenshot(path=str(shots[0]))
    page.screenshot(path=str(shots[1]), full_page=True)
    scrolled = page.evaluate("[window.scrollX, window.scrollY]")
    for part in ("job-box", "session-box"):  # the lower parts, at full size
        if not page.locator(f"#{part}").count():
            continue
        shots.append(tmp_path / f"{name}-{part}.png")
        page.locator(f"#{part}").screenshot(path=str(shots[-1]))  # (scrolls to it)
    page.evaluate("([x, y]) => window.scrollTo(x, y)", scrolled)  # where the person left it
    for shot in shots:
        print(f"screenshot: {shot}")
    return shots


def layout_width(page: Page) -> dict[str, int]:
    sizes: dict[str, int] = page.evaluate(
        """() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth,
                   body: document.body.scrollWidth })"""
    )
    return sizes


def in_viewport(page: Page, selector: str) -> bool:
    inside: bool = page.eval_on_selector(
        selector,
        """(e) => { const r = e.getBoundingClientRect();
                   return r.width > 0 && r.top >= 0 && r.left >= 0
                     && r.bottom <= window.innerHeight && r.right <= window.innerWidth; }""",
    )
    return inside


def last_event_in_view(page: Page) -> bool:
    """The log's last line lies inside the log's own scrolled box."""
    inside: bool = page.evaluate(
        """() => { const list = document.getElementById('events');
                   const box = list.getBoundingClientRect();
                   const last = list.lastElementChild.getBoundingClientRect();
                   return last.height > 0 && last.top >= box.top - 1
                     && last.bottom <= box.bottom + 1; }"""
    )
    return inside


def timeline(page: Page) -> list[dict[str, str]]:
    steps: list[dict[str, str]] = page.eval_on_selector_all(
        "#timeline li",
        """(items) => items.map((i) => ({ step: i.dataset.step, state: i.dataset.state,
              shown: i.querySelector('.state').textContent,
              time: i.querySelector('.time').textContent }))""",
    )
    return steps


def job_status(stack: LocalStack, job_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.api}/jobs/{job_id}", timeout=30)
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()["data"]
    return job


def assert_clean(watched: Watched) -> None:
    assert watched.console_errors == [], watched.console_errors
    assert watched.failed == [], watched.failed
    # The page links its icon (web/favicon.svg), so Chromium never asks for /favicon.ico.
    assert not [url for url in watched.requests if url.endswith("/favicon.ico")], watched.requests


@pytest.fixture
def resume_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "jane-doe-resume.pdf"
    path.write_bytes(make_pdf(paginate(resume_text().splitlines())))
    return path


@pytest.mark.parametrize(
    "viewport", [DESKTOP, WIDE, TABLET, *PHONES], ids=lambda v: f"{v['width']}px"
)
def test_a_resume_run_to_the_end_shows_its_score_steps_and_last_event(
    anonymous_stack: LocalStack,
    page: Page,
    watched: Watched,
    resume_pdf: Path,
    tmp_path: Path,
    viewport: dict[str, int],
) -> None:
    run_file(page, anonymous_stack, resume_pdf, viewport)
    assert page.get_attribute("body", "data-state") == "completed"
    job = job_status(anonymous_stack, page.text_content("#job-id") or "")
    result = job["result"]

    shots = screenshots(page, tmp_path, f"resume-{viewport['width']}")
    # The page fits the screen: nothing wider than the viewport, at any of the widths.
    sizes = layout_width(page)
    assert sizes["scroll"] == sizes["viewport"] == viewport["width"], sizes
    # The score, as the API computed it, in words and figures.
    assert page.inner_text("#result-score .score-value") == str(result["score"])
    assert f"/ {result['maxScore']}" in page.inner_text("#result-score")
    if viewport["width"] >= TWO_COLUMNS:
        assert page.evaluate("window.scrollY") == 0
        assert in_viewport(page, "#result-score"), "the score is not in view without scrolling"
        assert in_viewport(page, "#result-criteria caption")
    else:
        page.locator("#result-score").scroll_into_view_if_needed()
        assert in_viewport(page, "#result-score")
    # One row per criterion, with its points and its reason.
    rows = page.eval_on_selector_all(
        "#result-criteria tbody tr",
        "rows => rows.map((r) => [r.dataset.criterion, ...[...r.cells].map((c) => c.textContent)])",
    )
    assert [row[0] for row in rows] == [r["criterion"] for r in result["reasons"]]
    for row, reason in zip(rows, result["reasons"], strict=True):
        assert row[2] == f"{reason['points']:,} / {reason['maxPoints']:,}"
        assert row[3] == reason["reason"]
    found = page.eval_on_selector_all(
        "#result-sections .found li", "ls => ls.map(l => l.textContent)"
    )
    assert found == result["sections"]["found"]
    skills = page.eval_on_selector_all("#result-skills li", "ls => ls.map(l => l.textContent)")
    assert skills == result["skills"]
    # The raw JSON stays reachable, behind its disclosure.
    assert page.is_hidden("#result-json")
    page.click("#result-box details.raw summary")
    assert page.is_visible("#result-json")

    # Every step done, each with a time; nothing left running or waiting.
    steps = timeline(page)
    assert [s["step"] for s in steps] == STEP_LABELS, steps
    assert {s["state"] for s in steps} == {"done"}, steps
    assert all(s["shown"] == "done" and s["time"].endswith(" s") for s in steps), steps
    assert page.inner_text("#job-elapsed").startswith("Elapsed ")
    # The log followed the job: its last line is the completed event, and it is in view.
    sequences = page.eval_on_selector_all(
        "#events li", "ls => ls.map(l => Number(l.dataset.sequence))"
    )
    assert sequences == list(range(1, job["lastEventId"] + 1))
    assert page.get_attribute("#events li:last-child", "data-status") == "completed"
    page.locator("#events").scroll_into_view_if_needed()
    assert last_event_in_view(page), "the log does not show its last event"
    # Queue figures are for a job that waits or runs: gone once it ended.
    assert page.is_hidden("#queue-stats")
    assert page.is_hidden("#error")
    # What a screen reader was told at the end.
    assert (
        page.text_content("#live")
        == f"Job completed: score {result['score']} of {result['maxScore']}."
    )
    assert_clean(watched)
    texts = page.evaluate("window.__texts")
    print(
        f"{viewport['width']} px: {sizes}; shown while running: "
        f"queue {texts['queue-stats'][-1:]}, eta {texts['job-eta'][-1:]}; {shots}"
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONES[0]], ids=lambda v: f"{v['width']}px")
def test_a_corrupt_pdf_shows_its_failure_once_with_code_and_no_exception_name(
    anonymous_stack: LocalStack,
    page: Page,
    watched: Watched,
    tmp_path: Path,
    viewport: dict[str, int],
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(corrupt_pdf())
    run_file(page, anonymous_stack, broken, viewport)
    assert page.get_attribute("body", "data-state") == "failed"
    job = job_status(anonymous_stack, page.text_content("#job-id") or "")
    assert job["error"]["code"] == "corrupt_file"
    shots = screenshots(page, tmp_path, f"corrupt-{viewport['width']}")

    shown = page.inner_text("#error")
    assert page.is_visible("#error")
    assert in_viewport(page, "#error")
    codes = page.eval_on_selector_all("#error code", "cs => cs.map(c => c.textContent)")
    assert codes == ["corrupt_file"]
    assert shown.startswith("Job failed: The file could not be read: "), shown
    # Once: the message is nowhere else on the page (not in the job's line, not in the log).
    body = page.inner_text("body")
    human = shown.removeprefix("Job failed: ").removesuffix(" (corrupt_file)")
    assert body.count(human) == 1, body
    assert page.text_content("#job-message") == ""
    # No exception, class or module name, even in collapsed parts of the page.
    everything = page.evaluate("document.body.textContent")
    assert not INTERNAL_NAME.search(everything), INTERNAL_NAME.search(everything)
    if INTERNAL_NAME.search(job["error"]["message"]):
        assert job["error"]["message"] not in everything
    # The step that failed says so; the ones after it never ran.
    steps = {s["step"]: s for s in timeline(page)}
    failed = [name for name, s in steps.items() if s["state"] == "failed"]
    assert len(failed) == 1, steps
    after = STEP_LABELS[STEP_LABELS.index(failed[0]) + 1 :]
    assert all(steps[name]["shown"] == "not run" for name in after), steps
    assert page.get_attribute("#events li:last-child", "data-status") == "failed"
    assert page.is_hidden("#result-box")
    assert page.is_hidden("#queue-stats")
    sizes = layout_width(page)
    assert sizes["scroll"] == sizes["viewport"] == viewport["width"], sizes
    assert_clean(watched)
    print(
        f"corrupt PDF at {viewport['width']} px: {shown!r}; the API said "
        f"{job['error']['message']!r}; {shots}"
    )


def test_the_api_and_token_sit_behind_settings_and_every_field_has_a_label(
    anonymous_stack: LocalStack, page: Page, watched: Watched
) -> None:
    page.set_viewport_size(PHONES[1])
    page.goto(f"{anonymous_stack.base_url}/")
    page.wait_for_selector("body[data-state='ready']")
    assert page.is_hidden("#api-base")
    assert page.is_hidden("#token")
    # Keyboard: Tab reaches the disclosure, Enter opens it.
    page.focus("#job-name")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.parentElement.id") == "settings"
    page.keyboard.press("Enter")
    assert page.is_visible("#api-base")
    assert page.is_visible("#token")
    unlabelled = page.eval_on_selector_all(
        "input, select", "fs => fs.filter((f) => f.labels.length === 0).map((f) => f.id)"
    )
    assert unlabelled == []
    assert page.get_attribute("#live", "aria-live") == "polite"
    assert page.get_attribute("#error", "role") == "alert"
    sizes = layout_width(page)
    assert sizes["scroll"] == sizes["viewport"] == PHONES[1]["width"], sizes
    assert_clean(watched)


def test_the_host_serves_the_favicon_the_page_links(
    anonymous_stack: LocalStack, page: Page
) -> None:
    page.goto(f"{anonymous_stack.base_url}/")
    href = page.get_attribute("link[rel='icon']", "href")
    assert href == "/web/favicon.svg"
    answer = httpx.get(f"{anonymous_stack.base_url}{href}", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.text.startswith("<svg")


def wait_completed(stack: LocalStack, job_id: str) -> None:
    for _ in range(600):
        if job_status(stack, job_id)["status"] == "completed":
            return
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not complete")


def test_once_past_runs_taught_one_the_page_shows_the_eta_while_the_job_runs(
    anonymous_stack: LocalStack, page: Page, watched: Watched, resume_pdf: Path, tmp_path: Path
) -> None:
    data = resume_pdf.read_bytes()
    for i in range(RUNS_BEFORE_AN_ETA):
        job = submit_job(anonymous_stack.api, f"eta-{i}.pdf", "application/pdf", data)
        wait_completed(anonymous_stack, job["jobId"])

    run_file(page, anonymous_stack, resume_pdf, DESKTOP)
    assert page.get_attribute("body", "data-state") == "completed"
    shown: list[str] = page.evaluate("window.__texts['job-eta']")
    assert shown, "no ETA was shown while the job ran"
    assert all(re.fullmatch(r"About \d.* left|Almost done", text) for text in shown), shown
    assert page.text_content("#job-eta") == ""  # the job ended: nothing is left
    assert_clean(watched)
    print(f"ETA texts while running: {shown}")


def facts(page: Page, selector: str) -> dict[str, str]:
    pairs: dict[str, str] = page.eval_on_selector(
        selector,
        """(list) => Object.fromEntries([...list.querySelectorAll('dt')].map(
              (dt) => [dt.textContent, dt.nextElementSibling.textContent]))""",
    )
    return pairs


def test_a_document_shows_its_type_pages_statistics_and_digest(
    anonymous_stack: LocalStack, page: Page, watched: Watched, tmp_path: Path
) -> None:
    report = tmp_path / "quarterly-report.pdf"
    lines = [f"Line {i}: the quarter went well and the streams stayed open." for i in range(90)]
    report.write_bytes(make_pdf(paginate(lines)))
    run_file(page, anonymous_stack, report, PHONES[0], job_name="analyze-document")
    assert page.get_attribute("body", "data-state") == "completed"
    result = job_status(anonymous_stack, page.text_content("#job-id") or "")["result"]
    shots = screenshots(page, tmp_path, "document-390")

    shown = facts(page, "#result-facts")
    assert shown["Type"] == f"pdf ({result['mimeType']})"
    assert shown["Pages"] == str(result["pageCount"])
    assert shown["SHA-256"] == result["sha256"]
    assert shown["Size"].endswith(f"({result['sizeBytes']:,} bytes)")
    stats = facts(page, "#result-text")
    assert stats["Words"] == f"{result['textStats']['words']:,}"
    assert stats["Lines"] == f"{result['textStats']['lines']:,}"
    top = result["textStats"]["topWords"]
    assert stats["Top words"] == "".join(f"{w['word']} \u00d7{w['count']}" for w in top)
    sizes = layout_width(page)
    assert sizes["scroll"] == sizes["viewport"] == PHONES[0]["width"], sizes
    assert_clean(watched)
    print(f"document at 390 px: {shown}; {shots}")


TIMELINE_RUN = """async (updates) => {
    const { Timeline } = await import('/web/timeline.js');
    const list = document.createElement('ol');
    document.body.append(list);
    const timeline = new Timeline(list, 'analyze-resume');
    const entered = updates.map((u) => timeline.update(u));
    const steps = [...list.children].map((i) => [i.dataset.step, i.dataset.state,
        i.querySelector('.time').textContent]);
    list.remove();
    return { entered, steps };
}"""


def update(sequence: int, status: str, step: str | None, at: float) -> dict[str, Any]:
    stamp = f"2026-12-07T10:00:{at:06.3f}Z"
    return {
        "sequence": sequence,
        "status": status,
        "stage": "x",
        "currentStep": step,
        "timestamp": stamp,
        "progress": 0,
    }


def test_the_timeline_takes_step_times_from_the_events_and_starts_over_on_a_retry(
    anonymous_stack: LocalStack, page: Page
) -> None:
    page.goto(f"{anonymous_stack.base_url}/")
    updates = [
        {**update(1, "queued", None, 0), "stage": "queued"},
        update(2, "started", "Starting", 1.5),
        update(3, "in_progress", "Reading the file", 2),
        update(4, "in_progress", "Reading the resume", 2.25),
        update(5, "retrying", "Starting", 4.25),  # a transient failure: the attempt starts over
        update(6, "started", "Starting", 6),
        update(7, "in_progress", "Reading the file", 6.5),
        update(8, "in_progress", "A step of a newer worker", 7),
        update(9, "completed", None, 9),
    ]
    seen = page.evaluate(TIMELINE_RUN, updates)
    assert seen["entered"] == [
        "Queued",
        "Starting",
        "Reading the file",
        "Reading the resume",
        "Starting",
        None,
        "Reading the file",
        "A step of a newer worker",
        None,
    ]
    assert seen["steps"] == [
        ["Queued", "done", "1.5 s"],
        ["Starting", "done", "2.3 s"],  # from the retry (4.25 s) to the next step (6.5 s)
        ["Reading the file", "done", "0.5 s"],
        ["Reading the resume", "skipped", ""],  # reset by the retry, never reached again
        ["Analysing the resume", "skipped", ""],
        ["Preparing the result", "skipped", ""],
        ["A step of a newer worker", "done", "2.0 s"],
    ]
