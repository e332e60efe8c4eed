"""Hostile files through the local stack: each bomb ends `failed` with `document_too_complex`
(not retryable) within the time limit, the host's memory (the devstack process and its
extraction children) grows by at most 256 MB, and the host keeps serving; a cancel stops a
job mid-extraction; the time limit (set low on a stack of its own) fails a slow one.

Memory is read from /proc: VmRSS of the host process and of each of its extraction children
(`function_app.jobtypes.reading.sandbox_child`) sampled while a bomb runs, the host's VmHWM,
and each child's own VmHWM, which the sandbox logs ("child peak RSS"; a child may live too
short a time to be sampled). The figures are printed (run with -s to see them).
"""

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Api, new_owner
from tests.support.stack import LocalStack, launch_stack
from tests.unit.jobtypes.reading import hostile_files as hostile

pytestmark = pytest.mark.e2e

MAX_GROWTH_BYTES = 256 * 1024 * 1024
SAMPLE_SECONDS = 0.05
SLOW_EXTRACTION_SECONDS = 600  # far past the tests' wait: a job that ends stopped mid-way
TIME_LIMIT_SECONDS = 3


def status_kib(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in KiB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


CHILD_PEAK = re.compile(r"extraction \w+: .* child peak RSS (\d+) MiB")


def child_peaks_mib(log: Path, offset: int) -> list[int]:
    """The extraction children's peaks the host logged past `offset` of its log."""
    with log.open("rb") as lines:
        lines.seek(offset)
        text = lines.read().decode("utf-8", "replace")
    return [int(match.group(1)) for match in CHILD_PEAK.finditer(text)]


def extraction_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if parent == pid and b"sandbox_child" in command:
            children.append(int(entry.name))
    return children


def host_rss_bytes(pid: int) -> int:
    """VmRSS of the host process and of its extraction children, summed."""
    pids = [pid, *extraction_children(pid)]
    return sum(status_kib(p, "VmRSS") for p in pids) * 1024


async def sample_peak(pid: int, stop: asyncio.Event) -> int:
    peak = 0
    while not stop.is_set():
        peak = max(peak, await asyncio.to_thread(host_rss_bytes, pid))
        await asyncio.sleep(SAMPLE_SECONDS)
    return peak


async def submit_bytes(api: Api, queue: str, job: str, name: str, data: bytes) -> str:
    accepted = await api.submit(queue, job, name, data)
    job_id: str = accepted["jobId"]
    return job_id


async def assert_keeps_serving(api: Api) -> None:
    text = b"A normal document.\nIt has two lines.\n"
    job_id = await submit_bytes(api, "document-analysis", "analyze-document", "ok.txt", text)
    job = await api.wait_terminal(job_id)
    assert job["status"] == "completed", job


BOMBS = {
    "paragraphs.docx": ("analyze-document", hostile.paragraph_bomb_docx),
    "paragraphs-resume.docx": ("analyze-resume", hostile.paragraph_bomb_docx),
    "shared-stream.pdf": ("analyze-document", hostile.shared_stream_pdf),
    "many-entries.docx": ("analyze-document", hostile.many_entries_docx),
    "deep.docx": ("analyze-document", hostile.deep_docx),
    "entities.docx": ("analyze-document", hostile.entity_docx),
}
QUEUE_OF = {"analyze-document": "document-analysis", "analyze-resume": "resume-analysis"}


@pytest.mark.parametrize("name", sorted(BOMBS))
async def test_a_bomb_fails_too_complex_with_bounded_memory_and_the_host_keeps_serving(
    alice: Api, name: str
) -> None:
    pid = alice.stack.pid
    await assert_keeps_serving(alice)  # warm: the extraction spare runs, as it will
    job_name, build = BOMBS[name]
    data = build()
    baseline = host_rss_bytes(pid)
    hwm_before = status_kib(pid, "VmHWM") * 1024
    log_offset = alice.stack.log_path.stat().st_size
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_peak(pid, stop))
    began = time.monotonic()
    job_id = await submit_bytes(alice, QUEUE_OF[job_name], job_name, name, data)
    job = await alice.wait_terminal(job_id)
    took = time.monotonic() - began
    stop.set()
    peak = await sampler
    hwm_after = status_kib(pid, "VmHWM") * 1024
    children = child_peaks_mib(alice.stack.log_path, log_offset)
    print(
        f"{name}: {len(data):,} bytes, {job['status']} {job.get('error')} after {took:.1f} s;"
        f" host+children RSS {baseline / 2**20:.0f} -> peak {peak / 2**20:.0f} MiB,"
        f" host VmHWM {hwm_before / 2**20:.0f} -> {hwm_after / 2**20:.0f} MiB,"
        f" extraction child peak {children} MiB"
    )
    assert job["status"] == "failed", job
    assert (job["error"]["code"], job["error"]["retryable"]) == ("document_too_complex", False)
    assert peak - baseline <= MAX_GROWTH_BYTES
    # The host's own growth plus the whole child (its interpreter too): at most 256 MB. (The
    # ZIP with very many entries is refused by type detection, before any extraction.)
    assert hwm_after - hwm_before + max(children, default=0) * 2**20 <= MAX_GROWTH_BYTES
    await assert_keeps_serving(alice)


async def wait_for_extraction(api: Api, job_id: str) -> None:
    """Until the job's status says its (slow) extraction has begun."""
    for _ in range(600):
        status = (await api.status(job_id)).json()["data"]
        assert status["status"] not in {"completed", "failed", "cancelled"}, status
        if (status.get("message") or "").startswith("Extracting"):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"job {job_id} never began its extraction")


async def start_slow_extraction(api: Api, seconds: float) -> str:
    upload = await api.upload("slow.txt", b"one\ntwo\n", "text/plain")
    data = {"blobName": upload["blobName"], "extractSeconds": seconds}
    response = await api.enqueue("document-analysis", "paced-read", data)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["data"]["jobId"]
    return job_id


async def test_a_cancel_stops_a_job_mid_extraction(alice: Api) -> None:
    job_id = await start_slow_extraction(alice, SLOW_EXTRACTION_SECONDS)
    await wait_for_extraction(alice, job_id)
    asked = time.monotonic()
    cancel = await alice.http.post(f"{alice.stack.api}/jobs/{job_id}/cancel", headers=alice.auth)
    assert cancel.status_code in {200, 202}, cancel.text
    job = await alice.wait_terminal(job_id)  # waits 90 s at most: far less than the extraction
    print(f"cancel mid-extraction: {job['status']} {time.monotonic() - asked:.2f} s after asking")
    assert job["status"] == "cancelled", job
    await assert_keeps_serving(alice)


@pytest.fixture(scope="module")
def time_limited_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {"JOB_TIME_LIMIT_SECONDS": str(TIME_LIMIT_SECONDS)}
    with launch_stack(tmp_path_factory.mktemp("time-limited"), env) as stack:
        yield stack


async def test_the_time_limit_fails_a_slow_extraction(time_limited_stack: LocalStack) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        api = Api(time_limited_stack, http, new_owner("slow"))
        job_id = await start_slow_extraction(api, SLOW_EXTRACTION_SECONDS)
        began = time.monotonic()
        job = await api.wait_terminal(job_id)
        took = time.monotonic() - began
        print(f"time limit {TIME_LIMIT_SECONDS} s: {job['status']} after {took:.1f} s")
        assert job["status"] == "failed", job
        assert (job["error"]["code"], job["error"]["retryable"]) == ("time_limit_exceeded", False)
        await assert_keeps_serving(api)
