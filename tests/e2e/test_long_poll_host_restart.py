"""A long poll (`GET /api/v1/jobs/{id}/events?wait=`) waiting while the Functions host is
killed (SIGKILL) and started again on the same port, Azurite and the emulator living on.

The job's events are written straight to the Table event log (`SeededJobs`, the real
adapter) before, while and after the host is down, so the log moves on without it. The
client is a well-behaved poller: it resumes from the last `after` it was answered, and on a
transport error or a 503 it waits a moment and asks again. It must get an error for the poll
the kill cut (not hang until its wait would have ended), be answered by the restarted host,
and see every event once and in order, the same events a fresh read of the finished job gives.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.stream_stack import SeededJobs, completed, progress, started
from tests.e2e.conftest import new_owner
from tests.support.chaos import record
from tests.support.stack import (
    REPO_ROOT,
    LocalStack,
    launch_stack,
    stack_environment,
    start_python,
    stop_process,
    wait_for_http,
)

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

WAIT_SECONDS = 20.0  # each poll's wait: far longer than the kill takes to be noticed
DEADLINE_SECONDS = 60.0  # a guard for each step below, not a speed assertion


@dataclass
class Poller:
    """Follows one job by long polls from `after=0` to its terminal event."""

    api: str
    job_id: str
    headers: dict[str, str]
    events: list[dict[str, Any]] = field(default_factory=list)
    after: str = "0"
    in_flight_since: float | None = None
    errors: list[tuple[float, float, str]] = field(default_factory=list)  # (began, ended, what)
    answers: int = 0

    async def follow(self) -> None:
        async with httpx.AsyncClient(timeout=WAIT_SECONDS + 30) as http:
            while True:
                began = self.in_flight_since = time.monotonic()
                try:
                    r = await http.get(
                        f"{self.api}/jobs/{self.job_id}/events",
                        params={"after": self.after, "wait": str(WAIT_SECONDS)},
                        headers=self.headers,
                    )
                except httpx.TransportError as exc:
                    self.errors.append((began, time.monotonic(), repr(exc)))
                    await asyncio.sleep(0.25)
                    continue
                finally:
                    self.in_flight_since = None
                if r.status_code == 503:  # the host is starting: as the contract says, retry
                    self.errors.append((began, time.monotonic(), f"503 {r.text[:200]}"))
                    await asyncio.sleep(min(float(r.headers.get("Retry-After") or 1), 2.0))
                    continue
                assert r.status_code == 200, r.text
                self.answers += 1
                data = r.json()["data"]
                self.events += data["events"]
                self.after = data["after"]
                if data["finished"]:
                    return

    def sequences(self) -> list[int]:
        return [int(e["data"]["sequence"]) for e in self.events if e["event"] == "job_update"]


async def until(check: Callable[[], bool], what: str, task: "asyncio.Task[None]") -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        if task.done():
            task.result()  # the poller's own failure, if any
            pytest.fail(f"the poller ended before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {DEADLINE_SECONDS} s")
        await asyncio.sleep(0.05)


def restart_host(first: LocalStack, workdir: Path) -> "subprocess.Popen[bytes]":
    """Another host on the killed one's port, on the same Azurite and emulator."""
    env = stack_environment(os.environ)
    env.update(
        {
            "AzureWebJobsStorage": first.storage_connection_string,
            "STORAGE_CONNECTION_STRING": first.storage_connection_string,
            "ServiceBusConnection": first.servicebus_connection_string,
            "SERVICEBUS_EMULATOR_ADMIN_URL": first.servicebus_admin_url,
        }
    )
    port = str(urlsplit(first.base_url).port)
    log = workdir / "restarted.log"
    host = start_python(["-m", "devstack.host", "--root", str(REPO_ROOT), "--port", port], env, log)
    wait_for_http(f"{first.base_url}/api/v1/health", host, log)
    return host


def test_a_long_poll_across_a_killed_and_restarted_host_sees_every_event_once(
    tmp_path: Path,
) -> None:
    (tmp_path / "first").mkdir()
    with launch_stack(tmp_path / "first") as first:
        try:
            outcome = asyncio.run(across_a_restart(first, tmp_path))
        finally:
            for pid in (first.azurite_pid, first.servicebus_pid):  # nobody else stops them
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
    poller, fresh, recovered = outcome
    log = list(range(1, 7))
    record(
        "a host SIGKILLed under a waiting long poll, restarted on its port",
        jobs=1,
        clients=[(poller.sequences(), log)],
        stuck=0 if poller.sequences()[-1:] == [6] else 1,
        recover_seconds=recovered,
    )
    assert poller.sequences() == log, poller.sequences()
    ids = [e["id"] for e in poller.events]
    assert len(ids) == len(set(ids)), ids  # nothing repeated
    assert poller.events == fresh  # the events a fresh read of the finished job gives
    assert poller.events[-1]["data"]["status"] == "completed"


async def across_a_restart(
    first: LocalStack, workdir: Path
) -> tuple[Poller, list[dict[str, Any]], float]:
    """(the poller, a fresh read of the job's events, seconds from the kill to resuming)."""
    owner = new_owner("long-poll-restart")
    jobs = SeededJobs(first.table_endpoint)
    job_id = await jobs.create(owner)
    await jobs.record(job_id, started())
    poller = Poller(first.api, job_id, first.headers(owner))
    following = asyncio.create_task(poller.follow())
    host: subprocess.Popen[bytes] | None = None
    try:
        await until(lambda: poller.sequences() == [1, 2], "queued and started read", following)
        # the next poll is waiting in the host (nothing after 2 yet)
        await until(lambda: poller.in_flight_since is not None, "a poll waiting", following)
        await asyncio.sleep(1.0)
        os.kill(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        await until(lambda: bool(poller.errors), "an error for the cut poll", following)
        began, ended, what = poller.errors[0]
        # an error, not a hang: the cut poll ended long before its wait would have
        assert ended - began < WAIT_SECONDS, (ended - began, what)
        # the log moves on while no host serves
        await jobs.record(job_id, progress(30), progress(60))
        host = await asyncio.to_thread(restart_host, first, workdir)
        await until(lambda: len(poller.sequences()) >= 4, "resumed on the new host", following)
        recovered = time.monotonic() - killed_at
        # a poll waiting on the restarted host is answered by the next events
        await until(lambda: poller.in_flight_since is not None, "a poll waiting again", following)
        await asyncio.sleep(1.0)
        await jobs.record(job_id, progress(90), completed())
        await asyncio.wait_for(following, DEADLINE_SECONDS)
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.get(
                f"{first.api}/jobs/{job_id}/events",
                params={"after": "0"},
                headers=first.headers(owner),
            )
        assert r.status_code == 200, r.text
        fresh: list[dict[str, Any]] = r.json()["data"]["events"]
        return poller, fresh, recovered
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await following
        if host is not None:
            await asyncio.to_thread(stop_process, host)
