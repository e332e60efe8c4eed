"""The emulator as a process: ready line, clean SIGTERM, one log line per connection."""

import re
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiveMode

from devstack.servicebus.launcher import PROJECT_ROOT, start_emulator

pytestmark = pytest.mark.integration

CONFIG = PROJECT_ROOT / "devstack/servicebus/config.json"


def test_logs_a_line_per_connection_not_per_message_and_stops_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "servicebus.log"
    emulator = start_emulator(CONFIG, log_path=log)
    try:
        assert emulator.port != 5672  # free port; the connection string carries it
        with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
            with client.get_queue_sender("document-analysis") as sender:
                sender.send_messages([ServiceBusMessage(f"m{i}") for i in range(30)])
            with client.get_queue_receiver(
                "document-analysis", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
            ) as receiver:
                got = 0
                while got < 30:
                    batch = receiver.receive_messages(max_message_count=30 - got, max_wait_time=5)
                    assert batch
                    got += len(batch)
    finally:
        exit_code = emulator.stop()
    assert exit_code == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    connections = [line for line in lines if "connection from" in line]
    assert len(connections) == 2, lines
    assert re.search(r"30 messages in, 0 delivered, 0 errors", connections[0])
    assert re.search(r"0 messages in, 30 delivered, 0 errors", connections[1])
    assert len(lines) < 10
