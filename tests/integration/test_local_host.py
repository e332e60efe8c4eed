"""The local Functions host against a tiny app (tests/integration/local_host_app), over real
HTTP and a real Service Bus emulator driven by the unmodified azure-servicebus SDK."""

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient

from devstack.servicebus.launcher import EmulatorProcess, start_emulator
from tests.support.stack import free_port, start_python, stop_process, wait_for_http

pytestmark = pytest.mark.integration

APP_DIR = Path(__file__).parent / "local_host_app"
QUEUE = "tiny-jobs"
DRAIN_QUEUE = "tiny-drain"
MAX_DELIVERY_COUNT = 3
WAIT_SECONDS = 60.0
MAX_CONCURRENT_CALLS = 4  # local_host_app/host.json


@dataclass
class TinyHost:
    mode: str
    base_url: str
    connection_string: str
    process: subprocess.Popen[bytes]
    log_path: Path
    emulator: EmulatorProcess
    config_path: Path

    def restart_emulator(self) -> None:
        """Stop the emulator and start a fresh one on the same port (its queues start empty)."""
        self.emulator.stop()
        self.emulator = start_emulator(
            self.config_path,
            "127.0.0.1",
            port=self.emulator.port,
            admin_port=self.emulator.admin_port,
            log_path=self.log_path.with_name("emulator.log"),
        )


def emulator_config(path: Path) -> Path:
    properties = {
        "LockDuration": "PT30S",
        "MaxDeliveryCount": MAX_DELIVERY_COUNT,
        "DefaultMessageTimeToLive": "PT1H",
        "DeadLetteringOnMessageExpiration": True,
        "RequiresDuplicateDetection": False,
        "RequiresSession": False,
    }
    config = {
        "UserConfig": {
            "Namespaces": [
                {
                    "Name": "sbemulatorns",
                    "Queues": [
                        {"Name": name, "Properties": properties} for name in (QUEUE, DRAIN_QUEUE)
                    ],
                }
            ],
            "Logging": {"Type": "Console"},
        }
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


MODES = ("inprocess", "worker")  # JOBSTREAM_LOCAL_WORKER: where the functions run


def start_tiny_host(
    workdir: Path, connection_string: str, queue: str, mode: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`python -m devstack.host` for a copy of the tiny app under `workdir`."""
    root = workdir / f"app-{queue}"
    shutil.copytree(APP_DIR, root)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "ServiceBusConnection"},
        "PYTHON_SCRIPT_FILE_NAME": "tiny_app.py",
        "ServiceBusConnection": connection_string,
        "TINY_QUEUE": queue,
        "JOBSTREAM_LOCAL_WORKER": mode,
    }
    log_path = workdir / f"host-{queue}.log"
    process = start_python(
        ["-m", "devstack.host", "--root", str(root), "--port", str(port)], env, log_path
    )
    return process, f"http://127.0.0.1:{port}", log_path


@pytest.fixture(scope="module", params=MODES)
def tiny_host(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TinyHost]:
    mode: str = request.param
    workdir = tmp_path_factory.mktemp(f"tiny-host-{mode}")
    config_path = emulator_config(workdir / "config.json")
    emulator = start_emulator(
        config_path,
        "127.0.0.1",
        log_path=workdir / "emulator.log",
    )
    process, base_url, log_path = start_tiny_host(workdir, emulator.connection_string, QUEUE, mode)
    host = TinyHost(
        mode, base_url, emulator.connection_string, process, log_path, emulator, config_path
    )
    try:
        wait_for_http(f"{base_url}/api/received", process, log_path)
        yield host
    finally:
        stop_process(process)
        host.emulator.stop()


async def received(host: TinyHost, message_id: str, kind: str, count: int) -> list[dict[str, Any]]:
    """Poll the app until it has recorded `count` deliveries of `message_id` of `kind`."""
    return await received_at(host.base_url, message_id, kind, count)


async def received_at(
    base_url: str, message_id: str, kind: str, count: int
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(int(WAIT_SECONDS / 0.1)):
            entries = [
                e
                for e in (await http.get("/api/received")).json()
                if e["message_id"] == message_id and e["kind"] == kind
            ]
            if len(entries) >= count:
                return entries
            await asyncio.sleep(0.1)
    pytest.fail(f"{kind} deliveries of {message_id}: wanted {count}, got {entries}")


async def send(host: TinyHost, message: ServiceBusMessage, queue: str = QUEUE) -> None:
    async with (
        ServiceBusClient.from_connection_string(host.connection_string) as client,
        client.get_queue_sender(queue) as sender,
    ):
        await sender.send_messages(message)


async def still_queued(host: TinyHost, queue: str) -> set[str]:
    """Message ids still in `queue`, locked or not (peek with a fresh receiver)."""
    async with (
        ServiceBusClient.from_connection_string(host.connection_string) as client,
        client.get_queue_receiver(queue) as receiver,
    ):
        return {str(m.message_id) for m in await receiver.peek_messages(max_message_count=100)}


async def test_path_params_and_methods_reach_the_function(tiny_host: TinyHost) -> None:
    async with httpx.AsyncClient(base_url=tiny_host.base_url) as http:
        got = await http.get("/api/items/42")
        posted = await http.post("/api/items/7")
        not_int = await http.get("/api/items/abc")
        wrong_method = await http.delete("/api/items/42")
        catch_all = await http.get("/api/files/a/b/c.txt")

    assert got.json() == {"itemId": "42", "method": "GET"}
    assert posted.json() == {"itemId": "7", "method": "POST"}
    assert not_int.status_code == 404
    assert not_int.json()["success"] is False
    assert wrong_method.status_code == 405
    assert catch_all.json() == {"rest": "a/b/c.txt"}


async def test_in_worker_mode_http_functions_run_behind_the_workers_http_v2_server(
    tiny_host: TinyHost,
) -> None:
    async with httpx.AsyncClient(base_url=tiny_host.base_url) as http:
        answer = (await http.get("/api/whoami")).json()

    if tiny_host.mode == "worker":
        # Another process than the host, reached with the id that pairs it to an invocation.
        assert answer["pid"] != tiny_host.process.pid
        assert answer["invocationId"]
    else:
        assert answer == {"pid": tiny_host.process.pid, "invocationId": None}


async def test_a_streaming_response_is_not_buffered(tiny_host: TinyHost) -> None:
    token = uuid.uuid4().hex
    async with (
        httpx.AsyncClient(base_url=tiny_host.base_url, timeout=30.0) as http,
        http.stream("GET", f"/api/stream/{token}") as response,
    ):
        chunks = response.aiter_raw()
        # The second chunk is only produced after the client has seen the first one and
        # released the gate: a buffering host would never deliver the first.
        first = await asyncio.wait_for(anext(chunks), timeout=WAIT_SECONDS)
        await http.post(f"/api/release/{token}")
        rest = b"".join([chunk async for chunk in chunks])

    assert first == b"first\n"
    assert rest == b"second\n"


async def test_a_queue_trigger_gets_a_worker_message_with_the_properties(
    tiny_host: TinyHost,
) -> None:
    message_id = f"msg-{uuid.uuid4()}"
    await send(
        tiny_host,
        ServiceBusMessage(
            b'{"hello": "world"}',
            message_id=message_id,
            content_type="application/json",
            correlation_id="corr-1",
            reply_to="replies",
            to="tiny",
            subject="greeting",
            time_to_live=timedelta(minutes=10),
            application_properties={"jobName": "tiny", "attempt": 2},
        ),
    )
    sent_at = datetime.now(UTC)

    [entry] = await received(tiny_host, message_id, "queue", 1)

    assert entry["type"] == "azure.functions.servicebus.ServiceBusMessage"
    assert entry["delivery_count"] == 1  # 1-based, as the Functions host reports it
    assert entry["body"] == '{"hello": "world"}'
    assert entry["content_type"] == "application/json"
    assert entry["correlation_id"] == "corr-1"
    assert entry["application_properties"] == {"jobName": "tiny", "attempt": 2}
    assert entry["user_properties"] == {"jobName": "tiny", "attempt": 2}
    assert entry["reply_to"] == "replies"
    assert entry["to"] == "tiny"
    assert entry["subject"] == entry["label"] == "greeting"
    assert entry["dead_letter_reason"] is None
    assert isinstance(entry["sequence_number"], int)
    assert UUID(entry["lock_token"])
    enqueued = datetime.fromisoformat(entry["enqueued_time_utc"])
    assert enqueued.tzinfo is not None
    assert abs((enqueued - sent_at).total_seconds()) < 60
    expires = datetime.fromisoformat(entry["expires_at_utc"])
    assert expires - enqueued == timedelta(minutes=10)
    assert datetime.fromisoformat(entry["locked_until"]) > enqueued
    in_host = entry["pid"] == tiny_host.process.pid
    assert in_host is (tiny_host.mode == "inprocess")


async def test_an_exception_abandons_and_the_redelivery_counts_one_more(
    tiny_host: TinyHost,
) -> None:
    message_id = f"msg-{uuid.uuid4()}"
    await send(
        tiny_host,
        ServiceBusMessage(
            b"retry me", message_id=message_id, application_properties={"fail_times": 1}
        ),
    )

    first, second = await received(tiny_host, message_id, "queue", 2)

    assert second["delivery_count"] == first["delivery_count"] + 1
    assert second["lock_token"] != first["lock_token"]


async def test_success_completes_the_message(tiny_host: TinyHost) -> None:
    message_id = f"msg-{uuid.uuid4()}"
    await send(tiny_host, ServiceBusMessage(b"once", message_id=message_id))
    await received(tiny_host, message_id, "queue", 1)

    # Peek (from the start, with a fresh receiver) sees every message still in the queue,
    # locked or not: a completed one is gone.
    for _ in range(int(WAIT_SECONDS / 0.5)):
        left = await still_queued(tiny_host, QUEUE)
        if message_id not in left:
            break
        await asyncio.sleep(0.5)

    assert message_id not in left
    assert len(await received(tiny_host, message_id, "queue", 1)) == 1


async def test_the_last_failed_delivery_reaches_the_dead_letter_trigger(
    tiny_host: TinyHost,
) -> None:
    message_id = f"msg-{uuid.uuid4()}"
    await send(
        tiny_host,
        ServiceBusMessage(
            b"poison", message_id=message_id, application_properties={"fail_times": 99}
        ),
    )

    [dead] = await received(tiny_host, message_id, "dead-letter", 1)

    assert dead["body"] == "poison"
    assert len(await received(tiny_host, message_id, "queue", MAX_DELIVERY_COUNT)) == (
        MAX_DELIVERY_COUNT
    )


async def test_invocations_run_concurrently_up_to_max_concurrent_calls(
    tiny_host: TinyHost,
) -> None:
    group = uuid.uuid4().hex
    ids = [f"msg-{uuid.uuid4()}" for _ in range(MAX_CONCURRENT_CALLS + 2)]
    async with (
        ServiceBusClient.from_connection_string(tiny_host.connection_string) as client,
        client.get_queue_sender(QUEUE) as sender,
    ):
        await sender.send_messages(
            [
                ServiceBusMessage(
                    b"held",
                    message_id=message_id,
                    application_properties={"group": group, "hold_seconds": 2},
                )
                for message_id in ids
            ]
        )

    for message_id in ids:
        await received(tiny_host, message_id, "queue", 1)
    async with httpx.AsyncClient(base_url=tiny_host.base_url) as http:
        most = (await http.get(f"/api/concurrency/{group}")).json()["most"]

    # All six were queued at once and each holds its slot for 2 s: the host runs
    # maxConcurrentCalls (host.json) of them side by side, and never more.
    assert most == MAX_CONCURRENT_CALLS


async def test_sigterm_lets_an_invocation_in_flight_finish_and_complete(
    tiny_host: TinyHost, tmp_path: Path
) -> None:
    process, base_url, log_path = start_tiny_host(
        tmp_path, tiny_host.connection_string, DRAIN_QUEUE, tiny_host.mode
    )
    try:
        wait_for_http(f"{base_url}/api/received", process, log_path)
        message_id = f"msg-{uuid.uuid4()}"
        held = ServiceBusMessage(
            b"slow", message_id=message_id, application_properties={"hold_seconds": 5}
        )
        await send(tiny_host, held, DRAIN_QUEUE)
        await received_at(base_url, message_id, "queue", 1)  # the invocation has started
    finally:
        exit_code = stop_process(process)

    assert exit_code == 0, log_path.read_text()
    assert message_id not in await still_queued(tiny_host, DRAIN_QUEUE)
    assert "abandon" not in log_path.read_text()


async def test_the_host_reconnects_after_the_broker_restarts(tiny_host: TinyHost) -> None:
    # Runs last in this module: the restarted emulator starts with empty queues.
    tiny_host.restart_emulator()
    message_id = f"msg-{uuid.uuid4()}"

    await send(tiny_host, ServiceBusMessage(b"after restart", message_id=message_id))

    [entry] = await received(tiny_host, message_id, "queue", 1)
    assert entry["body"] == "after restart"
    assert tiny_host.process.poll() is None
