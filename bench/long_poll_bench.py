"""Long-poll benchmark: what N long-pollers of one job cost the event log, beside one stream.

`python -m bench.long_poll_bench` (or `python -m bench long_poll`). Starts Azurite, records a
job in the real Table event log, and runs the stream hub in this process over it (the
`EventLog` port wrapped to count its reads). A writer appends an event every 0.5 s; for one
SSE viewer (`StreamHub.watch`), then for 1, 10 and 100 long-pollers (`StreamHub.poll` in a
loop, each from its last answer, as the route and the clients do), it measures:

- Table reads per second (event reads by the job's poller and by viewers behind, job reads);
- latency from the start of an append to a client holding the event (p50 / p99);
- that every client saw every event once, in order.

`--seconds S` sets each window (default 8), `--pollers 1,10,100` the sizes.
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

APPEND_EVERY_SECONDS = 0.5


@dataclass
class Counted:
    """The real event log, counting the reads the hub makes (`events_after`, `get`)."""

    log: Any
    reads: int = 0

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> Any:
        self.reads += 1
        return await self.log.events_after(job_id, after, limit)

    async def get(self, job_id: str) -> Any:
        self.reads += 1
        return await self.log.get(job_id)


@dataclass
class Window:
    appended: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seen: list[list[int]] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def scenario(storage: Any, kind: str, clients: int, seconds: float) -> dict[str, Any]:
    from function_app.bootstrap import SystemClock
    from function_app.domain.identity import Caller
    from function_app.domain.jobs import EventDraft, Job, JobStatus
    from function_app.services.streaming import StreamHub, Update

    log = storage.event_log
    job_id = f"bench-{uuid.uuid4().hex}"
    job = Job(job_id, "anonymous", "resume-analysis", "analyze-resume", {}, datetime.now(UTC))
    await log.create(job, EventDraft(JobStatus.QUEUED, 0, "queued", "queued"))
    counted = Counted(log)
    hub = StreamHub(counted, SystemClock())  # type: ignore[arg-type]
    caller = Caller("anonymous")
    window = Window()
    stop = asyncio.Event()  # the clients
    writing = asyncio.Event()  # the writer

    def got(sequence: int, seen: list[int]) -> None:
        seen.append(sequence)
        began = window.appended.get(sequence)
        if began is not None:
            window.latencies.append(time.perf_counter() - began)

    async def viewer() -> None:
        seen: list[int] = []
        window.seen.append(seen)
        stream = await hub.open(caller, job_id, 1)
        assert stream is not None
        async for item in stream:
            if isinstance(item, Update):
                got(item.event.sequence, seen)
            if stop.is_set():
                return

    async def long_poller() -> None:
        seen: list[int] = []
        window.seen.append(seen)
        after = 1
        while not stop.is_set():
            page = await hub.poll(caller, job_id, after, wait_seconds=2.0)
            for event in page.events:
                got(event.sequence, seen)
            after = page.last_sequence

    async def writer() -> None:
        percent = 0
        while not writing.is_set():
            await asyncio.sleep(APPEND_EVERY_SECONDS)
            percent = min(percent + 1, 99)
            began = time.perf_counter()
            _, event = await log.append(
                job_id, lambda _j, p=percent: EventDraft(JobStatus.IN_PROGRESS, p, "analyzing", "")
            )
            if event is not None:
                window.appended[event.sequence] = began

    tasks = [
        asyncio.create_task(viewer() if kind == "stream" else long_poller()) for _ in range(clients)
    ]
    await asyncio.sleep(1.0)  # every client in place
    reads_before, began = counted.reads, time.perf_counter()
    write = asyncio.create_task(writer())
    await asyncio.sleep(seconds)
    writing.set()
    await write
    elapsed = time.perf_counter() - began
    reads = counted.reads - reads_before
    await asyncio.sleep(1.5)  # the clients take the last events
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    last = max(window.appended, default=1)
    complete = sum(1 for s in window.seen if s == list(range(2, last + 1)))
    return {
        "kind": kind,
        "clients": clients,
        "reads_per_second": reads / elapsed,
        "p50_ms": 1000 * percentile(window.latencies, 0.5),
        "p99_ms": 1000 * percentile(window.latencies, 0.99),
        "events": last - 1,
        "complete": complete,
    }


async def run(pollers: list[int], seconds: float) -> None:
    from devstack.azurite import ensure_storage, start_azurite
    from function_app.adapters.table_storage import TableStorage

    with tempfile.TemporaryDirectory(prefix="long-poll-bench-") as workdir:
        azurite = start_azurite(Path(workdir), log_path=Path(workdir) / "azurite.log")
        try:
            table = "benchjobs"
            await ensure_storage(azurite.connection_string, "uploads", table)
            storage = TableStorage.from_connection_string(azurite.connection_string, table)
            try:
                print(f"one job, an event every {APPEND_EVERY_SECONDS} s, {seconds:g} s each")
                print("clients            Table reads/s   p50 / p99 (ms)   every event once")
                runs = [("stream", 1)] + [("long-poll", n) for n in pollers]
                for kind, clients in runs:
                    r = await scenario(storage, kind, clients, seconds)
                    print(
                        f"{clients:>4} x {kind:<11} {r['reads_per_second']:>10.1f}"
                        f"   {r['p50_ms']:>6.0f} / {r['p99_ms']:<6.0f}"
                        f"   {r['complete']}/{clients} ({r['events']} events)",
                        flush=True,
                    )
            finally:
                await storage.close()
        finally:
            azurite.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.long_poll_bench")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pollers", default="1,10,100")
    args = parser.parse_args(argv)
    asyncio.run(run([int(n) for n in args.pollers.split(",")], args.seconds))


if __name__ == "__main__":
    main()
