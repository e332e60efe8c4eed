"""A Functions host killed with SIGKILL mid-job while a second host serves the same queues:
the job's message lock expires (the queues' LockDuration, 1 minute), Service Bus redelivers
it to the survivor, which runs a second attempt to the end. One terminal event, every event
once and in order, as a client reading through the survivor sees them."""

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from jobstream_client.sse import SseParser
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


def test_a_job_on_a_killed_host_finishes_on_the_survivor(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    with launch_stack(tmp_path / "first") as first:
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
            os.kill(first.pid, signal.SIGKILL)  # the first host dies mid-job; the rest live on
            with httpx.Client(timeout=30) as http:
                deadline = time.monotonic() + 150
                status = ""
                while time.monotonic() < deadline:
                    status = http.get(f"{base}/api/v1/jobs/{job_id}", headers=owner_headers).json()[
                        "data"
                    ]["status"]
                    if status in TERMINAL:
                        break
                    time.sleep(1)
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
            for pid in (first.azurite_pid, first.servicebus_pid):
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
    sequences = [e["sequence"] for e in events]
    assert sequences == list(range(1, len(sequences) + 1)), sequences
    assert [e["status"] for e in events].count("started") == 2  # the killed attempt, the next
    assert sum(1 for e in events if e["status"] in TERMINAL) == 1
    assert events[-1]["status"] == "completed"
    starts = [e["message"] for e in events if e["status"] == "started"]
    assert starts == ["Started (attempt 1 of 5)", "Started (attempt 2 of 5)"], starts
