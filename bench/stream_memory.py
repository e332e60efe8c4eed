"""What one open stream holds in the server: `python -m bench.stream_memory [--streams N]`.

Starts the local stack as `bench.stream_route_bench` does (the product's route on the local
host's uvicorn, stream tokens, the real Table event log), with tracemalloc keeping `--frames`
frames per allocation. It opens N idle streams, takes a snapshot, opens N more, takes
another, and prints the difference divided by N: what each further open stream holds, fixed
costs (first-use caches, the pollers of the 10 jobs, the warm-up) left out because both
snapshots have them. Grouped by traceback, each holder is shown by its innermost frames in
the product or the server (`--frames` deep), with bytes and blocks per stream; then the
same by file. RSS growth between N and 2N streams is printed beside the traced figure.

No writer runs: the streams are idle (a heartbeat every `STREAM_HEARTBEAT_SECONDS`), which
is what most of a stream's life is.
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.stream_bench import stop_process
from bench.stream_route_bench import (
    JOBS,
    Window,
    create_jobs,
    open_streams,
    start_stack,
    stream_tokens,
)

SNAPSHOT_SECONDS = 300.0


async def snapshot(pid: int, counters: Path, k: int) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR1)
    done = counters.with_suffix(f".done{k}")
    deadline = time.monotonic() + SNAPSHOT_SECONDS
    while not done.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the host wrote no snapshot")
        await asyncio.sleep(0.2)
    return tracemalloc.Snapshot.load(str(counters.with_suffix(f".snap{k}")))


async def garbage(pid: int, counters: Path, k: int) -> dict[str, Any]:
    """The host's cyclic garbage, collected now (SIGUSR2: objects, bytes, kinds)."""
    os.kill(pid, signal.SIGUSR2)
    path = counters.with_suffix(f".garbage{k}")
    deadline = time.monotonic() + SNAPSHOT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the host wrote no garbage census")
        await asyncio.sleep(0.2)
    found: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return found


def print_garbage(when: str, found: dict[str, Any], streams: int) -> None:
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in found["kinds"][:8])
    print(
        f"cyclic garbage {when}: {found['objects']:,} objects, "
        f"{found['bytes'] / 1024 / streams:.2f} KiB per stream (getsizeof); {kinds}"
    )


def interesting(frame: tracemalloc.Frame) -> bool:
    return "tracemalloc" not in frame.filename


def where(trace: tracemalloc.Traceback, depth: int) -> str:
    frames = [f for f in reversed(trace) if interesting(f)][:depth]  # innermost first
    return " <- ".join(f"{short(f.filename)}:{f.lineno}" for f in frames)


def short(filename: str) -> str:
    for marker in ("site-packages/", "/h-streammem/", "/lib/python3.13/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, streams: int, top: int, depth: int
) -> None:
    by_trace = after.compare_to(before, "traceback")
    grown = sum(s.size_diff for s in by_trace)
    print(f"traced growth: {grown / 1024 / streams:.2f} KiB per stream ({len(by_trace)} places)")
    print(f"\ntop {top} holders by traceback (bytes, blocks per stream):")
    for stat in by_trace[:top]:
        if stat.size_diff <= 0:
            break
        print(
            f"{stat.size_diff / streams:8.0f} B {stat.count_diff / streams:5.1f}  "
            f"{where(stat.traceback, depth)}"
        )
    print("\nby file of the allocation (bytes per stream):")
    for stat in after.compare_to(before, "filename")[:top]:
        if stat.size_diff <= 0:
            break
        print(f"{stat.size_diff / streams:8.0f} B  {short(stat.traceback[0].filename)}")


async def run(
    streams: int, frames: int, top: int, depth: int, host_args: list[str], traced: bool
) -> None:
    import psutil

    with tempfile.TemporaryDirectory(prefix="stream-memory-") as workdir:
        own = ["--frames", str(frames), "--dump"] if traced else []
        stack = await asyncio.to_thread(start_stack, Path(workdir), traced, own, host_args)
        try:
            storage, job_ids = await create_jobs(stack.connection_string)
            tokens = await stream_tokens(stack.secret, job_ids)
            port = int(stack.state["baseUrl"].rsplit(":", 1)[1])
            paths = [
                (job_ids[i % JOBS], f"/api/v1/jobs/{job_ids[i % JOBS]}/stream?token=")
                for i in range(streams)
            ]
            paths = [(j, p + tokens[j]) for j, p in paths]
            server = psutil.Process(stack.process.pid)
            warm = await open_streams(
                port, [(j, paths[i][1]) for i, j in enumerate(job_ids)], Window()
            )
            for transport in warm:
                transport.close()
            await asyncio.sleep(1.5)
            rss_0 = server.memory_info().rss
            held = [await open_streams(port, paths, Window())]
            await asyncio.sleep(1.0)
            rss_n = server.memory_info().rss
            found = [await garbage(server.pid, stack.counters, 0)]
            rss_n_collected = server.memory_info().rss
            first = await snapshot(server.pid, stack.counters, 0) if traced else None
            held.append(await open_streams(port, paths, Window()))
            await asyncio.sleep(1.0)
            rss_2n = server.memory_info().rss
            found.append(await garbage(server.pid, stack.counters, 1))
            second = await snapshot(server.pid, stack.counters, 1) if traced else None
            print(
                f"stream memory: {streams:,} then {2 * streams:,} idle streams on the product's "
                f"route; host args {host_args or 'default'}; "
                + (f"tracemalloc {frames} frames" if traced else "not traced")
            )
            print(
                f"RSS growth 0 -> N: {(rss_n - rss_0) / 1024 / streams:.2f} KiB per stream, "
                f"N -> 2N: {(rss_2n - rss_n) / 1024 / streams:.2f} KiB per stream "
                f"(RSS after collecting the garbage at N: "
                f"{(rss_n_collected - rss_0) / 1024 / streams:.2f} KiB per stream)"
            )
            print_garbage(f"at {streams:,}", found[0], streams)
            print_garbage(f"at {2 * streams:,} (since {streams:,})", found[1], streams)
            if first is not None and second is not None:
                report(first, second, streams, top, depth)
            for transports in held:
                for transport in transports:
                    transport.close()
            await storage.close()
        finally:
            stop_process(stack.process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_memory")
    parser.add_argument("--streams", type=int, default=1000, help="N: snapshots at N and 2N")
    parser.add_argument("--frames", type=int, default=12, help="tracemalloc frames kept")
    parser.add_argument("--top", type=int, default=30, help="holders printed")
    parser.add_argument("--depth", type=int, default=4, help="frames printed per holder")
    parser.add_argument("--rss-only", action="store_true", help="no tracemalloc: RSS alone")
    parser.add_argument("host_args", nargs="*", help="after --: extra devstack host options")
    args = parser.parse_args(argv or [])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(
        run(args.streams, args.frames, args.top, args.depth, args.host_args, not args.rss_only)
    )


if __name__ == "__main__":
    main(sys.argv[1:])
