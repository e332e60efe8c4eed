"""Service Bus emulator throughput: send + receive + complete of small messages, sync and async.

`python -m bench servicebus` (or `python bench/servicebus_bench.py --messages 10000`).
Starts its own emulator on free ports, once per way of keeping the queues (in memory, the
journal, the journal with fsync), and prints messages per second for each phase, the
emulator's resident memory (RSS) and CPU per message, each beside the in-memory baseline.
Rates count the messages actually received and completed; a run where any message did not
come back fails (exit 1).

Connections: azure-servicebus 7.15 does not share an AMQP connection between the handlers of
one ServiceBusClient (its `_connection_sharing` is off), so the sender and the receiver are
two AMQP connections (two sockets) from this one client process.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiver
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.aio import ServiceBusReceiver as AsyncServiceBusReceiver

from devstack.servicebus.launcher import EmulatorProcess, start_emulator

QUEUE = "bench"
BODY = b"x" * 64
OPENED = "open a sender and a receiver (2 AMQP connections, 1 client)"


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


def run_sync(emulator: EmulatorProcess, count: int, batch: int, prefetch: int) -> float:
    print(f"sync client, {count} messages of {len(BODY)} bytes", flush=True)
    with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
        started = time.perf_counter()
        with (
            client.get_queue_sender(QUEUE) as sender,
            client.get_queue_receiver(QUEUE, prefetch_count=prefetch) as receiver,
        ):
            print(f"  {OPENED}: {time.perf_counter() - started:.2f} s")
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
            _all_back("sync batched sends", done, count)
            print(f"  all {done} received and completed")
            return rate


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


async def run_async(emulator: EmulatorProcess, count: int, batch: int, prefetch: int) -> float:
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
            _all_back("async pipelined sends", done, count)
            print(f"  all {2 * count} received and completed")
    return rate


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


# How the emulator keeps its queues: in memory (the baseline), in its journal (what
# `make run` uses: a write per change, in the kernel before the client is answered), and the
# journal flushed to disk on every change (--fsync).
MODES: tuple[tuple[str, bool, bool], ...] = (
    ("in memory", False, False),
    ("journal (make run's default)", True, False),
    ("journal + fsync", True, True),
)
GOAL = 2000


def run_mode(
    tmp: Path, label: str, persist: bool, fsync: bool, args: argparse.Namespace
) -> tuple[float, float, float]:
    """(sync msg/s, async msg/s, emulator CPU µs per message) of one emulator mode."""
    config = _config(tmp / "config.json")
    data = tmp / f"data-{len(label)}" if persist else None
    emulator = start_emulator(config, log_path=tmp / "servicebus.log", data_dir=data, fsync=fsync)
    try:
        print(f"--- {label}: emulator pid {emulator.pid}, RSS at start {_rss_mb(emulator):.1f} MB")
        sync_rate = run_sync(emulator, args.messages, args.batch, args.prefetch)
        async_rate = asyncio.run(run_async(emulator, args.messages, args.batch, args.prefetch))
        print(f"emulator RSS after both runs {_rss_mb(emulator):.1f} MB")
        cpu = psutil.Process(emulator.pid).cpu_times()
        handled = 3 * args.messages + min(args.messages, 1000)
        busy = cpu.user + cpu.system
        per_message = busy / handled * 1e6
        print(
            f"emulator CPU time {busy:.1f} s for about {handled} messages sent, received"
            f" and completed = {per_message:.0f} us each (~{handled / busy:.0f} msg/s of one core)"
        )
        if data is not None:
            journal = data / "journal.jsonl"
            print(f"journal {journal.stat().st_size / 1024:.0f} KiB after the runs")
        return sync_rate, async_rate, per_message
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--prefetch", type=int, default=300)
    args = parser.parse_args(argv or [])
    print(
        "each client below: one ServiceBusClient whose sender and receiver are two AMQP"
        " connections (azure-servicebus 7.15 shares none between handlers)"
    )
    results: list[tuple[str, float, float, float]] = []
    for label, persist, fsync in MODES:
        with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
            results.append((label, *run_mode(Path(tmp), label, persist, fsync, args)))
    base_sync, base_async, base_cpu = results[0][1:]
    print(f"summary (goal {GOAL} msg/s end to end; the in-memory emulator is the baseline):")
    for label, sync_rate, async_rate, cpu in results:
        verdicts = ", ".join(
            f"{kind} {rate:.0f} msg/s (baseline {base:.0f}, x{rate / base:.2f},"
            f" {'meets' if rate >= GOAL else 'misses'} the goal)"
            for kind, rate, base in (
                ("sync", sync_rate, base_sync),
                ("async", async_rate, base_async),
            )
        )
        print(f"  {label}: {verdicts}; CPU {cpu:.0f} us/message (baseline {base_cpu:.0f})")


if __name__ == "__main__":
    main(sys.argv[1:])
