"""Session state and a topic's scheduled messages survive SIGKILL: a real emulator with
`--data-dir`, driven by the SDK, killed, and started again on the same directory."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from devstack.servicebus.launcher import start_emulator
from tests.servicebus.conftest import body, props
from tests.support.stack import kill_and_wait

CONFIG = {
    "UserConfig": {
        "Namespaces": [
            {
                "Name": "sbemulatorns",
                "Queues": [{"Name": "work", "Properties": {"RequiresSession": True}}],
                "Topics": [{"Name": "news", "Subscriptions": [{"Name": "all"}]}],
            }
        ]
    }
}


@pytest.mark.integration
@pytest.mark.chaos
def test_session_state_and_scheduled_topic_messages_survive_sigkill(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    data = tmp_path / "servicebus"
    due = datetime.now(UTC) + timedelta(seconds=3)
    emulator = start_emulator(config, data_dir=data, log_path=tmp_path / "first.log")
    try:
        with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
            with client.get_queue_receiver("work", session_id="s1", max_wait_time=1) as receiver:
                receiver.session.set_state(b"step-3")
            with client.get_topic_sender("news") as sender:
                sender.schedule_messages(
                    ServiceBusMessage(b"kept", message_id="kept", application_properties={"k": 1}),
                    due,
                )
                (cancelled,) = sender.schedule_messages(ServiceBusMessage(b"cancelled"), due)
                sender.cancel_scheduled_messages(cancelled)
        kill_and_wait(emulator.pid)
    finally:
        emulator.stop()
    restarted = start_emulator(config, data_dir=data, log_path=tmp_path / "second.log")
    try:
        with ServiceBusClient.from_connection_string(restarted.connection_string) as client:
            with client.get_queue_receiver("work", session_id="s1", max_wait_time=1) as receiver:
                assert receiver.session.get_state() == b"step-3"
            got = []
            with client.get_subscription_receiver("news", "all", max_wait_time=8) as receiver:
                for message in receiver.receive_messages(max_message_count=5, max_wait_time=8):
                    got.append(message)
                    receiver.complete_message(message)
                got += receiver.receive_messages(max_message_count=5, max_wait_time=1)
            assert list(client.list_queue_sessions("work")) == ["s1"]  # listed by its state
    finally:
        restarted.stop()
    assert [body(m) for m in got] == [b"kept"]
    assert props(got[0]) == {"k": 1}
    assert got[0].enqueued_time_utc is not None
    assert got[0].enqueued_time_utc >= due - timedelta(milliseconds=1)  # copied when due
