"""The admin endpoint counts sends per MessageId within the duplicate-detection window, so a
test can prove a message was sent exactly once even after it was received and completed."""

import uuid

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from devstack.servicebus.launcher import EmulatorProcess

from .conftest import admin_get

pytestmark = pytest.mark.integration

QUEUE = "duplicates"  # RequiresDuplicateDetection, a 1 minute window


def test_sends_are_counted_by_message_id_after_the_message_is_gone(
    client: ServiceBusClient, servicebus_emulator: EmulatorProcess
) -> None:
    once, twice = f"once-{uuid.uuid4().hex}", f"twice-{uuid.uuid4().hex}"
    with client.get_queue_sender(QUEUE) as sender:
        sender.send_messages(ServiceBusMessage("a", message_id=once))
        sender.send_messages(ServiceBusMessage("b", message_id=twice))
        sender.send_messages([ServiceBusMessage("c", message_id=twice)])  # dropped as a repeat
    with client.get_queue_receiver(QUEUE) as receiver:
        got: list[object] = []
        while len(got) < 2:
            batch = receiver.receive_messages(max_message_count=10, max_wait_time=5)
            assert batch, "the two distinct messages should arrive"
            for message in batch:
                receiver.complete_message(message)
            got += [m.message_id for m in batch]
    assert sorted(str(m) for m in got) == sorted([once, twice])
    path = f"/queues/{QUEUE}/message-ids"
    assert admin_get(servicebus_emulator, f"{path}/{once}") == (
        200,
        {"messageId": once, "sends": 1},
    )
    assert admin_get(servicebus_emulator, f"{path}/{twice}") == (
        200,
        {"messageId": twice, "sends": 2},
    )


def test_an_unseen_message_id_or_queue_is_404(servicebus_emulator: EmulatorProcess) -> None:
    status, body = admin_get(servicebus_emulator, f"/queues/{QUEUE}/message-ids/never-sent")
    assert status == 404
    assert "never-sent" in body["error"]
    assert admin_get(servicebus_emulator, "/queues/nope/message-ids/x")[0] == 404
