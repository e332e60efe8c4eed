"""One job's fan-out inside the process: what our own code spends per delivered event.

`python -m bench.stream_fanout_bench [--viewers 500] [--events 200]` (or `python -m bench
stream_fanout`). The stream hub on the real clock (as bootstrap builds it) over the
in-memory event log, `--viewers` viewers of one job, each iterating what the route sends
(`sse.event_stream`: the hub's items framed as SSE bytes) with no HTTP server, socket or
client. Each event is recorded and the job's poller nudged (as a write on this instance
does); the next one follows when every viewer has its frame.

Printed: CPU per delivered event (one event reaching one viewer; machine-dependent, but far
less noisy than the route bench since nothing else is measured), and the fan-out per
wake-up (from the nudge to the last viewer's frame, median). The route bench
(`stream_route_bench`) adds uvicorn, the middleware, the socket write and the client; its
figure per event less this one is the framework's and the kernel's part.
"""

import argparse
import asyncio
import importlib
import time
import uuid
from typing import Any

from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, JobStatus
from function_app.entrypoints.sse import event_stream
from function_app.services.streaming import StreamHub


class Frames:
    """Frames the viewers received, and a wait for the next `n` of them."""

    def __init__(self) -> None:
        self.count = 0
        self._target = 0
        self._reached = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count == self._target:
            self._reached.set()

    async def next(self, n: int) -> None:
        await self.until(self.count + n)

    async def until(self, target: int) -> None:
        self._target = target
        self._reached.clear()
        if self.count < target:
            await self._reached.wait()


async def fan_out(viewers: int, events: int) -> tuple[float, float]:
    """(CPU seconds per delivery, median seconds from nudge to the last viewer's frame)."""
    # The test fakes, looked up at run time (bench/ is type-checked, tests/ is not).
    fakes = importlib.import_module("tests.fakes")
    clock = fakes.FixedClock()
    log: Any = fakes.FakeEventLog(clock.now)
    job_id = uuid.uuid4().hex
    log.add_job(job_id)
    hub = StreamHub(log, clock)
    frames = Frames()

    async def viewer() -> None:
        stream = await hub.open(Caller("alice"), job_id, 0)
        assert stream is not None
        async for _chunk in event_stream(stream, 2000):
            frames.add()

    tasks = [asyncio.create_task(viewer()) for _ in range(viewers)]
    await frames.until(2 * viewers)  # `connected` and the job's first event, for each
    spans: list[float] = []
    started = time.process_time()
    for i in range(events):
        log.record(job_id, EventDraft(JobStatus.IN_PROGRESS, i % 100, "analyzing", f"{i}"))
        began = time.perf_counter()
        hub.nudge(job_id)
        await frames.next(viewers)
        spans.append(time.perf_counter() - began)
    cpu = time.process_time() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    spans.sort()
    return cpu / (viewers * events), spans[len(spans) // 2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_fanout_bench")
    parser.add_argument("--viewers", type=int, default=500, help="viewers of the one job")
    parser.add_argument("--events", type=int, default=200, help="events recorded")
    args = parser.parse_args([] if argv is None else argv)
    per_delivery, median = asyncio.run(fan_out(args.viewers, args.events))
    print(
        f"stream fan-out in process: {args.viewers} viewers x {args.events} events: "
        f"{1e6 * per_delivery:.2f} us CPU per delivered event (hub + SSE framing), "
        f"fan-out per wake-up p50 {1e3 * median:.2f} ms (machine-dependent)"
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
