"""`python -m jobstream_client` against the local stack: upload, start, follow, exit status."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from function_app.topology import topology
from tests.browser.stream_stack import StreamStack
from tests.samples.documents import corrupt_pdf, make_pdf, paginate, resume_text
from tests.support.stack import REPO_ROOT

pytestmark = pytest.mark.e2e


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
    done = run_client(stream_stack, resume, "gina", "--job", "analyze-resume")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    assert result
    assert "upload" in done.stderr
    assert "100.0%" in done.stderr
    assert "completed" in done.stderr


def test_the_terminal_client_exits_non_zero_when_the_job_fails(
    stream_stack: StreamStack, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(corrupt_pdf())
    done = run_client(stream_stack, broken, "gina", "--job", "analyze-resume")
    assert done.returncode == 1, done.stderr
    assert "job failed" in done.stderr


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
