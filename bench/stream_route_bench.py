"""Stream benchmark through the product's route: `/api/v1/jobs/{id}/stream` on the local stack.

`python -m bench.stream_route_bench` (or `python -m bench stream_route`). For each size
(1,000, 5,000 and 10,000 streams by default; `--streams 200` for a quick run) it starts the
stack as `make run` serves it (`python -m devstack` on free ports: in-memory Azurite, the
Service Bus emulator, the local Functions host on uvicorn; `bench.stream_route_host` adds a
count of the host's Table reads), records 10 jobs in the real Table event log, opens the
streams with stream tokens (`?token=`, as EventSource does) spread evenly over the jobs, and
appends a progress event to every job every 0.5 s the way the worker does (through the
Table adapter). The clients and the writer run in this process, the server in its own.

Printed per size, machine-independent figures first:
- server memory per open stream: RSS growth from before the streams to after they are all
  open, divided by their count (and tracemalloc's figure with `--tracemalloc`, which slows
  the server: take latencies from a run without it); with `JOBSTREAM_LOCAL_WORKER=worker`
  the worker's and the host proxy's apart, and the memory goal judged on the worker's;
- server CPU per delivered event (one job event reaching one viewer);
- Table reads/s made by the server (pollers, re-reads, stream opens) while streams are held;
- delivery p50 / p99: from the start of the append to the client reading the frame.

The naive baseline (`bench.stream_bench`'s poll-per-connection server, every connection its
own loop reading the table each second) runs beside it at the sizes up to `--naive-max`.
The goals of issue 18 are printed as met or missed at the end.

(Over 300 lines: one benchmark's stack, clients, writer, measurement and report, together.)
"""

import argparse
import asyncio
import functools
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.stream_bench import APPEND_EVERY_SECONDS, start_server, stop_process, writer_loop

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
JOBS = 10
OWNER = "bench-viewer"
CONNECT_BATCH = 250
STACK_START_SECONDS = 120.0
DEFAULT_SIZES = "1000,5000,10000"

# Issue 18's goals for one server process.
HELD_GOAL = 10_000
LATENCY_GOAL_STREAMS = 5_000
P50_GOAL_MS = 100.0
P99_GOAL_MS = 250.0
KIB_PER_STREAM_GOAL = 20.0


# --- the server: the local stack --------------------------------------------------------------


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    counters: Path
    secret: str
    log: Path

    @property
    def host(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    @property
    def connection_string(self) -> str:
        from devstack.azurite import DEV_ACCOUNT, DEV_KEY

        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={self.state['blobEndpoint']};"
            f"TableEndpoint={self.state['tableEndpoint']};"
        )

    def read_counters(self) -> dict[str, Any]:
        for _ in range(50):
            try:
                counters: dict[str, Any] = json.loads(self.counters.read_text("utf-8"))
                return counters
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("the host wrote no counters")


def start_stack(
    workdir: Path,
    traced: bool,
    host_options: Sequence[str] = (),
    stack_options: Sequence[str] = (),
) -> Stack:
    """`host_options`: `bench.stream_route_host`'s own; `stack_options`: more for devstack."""
    secret = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "STORAGE_"))}
    env.update(
        {
            "AUTH_MODE": "none",
            "STREAM_TOKEN_SECRET": secret,
            "LIMIT_STREAMS_PER_CALLER": "100000",
            "STREAM_MAX_AGE_SECONDS": "3600",
        }
    )
    state_file, counters, log = workdir / "state.json", workdir / "counters.json", workdir / "log"
    args = [sys.executable, "-m", "bench.stream_route_host", str(counters)]
    args += ["--tracemalloc", *host_options] if traced else list(host_options)
    args += ["--", "--any-free-ports", "--port", "0", "--in-memory", "--workdir", str(workdir)]
    args += ["--state-file", str(state_file), *stack_options]
    with open(log, "ab") as out:
        process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + STACK_START_SECONDS
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            tail = log.read_text("utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"the stack did not start:\n{tail}")
        time.sleep(0.2)
    state = json.loads(state_file.read_text("utf-8"))
    return Stack(process, state, counters, secret, log)


async def create_jobs(connection_string: str) -> tuple[Any, list[str]]:
    from function_app.adapters.table_storage import TableStorage
    from function_app.domain.jobs import EventDraft, Job, JobStatus

    storage = TableStorage.from_connection_string(connection_string, "jobs")
    ids = []
    for _ in range(JOBS):
        job_id = f"bench-{uuid.uuid4().hex}"
        job = Job(job_id, OWNER, "resume-analysis", "analyze-resume", {}, datetime.now(UTC))
        await storage.event_log.create(job, EventDraft(JobStatus.QUEUED, 0, "queued", "queued"))
        ids.append(job_id)
    return storage, ids


async def stream_tokens(secret: str, job_ids: list[str]) -> dict[str, str]:
    """One stream token per job, as the enqueue route issues them (same key, same claims)."""
    from function_app.services.stream_tokens import StreamTokens

    class Utc:
        def now(self) -> datetime:
            return datetime.now(UTC)

    tokens = StreamTokens.from_settings(secret, None, Utc(), 3600)  # type: ignore[arg-type]
    return {job_id: await tokens.issue(OWNER, job_id) for job_id in job_ids}


# --- clients and writer (this process) --------------------------------------------------------


@dataclass
class Window:
    appended: dict[tuple[str, int], float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    delivered: int = 0
    measuring: bool = False
    ready: int = 0
    lost: int = 0
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    wanted: int = 0
    refused: bytes | None = None  # the first refusal's status line and headers


class SseClient(asyncio.Protocol):
    """One stream, read with as little client CPU as can be: look for `\\nid: N` lines."""

    def __init__(self, request: bytes, job_id: str, window: Window) -> None:
        self.request = request
        self.job_id = job_id
        self.window = window
        self.head = b""
        self.open = False
        self.tail = b""
        self.last = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        received = time.perf_counter()
        if not self.open:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 200 " not in self.head[: self.head.find(b"\r\n")]:
                self.window.refused = self.head[:300]
                self.window.all_ready.set()
                return
            self.open = True
            data, self.head = self.head[end + 4 :], b""
            window = self.window
            window.ready += 1
            if window.ready == window.wanted:
                window.all_ready.set()
        text = self.tail + data
        start = text.find(b"\nid: ")
        while start >= 0:
            stop = text.find(b"\n", start + 5)
            if stop < 0:
                break
            sequence = int(text[start + 5 : stop].split(b".")[0])
            if sequence > self.last:
                self.last = sequence
                self.delivered(sequence, received)
            start = text.find(b"\nid: ", stop)
        self.tail = text[-48:]

    def delivered(self, sequence: int, received: float) -> None:
        window = self.window
        if not window.measuring:
            return
        window.delivered += 1
        started = window.appended.get((self.job_id, sequence))
        if started is not None:
            window.latencies.append(received - started)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.window.measuring:
            self.window.lost += 1


async def open_streams(
    port: int, paths: list[tuple[str, str]], window: Window
) -> list[asyncio.Transport]:
    loop = asyncio.get_running_loop()
    window.wanted = len(paths)
    transports = []
    for i, (job_id, path) in enumerate(paths):
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        transport, _ = await loop.create_connection(
            functools.partial(SseClient, request, job_id, window), HOST, port
        )
        transports.append(transport)
        if i % CONNECT_BATCH == CONNECT_BATCH - 1:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(window.all_ready.wait(), timeout=180)
    if window.refused is not None:
        raise RuntimeError(f"a stream was refused: {window.refused!r}")
    return transports


# --- one measured run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    mode: str
    streams: int
    held: int
    lost: int
    kib_per_stream: float  # host and worker together
    traced_kib_per_stream: float | None
    # Through the worker (JOBSTREAM_LOCAL_WORKER=worker) the two apart: in Azure the host is
    # not Python and not ours, so the worker's figure is the app's cost per stream.
    host_kib_per_stream: float
    worker_kib_per_stream: float | None
    cpu_us_per_event: float
    reads_per_second: float
    p50_ms: float
    p99_ms: float
    delivered: int
    client_cpu_percent: float
    server_cpu_percent: float
    load_average: float


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def with_worker(process: psutil.Process) -> list[psutil.Process]:
    """The server process and, when the host runs its functions in the Python worker
    (JOBSTREAM_LOCAL_WORKER=worker), the worker process: the two serve each stream."""
    workers = [
        child
        for child in process.children(recursive=True)
        if "devstack.host.worker_process" in " ".join(child.cmdline())
    ]
    return [process, *workers]


def own_cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for part in with_worker(process):
        times = part.cpu_times()
        total += float(times.user + times.system)
    return total


def rss_bytes(process: psutil.Process) -> tuple[int, int | None]:
    """The host's RSS and the worker's (None when the functions run in the host)."""
    host, *workers = with_worker(process)
    worker = sum(int(part.memory_info().rss) for part in workers) if workers else None
    return int(host.memory_info().rss), worker


def together(parts: tuple[int, int | None]) -> int:
    return parts[0] + (parts[1] or 0)


def kib_per_stream(before: int | None, after: int | None, streams: int) -> float | None:
    if before is None or after is None:
        return None
    return max(0, after - before) / 1024 / streams


async def measure(
    mode: str,
    streams: int,
    port: int,
    server: psutil.Process,
    paths_for: dict[str, str],
    storage: Any,
    reads: Callable[[], tuple[int, int | None]],
    seconds: float,
) -> Result:
    """Open `streams` streams over the jobs of `paths_for`, append, measure `seconds`.
    `reads()` is the server's count of Table reads so far (and its traced bytes, or None)."""
    job_ids = list(paths_for)
    window = Window()
    # Warm-up: one stream per job, so first-use costs (settings, clients, keys) are paid.
    warm = Window()
    warm_transports = await open_streams(port, [(j, paths_for[j]) for j in job_ids], warm)
    for transport in warm_transports:
        transport.close()
    await asyncio.sleep(1.5)
    rss_before = rss_bytes(server)
    _, traced_before = reads()
    if traced_before is not None:
        os.kill(server.pid, signal.SIGUSR1)  # the host's baseline snapshot
    paths = [(job_ids[i % JOBS], paths_for[job_ids[i % JOBS]]) for i in range(streams)]
    transports = await open_streams(port, paths, window)
    await asyncio.sleep(1.0)
    rss_after = rss_bytes(server)
    _, traced_after = reads()
    if traced_after is not None:
        os.kill(server.pid, signal.SIGUSR1)  # what grew: COUNTERS_FILE.top
    stop = asyncio.Event()
    writer = asyncio.create_task(writer_loop(storage.event_log, job_ids, window, stop))
    await asyncio.sleep(2.0)  # pollers settle into the appends' rhythm
    reads0, _ = reads()
    me = psutil.Process()
    cpu0, t0, mine0 = cpu_seconds(server), time.perf_counter(), own_cpu_seconds(me)
    window.measuring = True
    await asyncio.sleep(seconds)
    window.measuring = False
    reads1, _ = reads()
    cpu1, elapsed, mine1 = cpu_seconds(server), time.perf_counter() - t0, own_cpu_seconds(me)
    stop.set()
    await writer
    held = sum(1 for t in transports if not t.is_closing())
    for transport in transports:
        transport.close()
    await asyncio.sleep(1.0)
    traced = None
    if traced_before is not None and traced_after is not None:
        traced = (traced_after - traced_before) / 1024 / streams
    return Result(
        mode=mode,
        streams=streams,
        held=held,
        lost=window.lost,
        kib_per_stream=kib_per_stream(together(rss_before), together(rss_after), streams) or 0.0,
        traced_kib_per_stream=traced,
        host_kib_per_stream=kib_per_stream(rss_before[0], rss_after[0], streams) or 0.0,
        worker_kib_per_stream=kib_per_stream(rss_before[1], rss_after[1], streams),
        cpu_us_per_event=1e6 * (cpu1 - cpu0) / max(1, window.delivered),
        reads_per_second=(reads1 - reads0) / elapsed,
        p50_ms=1000 * percentile(window.latencies, 0.50),
        p99_ms=1000 * percentile(window.latencies, 0.99),
        delivered=window.delivered,
        client_cpu_percent=100 * (mine1 - mine0) / elapsed,
        server_cpu_percent=100 * (cpu1 - cpu0) / elapsed,
        load_average=os.getloadavg()[0],
    )


async def run_size(streams: int, seconds: float, naive: bool, traced: bool) -> list[Result]:
    from devstack.azurite import free_port

    results = []
    with tempfile.TemporaryDirectory(prefix="stream-route-bench-") as workdir:
        stack = await asyncio.to_thread(start_stack, Path(workdir), traced)
        try:
            storage, job_ids = await create_jobs(stack.connection_string)
            tokens = await stream_tokens(stack.secret, job_ids)
            base = stack.state["baseUrl"]
            port = int(base.rsplit(":", 1)[1])
            paths = {j: f"/api/v1/jobs/{j}/stream?token={tokens[j]}" for j in job_ids}

            def host_reads() -> tuple[int, int | None]:
                counters = stack.read_counters()
                return int(counters["tableReads"]), counters.get("tracedBytes")

            result = await measure(
                "route", streams, port, stack.host, paths, storage, host_reads, seconds
            )
            print_result(result)
            results.append(result)
            await storage.close()
            top = stack.counters.with_suffix(".top")
            for _ in range(60 if traced else 0):
                if top.exists():
                    break
                await asyncio.sleep(0.5)
            if top.exists():
                print(f"what grew while the streams opened (tracemalloc):\n{top.read_text()}")
            if naive:
                storage, job_ids = await create_jobs(stack.connection_string)
                naive_port = free_port()
                server = await asyncio.to_thread(
                    start_server, naive_port, stack.connection_string, "jobs"
                )
                try:
                    import httpx

                    def naive_reads() -> tuple[int, None]:
                        stats = httpx.get(f"http://{HOST}:{naive_port}/stats").json()
                        return int(stats["queries"]), None

                    result = await measure(
                        "naive",
                        streams,
                        naive_port,
                        psutil.Process(server.pid),
                        {j: f"/naive/{j}" for j in job_ids},
                        storage,
                        naive_reads,
                        seconds,
                    )
                    print_result(result)
                    results.append(result)
                finally:
                    stop_process(server)
                    await storage.close()
        finally:
            stop_process(stack.process)
            print_log_problems(stack.log)
    return results


def print_log_problems(log: Path) -> None:
    """The host's most frequent WARNING / ERROR lines (time stamps cut), if any."""
    counts: dict[str, int] = {}
    for line in log.read_text("utf-8", errors="replace").splitlines():
        if " WARNING " in line or " ERROR " in line:
            text = line.split(" ", 2)[-1][:160]
            counts[text] = counts.get(text, 0) + 1
    for text, n in sorted(counts.items(), key=lambda kv: -kv[1])[:3]:
        print(f"  host log, {n} x: {text}")


# --- report -------------------------------------------------------------------------------------


def print_result(r: Result) -> None:
    traced = "" if r.traced_kib_per_stream is None else f" (traced {r.traced_kib_per_stream:.1f})"
    if r.worker_kib_per_stream is not None:
        traced += f" (worker {r.worker_kib_per_stream:.1f}, host {r.host_kib_per_stream:.1f})"
    print(
        f"{r.mode:<6} {r.streams:>6} streams  held {r.held:>6}  "
        f"mem {r.kib_per_stream:5.1f} KiB/stream{traced}  "
        f"cpu {r.cpu_us_per_event:6.1f} us/event  table {r.reads_per_second:7.1f} reads/s  "
        f"p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  ({r.delivered} deliveries; "
        f"server {r.server_cpu_percent:.0f}% / clients {r.client_cpu_percent:.0f}% of a core; "
        f"load average {r.load_average:.1f})",
        flush=True,
    )


def goals(results: list[Result]) -> list[tuple[str, bool | None]]:
    """Each goal of issue 18 with met (True), missed (False) or not measured (None)."""
    route = {r.streams: r for r in results if r.mode == "route"}
    held = route.get(HELD_GOAL)
    at = route.get(LATENCY_GOAL_STREAMS)
    largest = route[max(route)] if route else None
    sizes = sorted(route)
    # Independent of the viewers: reads/s at the larger sizes no more than 25% above the
    # smallest size's (fewer is possible when a starved host polls late; latency shows it).
    flat = None
    if len(sizes) >= 2:
        smallest = route[sizes[0]].reads_per_second
        flat = all(route[n].reads_per_second <= 1.25 * smallest + 1 for n in sizes[1:])
    return [
        (
            f"{HELD_GOAL:,} open streams held",
            None if held is None else held.held == HELD_GOAL and held.lost == 0,
        ),
        (
            f"p50 <= {P50_GOAL_MS:.0f} ms and p99 <= {P99_GOAL_MS:.0f} ms "
            f"at {LATENCY_GOAL_STREAMS:,} streams (machine-dependent)",
            None if at is None else at.p50_ms <= P50_GOAL_MS and at.p99_ms <= P99_GOAL_MS,
        ),
        (
            f"<= {KIB_PER_STREAM_GOAL:.0f} KiB of server memory per open stream"
            + (f" (at {largest.streams:,})" if largest else "")
            + (" in the worker" if largest and largest.worker_kib_per_stream is not None else ""),
            None if largest is None else app_kib_per_stream(largest) <= KIB_PER_STREAM_GOAL,
        ),
        ("Table reads/s do not grow with the number of viewers (<= +25% over sizes)", flat),
    ]


def app_kib_per_stream(r: Result) -> float:
    """The app's memory per stream: the worker's when there is one (the host proxy is a local
    stand-in), else the one server process's."""
    return r.kib_per_stream if r.worker_kib_per_stream is None else r.worker_kib_per_stream


def print_goals(results: list[Result]) -> None:
    print("\ngoals (one server process):")
    for text, met in goals(results):
        verdict = "not measured" if met is None else ("met" if met else "MISSED")
        print(f"  {verdict:<12} {text}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_route_bench")
    parser.add_argument("--streams", default=DEFAULT_SIZES, help="sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per size")
    parser.add_argument("--quick", action="store_true", help="--streams 200 --seconds 3")
    parser.add_argument("--naive-max", type=int, default=1000, help="largest naive size")
    parser.add_argument("--tracemalloc", action="store_true", help="trace the server's memory")
    args = parser.parse_args(argv or [])
    sizes = [200] if args.quick else [int(s) for s in args.streams.split(",") if s]
    seconds = 3.0 if args.quick else args.seconds
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(
        f"stream route bench: GET /api/v1/jobs/{{id}}/stream?token=... on the local stack, "
        f"{JOBS} jobs, one append per job every {APPEND_EVERY_SECONDS} s, {seconds:.0f} s "
        "measured per size; latency = append start -> frame read by the client"
    )
    results: list[Result] = []
    for streams in sizes:
        naive = streams <= args.naive_max
        results += asyncio.run(run_size(streams, seconds, naive, args.tracemalloc))
    print_goals(results)


if __name__ == "__main__":
    main(sys.argv[1:])
