"""Streams under churn and a storage restart, as clients really use them: every client's
sequence per job equals the job's log (gapless, no repeats, in order).

- 100 clients, five per job on 20 running jobs, each dropping its connection every 5 s and
  reconnecting with `Last-Event-ID` (as EventSource does after a network blip);
- Azurite stopped and started again under running jobs and open streams (a persistent stack,
  as `make run`'s): the streams resume, the workers retry, every job ends once.
"""

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.azurite import start_azurite
from jobstream_client.sse import SseParser
from tests.e2e.conftest import Api, new_owner
from tests.support.chaos import record
from tests.support.stack import LocalStack, launch_stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TERMINAL = {"completed", "failed", "cancelled"}
PACE = {"bytesPerSecond": 64 * 1024}
TEXT = b"A client reconnects; nothing is lost or repeated.\n" * 7000  # ~350 KiB: ~5.5 s


async def follow(
    api: Api, job_id: str, *, drop_every: float, deadline: float
) -> tuple[list[int], int]:
    """(sequences seen, connections made) of a client following one job's stream, dropping
    the connection every `drop_every` seconds and resuming with Last-Event-ID; reconnects
    after errors too (a 5xx, a refused connection), until the job's terminal event."""
    seen: list[int] = []
    connections = 0
    while time.monotonic() < deadline:
        headers = dict(api.auth)
        if seen:
            headers["Last-Event-ID"] = str(seen[-1])
        connections += 1
        parser = SseParser()
        try:
            async with asyncio.timeout(drop_every):
                async with api.http.stream(
                    "GET", f"{api.stack.api}/jobs/{job_id}/stream", headers=headers, timeout=30
                ) as response:
                    if response.status_code != 200:
                        await asyncio.sleep(0.5)
                        continue
                    async for line in response.aiter_lines():
                        event = parser.feed(line)
                        if event is None or event.event != "job_update":
                            continue
                        update = json.loads(event.data)
                        seen.append(int(update["sequence"]))
                        if update["status"] in TERMINAL:
                            return seen, connections
        except (TimeoutError, httpx.HTTPError):
            pass  # dropped on purpose, or the server went away: reconnect
        await asyncio.sleep(0.05)
    return seen, connections


async def log_of(api: Api, job_id: str) -> list[int]:
    return [e["sequence"] for e in await api.events(job_id)]


async def test_100_clients_reconnecting_every_5_s_see_every_event_once(
    local_stack: LocalStack,
) -> None:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as http:
        api = Api(local_stack, http, new_owner("churn"))
        jobs = await asyncio.gather(
            *(
                api.submit("document-analysis", "paced-read", f"{n}.txt", TEXT, PACE)
                for n in range(20)
            )
        )
        ids = [job["jobId"] for job in jobs]
        deadline = time.monotonic() + 180
        results = await asyncio.gather(
            *(follow(api, ids[k // 5], drop_every=5.0, deadline=deadline) for k in range(100))
        )
        logs = {job_id: await log_of(api, job_id) for job_id in ids}
    reconnects = sum(connections - 1 for _, connections in results)
    record(
        f"100 clients reconnecting every 5 s ({reconnects} reconnections), 20 jobs",
        jobs=20,
        clients=[(seen, logs[ids[k // 5]]) for k, (seen, _) in enumerate(results)],
        stuck=sum(1 for log in logs.values() if not log),
        recover_seconds=None,
    )
    for k, (seen, _) in enumerate(results):
        job_id = ids[k // 5]
        assert seen == logs[job_id], f"client {k} on {job_id}: {seen} vs log {logs[job_id]}"
        assert logs[job_id] == list(range(1, len(logs[job_id]) + 1))
    assert reconnects >= 100, f"only {reconnects} reconnections: the churn did not happen"


def test_azurite_restarted_under_running_jobs_and_open_streams(tmp_path: Path) -> None:
    owner = new_owner("azurite-restart")
    with launch_stack(tmp_path, in_memory=False) as stack:

        async def scenario() -> tuple[list[tuple[list[int], int]], dict[str, list[int]], list[str]]:
            async with httpx.AsyncClient(timeout=30) as http:
                api = Api(stack, http, owner)
                jobs = await asyncio.gather(
                    *(
                        api.submit("document-analysis", "paced-read", f"{n}.txt", TEXT, PACE)
                        for n in range(6)
                    )
                )
                ids = [job["jobId"] for job in jobs]
                deadline = time.monotonic() + 240
                clients = asyncio.gather(
                    *(
                        follow(api, ids[k % 6], drop_every=60.0, deadline=deadline)
                        for k in range(12)
                    )
                )
                await asyncio.sleep(2.5)
                stopped_at.append(time.monotonic())
                await asyncio.to_thread(restart_azurite, stack, tmp_path)
                results = await clients
                statuses = []
                for job_id in ids:
                    final = await api.wait_terminal(job_id)
                    error = final.get("error") or {}
                    statuses.append(f"{final['status']} {error.get('code', '')}".strip())
                stopped_at.append(time.monotonic() - stopped_at[0])
                return results, {j: await log_of(api, j) for j in ids}, statuses

        stopped_at: list[float] = []
        results, logs, statuses = asyncio.run(scenario())
    ids_in_order = list(logs)
    record(
        "Azurite stopped and restarted under 6 running jobs and 12 streams",
        jobs=6,
        clients=[(seen, logs[ids_in_order[k % 6]]) for k, (seen, _) in enumerate(results)],
        stuck=sum(1 for s in statuses if not s.startswith(("completed", "failed", "cancelled"))),
        recover_seconds=stopped_at[1] if len(stopped_at) > 1 else None,
    )
    assert set(statuses) == {"completed"}, statuses
    ids = list(logs)
    for k, (seen, _) in enumerate(results):
        job_id = ids[k % 6]
        assert seen == logs[job_id], f"client {k} on {job_id}: {seen} vs log {logs[job_id]}"
        terminal = logs[job_id]
        assert terminal == list(range(1, len(terminal) + 1))


def restart_azurite(stack: LocalStack, workdir: Path) -> None:
    """SIGTERM Azurite (it saves on the way out), then start it again on the same ports and
    data directory, as the stack started it."""
    assert stack.azurite_pid is not None
    os.kill(stack.azurite_pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(stack.azurite_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    blob_port, table_port = (
        int(url.rsplit(":", 1)[1].split("/", 1)[0])
        for url in (stack.blob_endpoint, stack.table_endpoint)
    )
    time.sleep(1.0)  # storage down for a while: writers and pollers see it fail
    azurite = start_azurite(
        workdir / "azurite", "127.0.0.1", blob_port, 0, table_port, in_memory=False
    )
    _restarted.append(azurite)


_restarted: list[Any] = []


@pytest.fixture(autouse=True)
def _stop_restarted_azurite() -> Any:
    yield
    while _restarted:
        azurite = _restarted.pop()
        with contextlib.suppress(Exception):
            azurite.stop()
