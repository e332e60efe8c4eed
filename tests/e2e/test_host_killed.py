"""A Functions host lost mid-job while a second host serves the same queues: the job's
message lock expires (the queues' LockDuration, 1 minute; 5 s here), Service Bus redelivers
it to the survivor, which runs a second attempt to the end. One terminal event, every event once and
in order, as a client reading through the survivor sees them. Two ways to lose the host:
- killed (SIGKILL): it never comes back;
- frozen (SIGSTOP) past its lock, then thawed (SIGCONT) while the survivor runs attempt 2:
  the stale attempt carries on where it stopped, and the fence must refuse its writes (a
  delivery that outlived its lock while the redelivery runs)."""

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from jobstream_client.sse import SseParser
from tests.support.chaos import record
from tests.support.stack import (
    REPO_ROOT,
    free_port,
    launch_stack,
    stack_environment,
    start_python,
    stop_process,
    wait_for_http,
)

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TEXT = b"Killed mid-job, finished by the other host.\n" * 24_000  # ~1 MiB: 16 s at 64 KiB/s
TERMINAL = {"completed", "failed", "cancelled"}


def host_and_worker(pid: int) -> list[int]:
    """The host's pid and its Python worker's (JOBSTREAM_LOCAL_WORKER=worker), if any."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return [pid]
    workers = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "devstack.host.worker_process" in " ".join(child.cmdline()):
                workers.append(child.pid)
    return [pid, *workers]


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.mark.parametrize("loss", ["killed", "frozen"])
def test_a_job_on_a_lost_host_finishes_on_the_survivor(tmp_path: Path, loss: str) -> None:
    (tmp_path / "first").mkdir()
    # A 5 s message lock (queues.json says 1 minute) keeps the test short; the SDK's renewer
    # renews a lock that short once 3/4 of it is left (checking every second), so a live
    # host keeps its lock and only the lost host's expires.
    with launch_stack(tmp_path / "first", extra_args=["--lock-duration", "PT5S"]) as first:
        owner_headers = first.headers("killed-host-owner")
        api = first.api
        with httpx.Client(timeout=30) as http:
            presigned = http.post(
                f"{api}/upload/presigned-url",
                json={"fileName": "slow.txt", "contentType": "text/plain", "size": len(TEXT)},
                headers=owner_headers,
            ).json()["data"]
            put = http.put(presigned["uploadUrl"], content=TEXT, headers=presigned["headers"])
            assert put.status_code == 201
            enqueued = http.post(
                f"{api}/jobs",
                json={
                    "queueName": "document-analysis",
                    "jobName": "paced-read",
                    "data": {"blobName": presigned["blobName"], "bytesPerSecond": 64 * 1024},
                },
                headers=owner_headers,
            )
            assert enqueued.status_code == 202, enqueued.text
            job_id = enqueued.json()["data"]["jobId"]
            deadline = time.monotonic() + 30
            while http.get(f"{api}/jobs/{job_id}", headers=owner_headers).json()["data"][
                "status"
            ] not in ("started", "in_progress"):
                assert time.monotonic() < deadline, "the first host never started the job"
                time.sleep(0.1)

        # The survivor: another host on the same Azurite and emulator.
        env = stack_environment(os.environ)
        env.update(
            {
                "AzureWebJobsStorage": first.storage_connection_string,
                "STORAGE_CONNECTION_STRING": first.storage_connection_string,
                "ServiceBusConnection": first.servicebus_connection_string,
                "SERVICEBUS_EMULATOR_ADMIN_URL": first.servicebus_admin_url,
            }
        )
        port = free_port()
        log = tmp_path / "survivor.log"
        survivor = start_python(
            ["-m", "devstack.host", "--root", str(REPO_ROOT), "--port", str(port)], env, log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/api/v1/health", survivor, log)
            # The first host is lost mid-job; Azurite and the emulator live on.
            # A frozen instance freezes the host and its language worker alike.
            frozen = host_and_worker(first.pid)
            if loss == "killed":
                os.kill(first.pid, signal.SIGKILL)
            else:
                signal_all(frozen, signal.SIGSTOP)
            killed_at = time.monotonic()
            with httpx.Client(timeout=30) as http:
                if loss == "frozen":
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:
                        state = http.get(
                            f"{base}/api/v1/jobs/{job_id}", headers=owner_headers
                        ).json()["data"]
                        if state["attempts"] >= 2:
                            break
                        time.sleep(0.5)
                    signal_all(frozen, signal.SIGCONT)  # the stale attempt resumes now
                deadline = time.monotonic() + 150
                status = ""
                while time.monotonic() < deadline:
                    status = http.get(f"{base}/api/v1/jobs/{job_id}", headers=owner_headers).json()[
                        "data"
                    ]["status"]
                    if status in TERMINAL:
                        break
                    time.sleep(1)
                recover = time.monotonic() - killed_at
                assert status == "completed", f"the job is {status!r} on the survivor"
                events: list[dict[str, object]] = []
                with http.stream(
                    "GET", f"{base}/api/v1/jobs/{job_id}/stream", headers=owner_headers
                ) as response:
                    parser = SseParser()
                    for line in response.iter_lines():
                        event = parser.feed(line)
                        if event is not None and event.event == "job_update":
                            events.append(json.loads(event.data))
                            if events[-1]["status"] in TERMINAL:
                                break
        finally:
            stop_process(survivor)
            signal_all(host_and_worker(first.pid), signal.SIGCONT)
            if loss == "killed":  # nobody is left to stop them
                for pid in (first.azurite_pid, first.servicebus_pid):
                    if pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGTERM)
    sequences = [int(str(e["sequence"])) for e in events]
    record(
        f"a host {'SIGKILLed' if loss == 'killed' else 'frozen past its lock, then thawed'}"
        " mid-job, a second host serving",
        jobs=1,
        clients=[(sequences, list(range(1, len(sequences) + 1)))],
        stuck=0 if events and events[-1]["status"] in TERMINAL else 1,
        recover_seconds=recover,
    )
    assert sequences == list(range(1, len(sequences) + 1)), sequences
    assert sum(1 for e in events if e["status"] in TERMINAL) == 1
    assert events[-1]["status"] == "completed"
    trail = [(e["sequence"], e["attempt"], e["status"], e["message"]) for e in events]
    starts = [e for e in events if e["status"] == "started"]
    # Two attempts: the lost host's, and the survivor's. (A frozen host may hold a later
    # delivery whose lock ended while it was frozen: it must not start a third.)
    assert len(starts) == 2, trail
    assert starts[0]["message"] == "Started (attempt 1 of 5)", trail
    attempts = [int(str(e["attempt"])) for e in events[1:]]
    assert attempts == sorted(attempts), f"an older attempt wrote after a newer one: {trail}"
