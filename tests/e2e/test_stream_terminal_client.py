"""`python -m jobstream_client` against the local stack: upload, start, follow, exit status;
`follow-all`: every job of the caller from the feed, one line per event, until a limit."""

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from function_app.topology import topology
from jobstream_client.sse import SseParser
from tests.browser.stream_stack import StreamStack, submit_job
from tests.samples.documents import corrupt_pdf, make_pdf, paginate, resume_text
from tests.support.stack import REPO_ROOT

pytestmark = pytest.mark.e2e

TERMINAL = {"completed", "failed", "cancelled"}


def run_client(
    stack: StreamStack, path: Path, owner: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobstream_client", str(path), "--api", stack.api,
         "--token", stack.token(owner), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


def test_the_terminal_client_uploads_follows_and_prints_the_result(
    stream_stack: StreamStack, tmp_path: Path
) -> None:
    resume = tmp_path / "resume.pdf"
    resume.write_bytes(make_pdf(paginate(resume_text().splitlines())))
    done = run_client(stream_stack, resume, "gina", "--job", "analyze-resume", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    assert result["jobType"] == "analyze-resume"
    # It declared the file's SHA-256, and the worker verified it.
    assert result["sha256"] == hashlib.sha256(resume.read_bytes()).hexdigest()
    assert result["sha256Verified"] is True
    assert "upload" in done.stderr
    assert "100.0%" in done.stderr
    assert "completed" in done.stderr

    # Without --json: a few lines a person reads, the score first, no JSON.
    summary = run_client(stream_stack, resume, "gina", "--job", "analyze-resume")
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    assert lines[0].startswith(f"Score {result['score']}/100 for resume.pdf (pdf, ")
    assert lines[0].endswith(" KB)") or lines[0].endswith(" bytes)")
    assert any(line.startswith("Skills: ") for line in lines)
    assert 3 <= len(lines) <= 10
    assert "{" not in summary.stdout
    assert "\\u" not in summary.stdout


def test_the_terminal_client_exits_non_zero_when_the_job_fails(
    stream_stack: StreamStack, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(corrupt_pdf())
    done = run_client(stream_stack, broken, "gina", "--job", "analyze-resume")
    assert done.returncode == 1, done.stderr
    assert "job failed (corrupt_file): " in done.stderr


def test_the_terminal_client_reports_a_refused_request(
    stream_stack: StreamStack, tmp_path: Path
) -> None:
    resume = tmp_path / "resume.txt"
    resume.write_text(resume_text(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "jobstream_client", str(resume), "--api", stream_stack.api],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "HTTP 401" in done.stderr


def test_the_terminal_client_takes_job_names_and_queues_from_the_api(
    stream_stack: StreamStack, tmp_path: Path
) -> None:
    """Without --job it runs the first job name GET /queues lists, on that job's queue; a job
    name the API does not list is refused before anything is uploaded."""
    notes = tmp_path / "notes.txt"
    notes.write_text(resume_text(), encoding="utf-8")
    first = topology().queues[0]
    done = run_client(stream_stack, notes, "gina")
    assert done.returncode == 0, done.stderr
    assert f"queued on {first.name}" in done.stderr
    refused = run_client(stream_stack, notes, "gina", "--job", "no-such-job")
    assert refused.returncode == 2, refused.stderr
    listed = ", ".join(job for queue in topology().queues for job in queue.job_names)
    assert f"the API runs no job 'no-such-job' (it runs: {listed})" in refused.stderr
    assert "upload" not in refused.stderr


# --- follow-all: every job of the caller on one stream ---------------------------------

FOLLOW_TIMEOUT_SECONDS = 120


def follow_all_command(stack: StreamStack, owner: str | None, *extra: str) -> list[str]:
    token = ["--token", stack.token(owner)] if owner else []
    return [sys.executable, "-m", "jobstream_client", "follow-all", "--api", stack.api, *token,
            *extra]  # fmt: skip


def own_updates(stack: StreamStack, owner: str, job_id: str) -> list[dict[str, Any]]:
    """Every job_update of a finished job, replayed from its own stream."""
    parser = SseParser()
    updates: list[dict[str, Any]] = []
    with httpx.stream(
        "GET", f"{stack.api}/jobs/{job_id}/stream", headers=stack.headers(owner), timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        for event in parser.events(response.iter_lines()):
            if event.event == "job_update":
                updates.append(json.loads(event.data))
                if updates[-1]["status"] in TERMINAL:
                    break
    return updates


def wait_terminal(stack: StreamStack, owner: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + FOLLOW_TIMEOUT_SECONDS
    while True:
        answer = httpx.get(f"{stack.api}/jobs/{job_id}", headers=stack.headers(owner), timeout=30)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()["data"]
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not end: {job['status']}"
        time.sleep(0.25)


def submit_text(stack: StreamStack, owner: str, name: str) -> str:
    job = submit_job(stack.api, name, "text/plain", resume_text().encode(), stack.headers(owner))
    job_id: str = job["jobId"]
    return job_id


def test_follow_all_prints_every_event_of_every_job_from_since(stream_stack: StreamStack) -> None:
    owner = f"fran-{uuid.uuid4().hex[:8]}"
    ids = [submit_text(stream_stack, owner, f"past-{n}.txt") for n in range(3)]
    for job_id in ids:
        assert wait_terminal(stream_stack, owner, job_id)["status"] == "completed"
    done = subprocess.run(
        follow_all_command(stream_stack, owner, "--since", "1", "--until-idle", "3", "--json"),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=FOLLOW_TIMEOUT_SECONDS,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert {e["jobId"] for e in events} == set(ids), "another caller's job, or one missing"
    for job_id in ids:
        mine = [e for e in events if e["jobId"] == job_id]
        updates = own_updates(stream_stack, owner, job_id)
        assert [e["sequence"] for e in mine] == [u["sequence"] for u in updates]
        assert [e["message"] for e in mine] == [u["message"] for u in updates]
        assert mine[-1]["type"] == "completed"
    epochs = [e["epochMs"] for e in events]
    assert epochs == sorted(epochs)
    assert f"{len(events)} job events of 3 jobs" in done.stderr


def test_follow_all_follows_jobs_started_after_it_live_until_idle(
    stream_stack: StreamStack, tmp_path: Path
) -> None:
    """Live: a completed and a failed job, one line per event, across the 5 s stream cuts."""
    owner = f"gus-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        follow_all_command(stream_stack, owner, "--until-idle", "6"),
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.extend(process.stdout or []), daemon=True),
        threading.Thread(target=lambda: err.extend(process.stderr or []), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any(line.startswith("connected to ") for line in err):
            assert process.poll() is None, f"follow-all exited: {err}"
            assert time.monotonic() < deadline, f"follow-all never connected: {err}"
            time.sleep(0.1)
        good = submit_text(stream_stack, owner, "live.txt")
        broken = submit_job(
            stream_stack.api, "broken.pdf", "application/pdf", corrupt_pdf(),
            stream_stack.headers(owner),
        )["jobId"]  # fmt: skip
        assert process.wait(timeout=FOLLOW_TIMEOUT_SECONDS) == 0, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    for reader in readers:
        reader.join(timeout=10)
    lines = [line.rstrip("\n") for line in out]
    for job_id, last in ((good, "completed"), (broken, "failed")):
        mine = [line for line in lines if f" {job_id} " in line]
        assert len(mine) == len(own_updates(stream_stack, owner, job_id)), mine
        assert f" {job_id} analyze-resume queued " in mine[0]
        assert f" {job_id} analyze-resume {last} " in mine[-1]
    failure = wait_terminal(stream_stack, owner, broken)["error"]
    assert [line for line in lines if f" {broken} " in line][-1].endswith(
        f"· error: {failure['message']} ({failure['code']})"
    )
    assert all(f" {good} " in line or f" {broken} " in line for line in lines), lines
    connects = [line for line in err if line.startswith("connected to ")]
    assert len(connects) >= 2, err  # the server cut the feed at 5 s; it was resumed


def test_follow_all_without_a_token_is_refused(stream_stack: StreamStack) -> None:
    done = subprocess.run(
        follow_all_command(stream_stack, None, "--count", "1"),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "HTTP 401" in done.stderr
    assert done.stdout == ""
