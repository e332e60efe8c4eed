"""The emulator's admin HTTP endpoint: health, queue list, runtime counts."""

import httpx
import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusReceiveMode

from devstack.servicebus.launcher import EmulatorProcess
from function_app.topology import topology

from .conftest import admin_get, runtime

pytestmark = pytest.mark.integration


def test_health_and_queue_list(servicebus_emulator: EmulatorProcess) -> None:
    assert admin_get(servicebus_emulator, "/health") == (200, {"status": "ok"})
    status, names = admin_get(servicebus_emulator, "/queues")
    assert status == 200
    assert {*(q.name for q in topology().queues), "stats"} <= set(names)


def test_unknown_queue_and_route_are_404(servicebus_emulator: EmulatorProcess) -> None:
    status, body = admin_get(servicebus_emulator, "/queues/nope/runtime")
    assert status == 404
    assert "nope" in body["error"]
    assert admin_get(servicebus_emulator, "/elsewhere")[0] == 404
    response = httpx.post(servicebus_emulator.admin_url + "/health", timeout=5)
    assert response.status_code == 405


def test_runtime_counts_follow_the_queue(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    empty = runtime(servicebus_emulator, "stats")
    assert empty == {
        "name": "stats",
        "activeMessageCount": 0,
        "deadLetterMessageCount": 0,
        "scheduledMessageCount": 0,
        "totalMessageCount": 0,
    }
    with client.get_queue_sender("stats") as sender:
        sender.send_messages([ServiceBusMessage("a"), ServiceBusMessage("b")])
    with client.get_queue_receiver("stats") as receiver:
        (message,) = receiver.receive_messages(max_wait_time=5)
        receiver.dead_letter_message(message, reason="r")
    counts = runtime(servicebus_emulator, "STATS")  # Azure names are case-insensitive
    assert counts["activeMessageCount"] == 1
    assert counts["deadLetterMessageCount"] == 1
    assert counts["totalMessageCount"] == 2
    for sub in (None, "deadletter"):
        with client.get_queue_receiver(
            "stats", sub_queue=sub, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE
        ) as receiver:
            assert len(receiver.receive_messages(max_wait_time=5)) == 1
    assert runtime(servicebus_emulator, "stats")["totalMessageCount"] == 0
