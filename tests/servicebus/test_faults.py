"""The admin endpoint's fault hook: off unless the emulator runs with --allow-faults; with it,
POST /faults/drop-connections resets every AMQP connection and the SDK reconnects."""

import time
from pathlib import Path

import httpx
import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiveMode

from devstack.servicebus.launcher import EmulatorProcess, start_emulator
from function_app.topology import topology
from tests.support.servicebus import project_emulator_config

pytestmark = pytest.mark.integration

# One of the app's queues (function_app/queues.json), as `python -m devstack` creates them.
QUEUE = topology().queues[-1].name


def _drop(emulator: EmulatorProcess) -> httpx.Response:
    return httpx.post(emulator.admin_url + "/faults/drop-connections", timeout=5)


def test_the_hook_is_refused_without_allow_faults(servicebus_emulator: EmulatorProcess) -> None:
    refused = _drop(servicebus_emulator)
    assert refused.status_code == 403
    assert "--allow-faults" in refused.json()["error"]
    # the rest of the endpoint stays read-only
    assert httpx.post(servicebus_emulator.admin_url + "/health", timeout=5).status_code == 405
    assert httpx.get(servicebus_emulator.admin_url + "/faults/drop-connections").status_code == 405


def test_dropped_connections_are_reset_and_the_sdk_carries_on(tmp_path: Path) -> None:
    log = tmp_path / "servicebus.log"
    emulator = start_emulator(project_emulator_config(tmp_path), log_path=log, allow_faults=True)
    try:
        assert _drop(emulator).json() == {"dropped": 0}
        with (
            ServiceBusClient.from_connection_string(
                emulator.connection_string, retry_total=3, retry_backoff_factor=0.2
            ) as client,
            client.get_queue_sender(QUEUE) as sender,
            client.get_queue_receiver(
                QUEUE, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
            ) as receiver,
        ):
            sender.send_messages(ServiceBusMessage("before", message_id="before"))
            (first,) = receiver.receive_messages(max_wait_time=5)
            assert str(first) == "before"
            dropped = _drop(emulator)
            assert dropped.status_code == 200
            assert dropped.json() == {"dropped": 2}  # the sender's and the receiver's
            # the same handlers, after the reset: the SDK reconnects (retry) and carries on
            sender.send_messages(ServiceBusMessage("after", message_id="after"))
            got = []
            deadline = time.monotonic() + 30
            while not got and time.monotonic() < deadline:
                got = receiver.receive_messages(max_wait_time=2)
            assert [str(m) for m in got] == ["after"]
    finally:
        assert emulator.stop() == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    dropped_lines = [line for line in lines if "dropped by the fault hook" in line]
    assert len(dropped_lines) == 2, lines
    assert all(line.endswith(" 0 errors") for line in dropped_lines)
