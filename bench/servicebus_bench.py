"""Service Bus emulator throughput: send + receive + complete of small messages, sync and async.

`python -m bench servicebus` (or `python bench/servicebus_bench.py --messages 10000`).
Starts its own emulator on free ports, prints messages per second for each phase and the
emulator's resident memory (RSS) before and after. Rates count the messages actually received
and completed; a run where any message did not come back fails (exit 1).

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--prefetch", type=int, default=300)
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
        config = _config(Path(tmp) / "config.json")
        emulator = start_emulator(config, log_path=Path(tmp) / "servicebus.log")
        try:
            print(f"emulator pid {emulator.pid}, RSS at start {_rss_mb(emulator):.1f} MB")
            print(
                "each client below: one ServiceBusClient whose sender and receiver are two AMQP"
                " connections (azure-servicebus 7.15 shares none between handlers)"
            )
            sync_rate = run_sync(emulator, args.messages, args.batch, args.prefetch)
            print(f"emulator RSS after sync run {_rss_mb(emulator):.1f} MB")
            async_rate = asyncio.run(run_async(emulator, args.messages, args.batch, args.prefetch))
            print(f"emulator RSS after async run {_rss_mb(emulator):.1f} MB")
            cpu = psutil.Process(emulator.pid).cpu_times()
            handled = 3 * args.messages + min(args.messages, 1000)
            busy = cpu.user + cpu.system
            print(
                f"emulator CPU time {busy:.1f} s for about {handled} messages sent, received"
                f" and completed = {busy / handled * 1e6:.0f} us each"
                f" (~{handled / busy:.0f} msg/s of one core)"
            )
            goal = 2000
            for label, rate in (("sync", sync_rate), ("async", async_rate)):
                verdict = "meets" if rate >= goal else "misses"
                print(f"{label}: {rate:.0f} msg/s end to end, {verdict} the {goal} msg/s goal")
        finally:
            emulator.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
