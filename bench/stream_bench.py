"""Stream benchmark: the shared-poller hub against a naive poll-per-connection baseline.

`python -m bench.stream_bench` (or `python -m bench stream`). One run starts Azurite and a
stream server (uvicorn, in a child process so the clients do not share its CPU), then for
10, 100 and 1,000 concurrent SSE streams over 10 jobs (1, 10, 100 viewers per job) it
appends progress events to the real Table event log every 0.5 s per job and measures:

- latency: from the start of the worker's append to the client reading the `job_update`
  frame (p50 / p99);
- Table queries per second made by the server (pollers + re-reads, or the naive loops);
- server memory per stream (RSS growth after the streams connect, divided by their count).

The naive baseline gives each connection its own loop that polls the table every second.
`--quick` runs shorter windows; `--streams 10,100` picks the sizes.

(Over 300 lines: one benchmark script, its setup, load, baseline and report.)
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil

JOBS = 10
APPEND_EVERY_SECONDS = 0.5
HOST = "127.0.0.1"


# --- the server (child process) -----------------------------------------------------------------


def serve(port: int, connection_string: str, table: str) -> None:
    """Run the stream server: /hub/{job} (StreamHub), /naive/{job}, /stats."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    from function_app.adapters.table_storage import TableStorage
    from function_app.domain.identity import Caller
    from function_app.domain.jobs import Job, JobEvent
    from function_app.entrypoints.sse import event_stream, frame, retry_hint
    from function_app.services.streaming import StreamHub, Update

    storage = TableStorage.from_connection_string(connection_string, table)

    class CountingLog:
        """The table's event log, counting the queries the stream server makes."""

        queries = 0

        async def get(self, job_id: str) -> Job | None:
            return await storage.event_log.get(job_id)

        async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
            CountingLog.queries += 1
            return await storage.event_log.events_after(job_id, after, limit)

    class UtcClock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    log = CountingLog()
    hub = StreamHub(log, UtcClock())  # type: ignore[arg-type]  # the two calls it makes
    anyone = Caller("anonymous")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

    async def hub_stream(request: Request) -> Response:
        stream = await hub.open(anyone, request.path_params["job"], 0)
        if stream is None:
            return Response(status_code=204)
        return StreamingResponse(
            event_stream(stream, 2000), media_type="text/event-stream", headers=headers
        )

    async def naive_events(job_id: str) -> AsyncIterator[bytes]:
        yield retry_hint(2000)
        after = 0
        while True:
            for event in await log.events_after(job_id, after):
                yield frame(Update(event))
                after = event.sequence
                if event.is_terminal:
                    return
            await asyncio.sleep(1.0)

    async def naive_stream(request: Request) -> Response:
        return StreamingResponse(
            naive_events(request.path_params["job"]),
            media_type="text/event-stream",
            headers=headers,
        )

    async def stats(request: Request) -> Response:
        hub_stats = hub.stats()
        return JSONResponse(
            {
                "queries": CountingLog.queries,
                "hubConnections": hub_stats.total_connections,
                "hubJobSubscriptions": hub_stats.total_job_subscriptions,
            }
        )

    app = Starlette(
        routes=[
            Route("/hub/{job}", hub_stream),
            Route("/naive/{job}", naive_stream),
            Route("/stats", stats),
        ]
    )
    uvicorn.run(app, host=HOST, port=port, log_level="warning", backlog=4096)


# --- clients, writer, measurement ---------------------------------------------------------------


@dataclass
class Window:
    appended: dict[tuple[str, int], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    measuring: bool = False


async def sse_client(port: int, path: str, window: Window, ready: Callable[[], None]) -> None:
    """A minimal HTTP/1.1 SSE reader (chunked transfer); records job_update latencies."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"{path}: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        ready()
        job_id = path.rsplit("/", 1)[-1]
        while True:
            size_line = await reader.readline()
            if not size_line:
                return
            size = int(size_line.strip() or b"0", 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            received = time.perf_counter()
            if not chunk.startswith(b"id: "):
                continue
            sequence = int(chunk[4 : chunk.index(b"\n")])
            started = window.appended.get((job_id, sequence))
            if window.measuring and started is not None:
                window.latencies.append(received - started)
    finally:
        writer.close()


async def create_jobs(connection_string: str, table: str) -> tuple[Any, list[str]]:
    from function_app.adapters.table_storage import TableStorage
    from function_app.domain.jobs import EventDraft, Job, JobStatus

    storage = TableStorage.from_connection_string(connection_string, table)
    ids = []
    for _ in range(JOBS):
        job_id = f"bench-{uuid.uuid4().hex}"
        job = Job(job_id, "anonymous", "resume-analysis", "analyze-resume", {}, datetime.now(UTC))
        await storage.event_log.create(job, EventDraft(JobStatus.QUEUED, 0, "queued", "queued"))
        ids.append(job_id)
    return storage, ids


class Appends(Protocol):
    """What the writer records into: when each (job, sequence) was appended."""

    appended: dict[tuple[str, int], float]


async def writer_loop(log: Any, job_ids: list[str], window: Appends, stop: asyncio.Event) -> None:
    """Appends a tick to each job every APPEND_EVERY_SECONDS, as the worker would (this bench
    and the real-route one)."""
    from function_app.domain.jobs import EventDraft, Job, JobStatus

    async def one_job(job_id: str) -> None:
        await asyncio.sleep(random.uniform(0, APPEND_EVERY_SECONDS))
        percent = 0
        while not stop.is_set():
            percent = min(percent + 1, 99)
            started = time.perf_counter()

            def decide(job: Job, p: int = percent) -> EventDraft:
                status = JobStatus.IN_PROGRESS if job.attempts else JobStatus.STARTED
                return EventDraft(status, p, "analyzing", "tick")

            _, event = await log.append(job_id, decide)
            if event is not None:
                window.appended[(job_id, event.sequence)] = started
            await asyncio.sleep(APPEND_EVERY_SECONDS)

    await asyncio.gather(*(one_job(j) for j in job_ids))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Result:
    mode: str
    streams: int
    p50_ms: float
    p99_ms: float
    samples: int
    queries_per_second: float
    kib_per_stream: float


async def scenario(
    mode: str,
    streams: int,
    port: int,
    server: psutil.Process,
    connection_string: str,
    table: str,
    seconds: float,
) -> Result:
    storage, job_ids = await create_jobs(connection_string, table)
    window = Window()
    stop = asyncio.Event()
    connected = 0
    all_connected = asyncio.Event()

    def ready() -> None:
        nonlocal connected
        connected += 1
        if connected == streams:
            all_connected.set()

    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as http:
        await asyncio.sleep(0.5)
        rss_before = server.memory_info().rss
        clients = []
        for i in range(streams):
            path = f"/{mode}/{job_ids[i % JOBS]}"
            clients.append(asyncio.create_task(sse_client(port, path, window, ready)))
            if i % 100 == 99:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(all_connected.wait(), timeout=60)
        writer = asyncio.create_task(writer_loop(storage.event_log, job_ids, window, stop))
        await asyncio.sleep(2.0)  # warm-up: pollers settle into their rhythm
        rss_after = server.memory_info().rss
        q0 = (await http.get("/stats")).json()["queries"]
        t0 = time.perf_counter()
        window.measuring = True
        await asyncio.sleep(seconds)
        window.measuring = False
        q1 = (await http.get("/stats")).json()["queries"]
        elapsed = time.perf_counter() - t0
        stop.set()
        await writer
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    await storage.close()
    return Result(
        mode=mode,
        streams=streams,
        p50_ms=1000 * percentile(window.latencies, 0.50),
        p99_ms=1000 * percentile(window.latencies, 0.99),
        samples=len(window.latencies),
        queries_per_second=(q1 - q0) / elapsed,
        kib_per_stream=max(0, rss_after - rss_before) / 1024 / streams,
    )


def start_server(
    port: int, connection_string: str, table: str, module: str = "bench.stream_bench"
) -> subprocess.Popen[bytes]:
    """`python -m <module> --serve PORT --table TABLE` (a bench's server), once it answers."""
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--serve", str(port), "--table", table],
        cwd=root,
        env={**os.environ, "BENCH_STORAGE": connection_string},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{HOST}:{port}/stats", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"the {module} server did not start")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


async def run_all(sizes: list[int], seconds: float) -> list[Result]:
    from devstack.azurite import ensure_storage, free_port, start_azurite

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as workdir:
        azurite = start_azurite(Path(workdir), log_path=Path(workdir) / "azurite.log")
        try:
            table = "benchjobs"
            await ensure_storage(azurite.connection_string, "uploads", table)
            for mode in ("hub", "naive"):
                port = free_port()
                server = start_server(port, azurite.connection_string, table)
                try:
                    for streams in sizes:
                        result = await scenario(
                            mode,
                            streams,
                            port,
                            psutil.Process(server.pid),
                            azurite.connection_string,
                            table,
                            seconds,
                        )
                        print_result(result)
                        results.append(result)
                finally:
                    stop_process(server)
        finally:
            azurite.stop()
    return results


def print_result(r: Result) -> None:
    print(
        f"{r.mode:<6} {r.streams:>5} streams  p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms"
        f"  ({r.samples} deliveries)  table {r.queries_per_second:7.1f} q/s"
        f"  mem {r.kib_per_stream:6.1f} KiB/stream",
        flush=True,
    )


def ratio(naive: float, hub: float) -> str:
    """`x<naive / hub>`, or `n/a` when the hub's figure is zero (or not a number)."""
    if not hub > 0 or naive != naive:
        return "   n/a"
    return f"x{naive / hub:5.1f}"


def print_ratios(results: list[Result]) -> None:
    by_key = {(r.mode, r.streams): r for r in results}
    print("\nnaive / hub ratios (higher = the hub is better):")
    for streams in sorted({r.streams for r in results}):
        hub, naive = by_key.get(("hub", streams)), by_key.get(("naive", streams))
        if hub is None or naive is None:
            continue
        queries = ratio(naive.queries_per_second, hub.queries_per_second)
        print(
            f"  {streams:>5} streams: table q/s {queries}"
            f"  p50 {ratio(naive.p50_ms, hub.p50_ms)}  p99 {ratio(naive.p99_ms, hub.p99_ms)}"
            f"  mem/stream {ratio(naive.kib_per_stream, hub.kib_per_stream)}"
        )
    hub_rows = [r for r in results if r.mode == "hub"]
    if hub_rows:
        print(
            "  hub table q/s across sizes: "
            + ", ".join(f"{r.streams}: {r.queries_per_second:.1f}" for r in hub_rows)
            + f" (10 jobs; {statistics.mean(r.queries_per_second for r in hub_rows):.1f} mean)"
        )
    top = by_key.get(("hub", 1000))
    if top is not None:
        ok = top.p50_ms <= 100 and top.p99_ms <= 400
        print(
            f"  goal at 1,000 streams (p50 <= 100 ms, p99 <= 400 ms): {'met' if ok else 'MISSED'}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_bench")
    parser.add_argument("--streams", default="10,100,1000")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per size")
    parser.add_argument("--quick", action="store_true", help="3 s windows")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--table", default="benchjobs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv or [])
    if args.serve:
        serve(args.serve, os.environ["BENCH_STORAGE"], args.table)
        return
    sizes = [int(s) for s in args.streams.split(",") if s]
    seconds = 3.0 if args.quick else args.seconds
    print(
        f"stream bench: {JOBS} jobs, one append per job every {APPEND_EVERY_SECONDS} s, "
        f"{seconds:.0f} s measured per size; latency = append start -> frame read by client"
    )
    results = asyncio.run(run_all(sizes, seconds))
    print_ratios(results)


if __name__ == "__main__":
    main(sys.argv[1:])
