"""The whole local stack killed with SIGKILL (the devstack process, Azurite and the Service
Bus emulator at once) while 30 jobs are queued or running, then started again on the same
data, as `make run` keeps it: every job ends, once, with every event in order.

The jobs are `paced-read` (a test job type reading at 64 KiB/s: 8 s for 512 KiB), so 8 run
and 22 wait when the stack dies. Azurite saves its tables every 5 s (LokiJS autosave) and a
SIGKILL loses what came after the last save, so the kill comes 6 s after the last enqueue:
the jobs' records are on disk by then (their later progress may roll back to the last save;
the emulator's journal loses nothing)."""

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Api, new_owner
from tests.support.chaos import record
from tests.support.stack import LocalStack, launch_stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

JOBS = 30
TERMINAL = {"completed", "failed", "cancelled"}
TEXT = b"Every job ends, once, whatever is killed.\n" * 12_800  # 512 KiB: 8 s at 64 KiB/s
PACE = {"bytesPerSecond": 64 * 1024}
AZURITE_SAVED_SECONDS = 6.0  # past Azurite's 5 s autosave


def kill_everything(stack: LocalStack) -> None:
    pids = [p for p in (stack.pid, stack.azurite_pid, stack.servicebus_pid) if p is not None]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if stack.process is not None and pid == stack.pid:
                stack.process.poll()  # reap it
            time.sleep(0.05)


async def statuses(api: Api, job_ids: list[str]) -> dict[str, str]:
    found = {}
    for job_id in job_ids:
        response = await api.status(job_id)
        assert response.status_code == 200, (job_id, response.status_code, response.text)
        found[job_id] = response.json()["data"]["status"]
    return found


def test_jobs_queued_or_running_when_the_stack_is_killed_all_end_after_it_restarts(
    tmp_path: Path,
) -> None:
    owner = new_owner("restart")
    with launch_stack(tmp_path, in_memory=False) as first:

        async def submit_all() -> tuple[list[str], dict[str, str]]:
            async with httpx.AsyncClient(timeout=30) as http:
                api = Api(first, http, owner)
                jobs = await asyncio.gather(
                    *(
                        api.submit("document-analysis", "paced-read", f"{n}.txt", TEXT, PACE)
                        for n in range(JOBS)
                    )
                )
                ids = [job["jobId"] for job in jobs]
                await asyncio.sleep(AZURITE_SAVED_SECONDS)
                return ids, await statuses(api, ids)

        job_ids, at_kill = asyncio.run(submit_all())
        kill_everything(first)
    unfinished = [j for j, s in at_kill.items() if s not in TERMINAL]
    assert unfinished, "every job ended before the kill: the test proved nothing"

    restarted_at = time.monotonic()
    with launch_stack(tmp_path, in_memory=False) as second:

        async def wait_all() -> tuple[dict[str, str], dict[str, list[dict[str, object]]]]:
            async with httpx.AsyncClient(timeout=30) as http:
                api = Api(second, http, owner)
                deadline = time.monotonic() + 240
                while True:
                    now = await statuses(api, job_ids)
                    if all(s in TERMINAL for s in now.values()) or time.monotonic() > deadline:
                        recovered.append(time.monotonic() - restarted_at)
                        break
                    await asyncio.sleep(1)
                return now, {j: await api.events(j) for j in job_ids}

        recovered: list[float] = []
        final, events = asyncio.run(wait_all())
    stuck = {j: s for j, s in final.items() if s not in TERMINAL}
    logs = [[int(str(e["sequence"])) for e in job_events] for job_events in events.values()]
    record(
        f"whole stack SIGKILLed, {len(unfinished)} of {JOBS} jobs unfinished, restarted",
        jobs=JOBS,
        clients=[(log, list(range(1, len(log) + 1))) for log in logs],
        stuck=len(stuck),
        recover_seconds=recovered[0] if recovered else None,
    )
    assert not stuck, f"{len(stuck)} of {JOBS} jobs never ended after the restart: {stuck}"
    assert set(final.values()) == {"completed"}, final
    for job_id, job_events in events.items():
        sequences = [e["sequence"] for e in job_events]
        assert sequences == list(range(1, len(sequences) + 1)), (job_id, sequences)
        ends = [e for e in job_events if e["status"] in TERMINAL]
        assert len(ends) == 1, (job_id, ends)
