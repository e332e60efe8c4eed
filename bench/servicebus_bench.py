"""Service Bus emulator cost and throughput: send + receive + complete of small messages.

`python -m bench servicebus` (or `python bench/servicebus_bench.py --messages 10000`).
Starts its own emulator on free ports, once per way of keeping the queues (its journal, as
`make run` keeps them, first; then in memory and the journal with fsync), and prints first
the figure that does not depend on the machine: the emulator's own CPU time (user + system,
from /proc of its pid, over the message phases only) per message sent, received and
completed, and its ratio to a trivial loopback baseline measured in the same run (a bare
asyncio echo server doing one socket round trip per message, as the client's one-by-one
completes make). Then the end-to-end rates of one sync and one async client, which depend
on the machine and on what else runs on it. Rates count the messages actually received and
completed; a run where any message did not come back fails (exit 1).

Connections: azure-servicebus 7.15 does not share an AMQP connection between the handlers of
one ServiceBusClient (its `_connection_sharing` is off), so the sender and the receiver are
two AMQP connections (two sockets) from this one client process.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiver
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.aio import ServiceBusReceiver as AsyncServiceBusReceiver

from devstack.servicebus.amqp import AmqpConnection, now_ms
from devstack.servicebus.codec import DATA, PROPERTIES, Described, Symbol, ULong, section
from devstack.servicebus.config import load_config
from devstack.servicebus.frames import (
    AMQP_HEADER,
    FRAME_SASL,
    SASL_HEADER,
    Attach,
    Begin,
    Disposition,
    Flow,
    Open,
    SaslInit,
    frame,
    transfer_frame,
)
from devstack.servicebus.journal import Journal
from devstack.servicebus.launcher import PROJECT_ROOT, EmulatorProcess, start_emulator
from devstack.servicebus.store import Namespace

QUEUE = "bench"
BODY = b"x" * 64
OPENED = "open a sender and a receiver (2 AMQP connections, 1 client)"
CPU_GOAL_US = 100  # emulator CPU per message sent, received and completed, journal on
RATE_GOAL = 2000  # async end to end, one client
ROUND_TRIP_BYTES = 64  # the baseline's request and its echo: about a disposition frame each
BATCH = 0x80013700  # the SDK's batch message format


class CpuMeter:
    """User + system CPU time of one process, summed over the spans it was started for."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._since: float | None = None
        self.seconds = 0.0

    def _now(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        self._since = self._now()

    def stop(self) -> None:
        assert self._since is not None
        self.seconds += self._now() - self._since
        self._since = None


def _config(path: Path) -> Path:
    queue = {"Name": QUEUE, "Properties": {"LockDuration": "PT1M", "MaxDeliveryCount": 10}}
    document = {"UserConfig": {"Namespaces": [{"Name": "bench", "Queues": [queue]}]}}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _rss_mb(emulator: EmulatorProcess) -> float:
    return float(psutil.Process(emulator.pid).memory_info().rss) / 1e6


def _rate(label: str, count: int, started: float) -> float:
    elapsed = time.perf_counter() - started
    rate = count / elapsed
    print(f"  {label:<44} {count:>6} msgs in {elapsed:6.2f} s = {rate:8.0f} msg/s", flush=True)
    return rate


def _all_back(phase: str, done: int, expected: int) -> None:
    """Fail loudly: a rate over messages that never came back would be a lie."""
    if done != expected:
        raise SystemExit(
            f"servicebus bench FAILED: {phase}: received and completed {done} of {expected}"
        )


def _batches(count: int, size: int) -> list[list[ServiceBusMessage]]:
    return [
        [ServiceBusMessage(BODY) for _ in range(min(size, count - start))]
        for start in range(0, count, size)
    ]


def run_sync(
    emulator: EmulatorProcess, count: int, batch: int, prefetch: int, meter: CpuMeter
) -> tuple[float, int]:
    """(end-to-end msg/s of batched sends, messages sent, received and completed)."""
    print(f"sync client, {count} messages of {len(BODY)} bytes", flush=True)
    with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
        started = time.perf_counter()
        with (
            client.get_queue_sender(QUEUE) as sender,
            client.get_queue_receiver(QUEUE, prefetch_count=prefetch) as receiver,
        ):
            print(f"  {OPENED}: {time.perf_counter() - started:.2f} s")
            meter.start()
            singles = min(count, 1000)
            started = time.perf_counter()
            for _ in range(singles):
                sender.send_messages(ServiceBusMessage(BODY))
            _rate("send, one message per call", singles, started)
            _all_back("single sends", _receive_complete_sync(receiver, singles, batch), singles)
            total_started = time.perf_counter()
            for chunk in _batches(count, batch):
                sender.send_messages(chunk)
            _rate(f"send, batches of {batch}", count, total_started)
            started = time.perf_counter()
            done = _receive_complete_sync(receiver, count, batch)
            _rate(f"receive + complete (prefetch {prefetch})", done, started)
            rate = _rate("send (batched) + receive + complete", done, total_started)
            meter.stop()
            _all_back("sync batched sends", done, count)
            print(f"  all {done} received and completed")
            return rate, singles + count


def _receive_complete_sync(receiver: ServiceBusReceiver, target: int, batch: int) -> int:
    done = 0
    while done < target:
        # ask for no more than is left: the SDK waits max_wait_time to fill a batch
        wanted = min(batch, target - done)
        got = receiver.receive_messages(max_message_count=wanted, max_wait_time=5)
        if not got:
            break
        for message in got:
            receiver.complete_message(message)
        done += len(got)
    return done


async def run_async(
    emulator: EmulatorProcess, count: int, batch: int, prefetch: int, meter: CpuMeter
) -> tuple[float, int]:
    """(end-to-end msg/s of batched sends, messages sent, received and completed)."""
    print(f"async client, {count} messages of {len(BODY)} bytes", flush=True)
    async with AsyncServiceBusClient.from_connection_string(emulator.connection_string) as client:
        started = time.perf_counter()
        async with (
            client.get_queue_sender(QUEUE) as sender,
            client.get_queue_receiver(QUEUE, prefetch_count=prefetch) as receiver,
        ):
            print(f"  {OPENED}: {time.perf_counter() - started:.2f} s")
            await sender.send_messages(ServiceBusMessage(b"warm-up"))
            _all_back("warm-up", await _receive_complete(receiver, 1, batch), 1)
            meter.start()
            total_started = time.perf_counter()
            for chunk in _batches(count, batch):
                await sender.send_messages(chunk)
            _rate(f"send, batches of {batch}", count, total_started)
            started = time.perf_counter()
            done = await _receive_complete(receiver, count, batch)
            _rate(f"receive + complete (prefetch {prefetch})", done, started)
            rate = _rate("send (batched) + receive + complete", done, total_started)
            _all_back("async batched sends", done, count)

            async def produce() -> None:
                for chunk in _batches(count, batch):
                    await sender.send_messages(chunk)

            started = time.perf_counter()
            producing = asyncio.create_task(produce())
            done = await _receive_complete(receiver, count, batch)
            await producing
            _rate("pipelined: sending while receiving + completing", done, started)
            meter.stop()
            _all_back("async pipelined sends", done, count)
            print(f"  all {2 * count} received and completed")
    return rate, 2 * count


async def _receive_complete(receiver: AsyncServiceBusReceiver, target: int, batch: int) -> int:
    """Complete one by one: `asyncio.gather` over many completes is ~5x slower in the SDK."""
    done = 0
    while done < target:
        wanted = min(batch, target - done)  # the SDK waits max_wait_time to fill a batch
        got = await receiver.receive_messages(max_message_count=wanted, max_wait_time=5)
        if not got:
            break
        for message in got:
            await receiver.complete_message(message)
        done += len(got)
    return done


# ---- the loopback baseline ---------------------------------------------------------------
def echo_server() -> None:
    """A bare asyncio echo server on a free port (run in its own process by the bench)."""

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(serve())


async def _round_trips(port: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"r" * ROUND_TRIP_BYTES
    for _ in range(count):
        writer.write(request)
        await reader.readexactly(len(request))
    writer.close()
    await writer.wait_closed()


def loopback_baseline(count: int) -> float:
    """CPU µs the echo server spends per round trip of ``ROUND_TRIP_BYTES`` each way."""
    code = "from bench.servicebus_bench import echo_server; echo_server()"
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        asyncio.run(_round_trips(port, 200))  # warm up
        meter = CpuMeter(server.pid)
        meter.start()
        started = time.perf_counter()
        asyncio.run(_round_trips(port, count))
        elapsed = time.perf_counter() - started
        meter.stop()
    finally:
        server.terminate()
        server.wait(10)
    per_trip = meter.seconds / count * 1e6
    print(
        f"loopback baseline (bare asyncio echo server, {count} round trips of"
        f" {ROUND_TRIP_BYTES} bytes): {per_trip:.1f} us CPU each, {count / elapsed:.0f} round"
        " trips/s",
        flush=True,
    )
    return per_trip


# ---- the emulator's Python alone, in this process ------------------------------------------
class _NullTransport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def _client_frames(count: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """The frames of the bench's workload as the SDK sends them: batches of 100 sends, one
    complete per message, a flow granting 300 more after every 100 completes."""
    sends = []
    for batch, first in enumerate(range(0, count, 100)):
        payload = b"".join(
            section(DATA, section(PROPERTIES, [f"{first + k:032x}"]) + section(DATA, BODY))
            for k in range(min(100, count - first))
        )
        tag = batch.to_bytes(4, "big")
        sends.append(transfer_frame(0, 0, batch, tag, False, payload, message_format=BATCH))
    accepted = Described(ULong(0x24), [])
    completes = [frame(1, Disposition(True, i, i, False, accepted)) for i in range(count)]
    flows = [frame(1, Flow(i, 5000, 0, 5000, 0, i, 300)) for i in range(0, count + 1, 100)]
    return sends, completes, flows


async def _feed(persist: bool, count: int, tmp: Path) -> float:
    namespace = Namespace(load_config(_config(tmp / "config.json")), clock=now_ms)
    journal = Journal(tmp / "data") if persist else None
    if journal is not None:
        journal.open(namespace)
    connection = AmqpConnection(namespace)
    connection.connection_made(_NullTransport())
    source, target = Described(ULong(0x28), [QUEUE]), Described(ULong(0x29), [QUEUE])
    for data in (
        SASL_HEADER,
        frame(0, SaslInit(Symbol("ANONYMOUS")), kind=FRAME_SASL),
        AMQP_HEADER,
        frame(0, Open(container_id="bench", max_frame_size=1 << 20)),
        frame(0, Begin(None, 0, 5000, 5000)),
        frame(1, Begin(None, 0, 5000, 5000)),
        frame(0, Attach("send", 0, False, 2, 0, Described(ULong(0x28), ["me"]), target)),
        frame(1, Attach("receive", 0, True, 0, 1, source, Described(ULong(0x29), ["me"]))),
        frame(1, Flow(0, 5000, 0, 5000, 0, 0, 300)),
    ):
        connection.data_received(data)
    sends, completes, flows = _client_frames(count)
    started = time.process_time()
    done = 0
    for send in sends:
        connection.data_received(send)
        await asyncio.sleep(0)  # the scheduled flushes
        for _ in range(100):
            connection.data_received(completes[done])
            done += 1
        connection.data_received(flows[done // 100])
        await asyncio.sleep(0)
    elapsed = time.process_time() - started
    _all_back("in-process", connection.delivered, count)
    if journal is not None:
        journal.close()
    return elapsed / count * 1e6


def in_process_cost(persist: bool, count: int) -> float:
    """CPU µs per message of the emulator's own code, fed the frames of the same workload in
    this process through a transport that drops what it is given: no socket, no event-loop
    wake-ups, no client. The best of three runs."""
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
            runs.append(asyncio.run(_feed(persist, count, Path(tmp))))
    return min(runs)


# ---- the emulator, per way of keeping the queues -------------------------------------------
@dataclass(frozen=True)
class Mode:
    label: str
    persist: bool
    fsync: bool


# The journal (what `make run` uses: a write per batch of changes, in the kernel before the
# client is answered) first: the goals are about it. In memory, and flushed to disk before
# every answer (--fsync), for comparison.
MODES: dict[str, Mode] = {
    "journal": Mode("journal (make run's default)", True, False),
    "memory": Mode("in memory", False, False),
    "fsync": Mode("journal + fsync", True, True),
}


@dataclass(frozen=True)
class Result:
    mode: Mode
    cpu_us: float  # emulator CPU per message sent, received and completed
    sync_rate: float
    async_rate: float


def run_mode(tmp: Path, mode: Mode, args: argparse.Namespace) -> Result:
    config = _config(tmp / "config.json")
    data = tmp / "data" if mode.persist else None
    emulator = start_emulator(
        config, log_path=tmp / "servicebus.log", data_dir=data, fsync=mode.fsync
    )
    try:
        print(f"--- {mode.label}: emulator pid {emulator.pid}, RSS {_rss_mb(emulator):.1f} MB")
        meter = CpuMeter(emulator.pid)
        sync_rate, sync_handled = run_sync(
            emulator, args.messages, args.batch, args.prefetch, meter
        )
        async_rate, async_handled = asyncio.run(
            run_async(emulator, args.messages, args.batch, args.prefetch, meter)
        )
        print(f"emulator RSS after both runs {_rss_mb(emulator):.1f} MB")
        handled = sync_handled + async_handled
        per_message = meter.seconds / handled * 1e6
        print(
            f"emulator CPU {meter.seconds:.2f} s over the {handled} messages sent, received and"
            f" completed = {per_message:.0f} us each (~{handled / meter.seconds:.0f} msg/s of"
            " one core)"
        )
        if data is not None:
            journal = data / "journal.jsonl"
            print(f"journal {journal.stat().st_size / 1024:.0f} KiB after the runs")
        return Result(mode, per_message, sync_rate, async_rate)
    finally:
        emulator.stop()


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def summary(results: list[Result], baseline_us: float) -> None:
    print(
        "summary. Machine-independent: emulator CPU per message sent + received + completed,"
        f" and x the loopback baseline ({baseline_us:.1f} us per round trip, same run)."
        " Machine-dependent: msg/s end to end (one client; noisy on a shared machine)."
    )
    for result in results:
        ratio = result.cpu_us / baseline_us
        print(
            f"  {result.mode.label:<30} CPU {result.cpu_us:5.0f} us/message (x{ratio:.1f}"
            f" loopback); sync {result.sync_rate:5.0f} msg/s, async {result.async_rate:5.0f}"
            " msg/s"
        )
    journal = next((r for r in results if r.mode is MODES["journal"]), None)
    if journal is None:
        return
    print(
        f"goal: emulator CPU <= {CPU_GOAL_US} us/message with its journal:"
        f" {journal.cpu_us:.0f} us, {_verdict(journal.cpu_us <= CPU_GOAL_US)}"
    )
    print(
        f"goal: async end to end >= {RATE_GOAL} msg/s with its journal (machine-dependent):"
        f" {journal.async_rate:.0f} msg/s, {_verdict(journal.async_rate >= RATE_GOAL)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--prefetch", type=int, default=300)
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated, of {', '.join(MODES)} (default: all, journal first)",
    )
    args = parser.parse_args(argv or [])
    modes = [MODES[name.strip()] for name in args.modes.split(",") if name.strip()]
    print(
        "each client below: one ServiceBusClient whose sender and receiver are two AMQP"
        " connections (azure-servicebus 7.15 shares none between handlers)"
    )
    baseline_us = loopback_baseline(2 * args.messages)
    alone = {persist: in_process_cost(persist, 2 * args.messages) for persist in (True, False)}
    print(
        f"the emulator's own code alone, in-process (no socket, no client; best of 3):"
        f" {alone[True]:.1f} us per message with its journal, {alone[False]:.1f} in memory",
        flush=True,
    )
    results: list[Result] = []
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
            results.append(run_mode(Path(tmp), mode, args))
    summary(results, baseline_us)


if __name__ == "__main__":
    main(sys.argv[1:])
