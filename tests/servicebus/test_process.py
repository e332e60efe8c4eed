"""The emulator as a process: ready line, clean SIGTERM, one log line per connection."""

import re
import socket
import time
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiveMode
from azure.servicebus.exceptions import MessagingEntityNotFoundError

from devstack.servicebus.launcher import start_emulator
from function_app.topology import topology
from tests.support.servicebus import project_emulator_config

pytestmark = pytest.mark.integration

# Two of the app's queues (function_app/queues.json), as `python -m devstack` creates them.
FIRST, LAST = topology().queues[0].name, topology().queues[-1].name


def test_logs_a_line_per_connection_not_per_message_and_stops_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "servicebus.log"
    emulator = start_emulator(project_emulator_config(tmp_path), log_path=log)
    try:
        assert emulator.port != 5672  # free port; the connection string carries it
        with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
            with client.get_queue_sender(LAST) as sender:
                sender.send_messages([ServiceBusMessage(f"m{i}") for i in range(30)])
            with client.get_queue_receiver(
                LAST, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
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


def test_an_error_is_one_line_and_messages_make_none(tmp_path: Path) -> None:
    log = tmp_path / "servicebus.log"
    emulator = start_emulator(project_emulator_config(tmp_path), log_path=log)
    count = 50
    try:
        with ServiceBusClient.from_connection_string(
            emulator.connection_string, retry_total=0
        ) as client:
            with (
                pytest.raises(MessagingEntityNotFoundError),
                client.get_queue_sender("no-such-queue") as missing,
            ):
                missing.send_messages(ServiceBusMessage("lost"))
            with client.get_queue_sender(FIRST) as sender:
                sender.send_messages([ServiceBusMessage(f"m{i}") for i in range(count)])
            with client.get_queue_receiver(FIRST, prefetch_count=count) as receiver:
                done = 0
                deadline = time.monotonic() + 30
                while done < count and time.monotonic() < deadline:
                    for message in receiver.receive_messages(
                        max_message_count=count - done, max_wait_time=2
                    ):
                        receiver.complete_message(message)
                        done += 1
                assert done == count
        # a client that speaks no AMQP at all: a framing error, reported once
        with socket.create_connection((emulator.host, emulator.port), timeout=5) as raw:
            raw.sendall(b"HELLO NOT AMQP\r\n\r\n")
            raw.settimeout(5)
            while raw.recv(4096):
                pass
    finally:
        exit_code = emulator.stop()
    assert exit_code == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    connections = [
        line for line in lines if "servicebus: connection from" in line and " after " in line
    ]
    errors = [line for line in lines if " WARNING " in line or " ERROR " in line]
    others = [line for line in lines if line not in connections and line not in errors]
    assert len(errors) == 1, lines  # one line for the refused attach, no traceback
    assert "could not be found" in errors[0]
    assert "no-such-queue" in errors[0]
    assert [line for line in others if "namespace sbemulatorns with queues" not in line] == []
    counted = [line for line in connections if not line.endswith(" 0 errors")]
    assert len(counted) == 2, connections  # the refused attach and the framing error
    assert any("1 errors" in line and "0 messages in" in line for line in counted)
    framing = [line for line in counted if "framing-error" in line]
    assert len(framing) == 1, connections  # not hidden, not logged twice
    assert framing[0].endswith("1 errors")
    moved = [line for line in connections if re.search(rf"\b{count} (messages in|delivered)", line)]
    assert len(moved) == 2, connections  # the sender's and the receiver's connection lines
