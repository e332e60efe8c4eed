"""Auto-forwarding set through the SDK's `ServiceBusAdministrationClient` (issue 20): entities
made or changed at run time forward as configured ones do, with the config's rules, the
description answered back as Azure does, kept across a restart; and an entity deleted while
links are attached to it detaches them with ``amqp:not-found``."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.exceptions import MessagingEntityNotFoundError, ServiceBusError
from azure.servicebus.management import ServiceBusAdministrationClient

from devstack.servicebus.admin_entities import TOPOLOGY_NAME, merge_saved
from devstack.servicebus.config import ConfigError, EmulatorConfig, QueueConfig
from devstack.servicebus.launcher import EmulatorProcess, start_emulator
from devstack.servicebus.tls import TlsFiles
from tests.servicebus.conftest import body


def _admin(emulator: EmulatorProcess) -> ServiceBusAdministrationClient:
    assert emulator.tls_dir is not None
    return ServiceBusAdministrationClient.from_connection_string(
        emulator.connection_string,
        connection_verify=str(TlsFiles(emulator.tls_dir).bundle),
        retry_total=0,
    )


@pytest.fixture
def admin(servicebus_emulator: EmulatorProcess) -> Iterator[ServiceBusAdministrationClient]:
    with _admin(servicebus_emulator) as client:
        yield client


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _receive(client: ServiceBusClient, queue: str, count: int) -> list[bytes]:
    with client.get_queue_receiver(queue, max_wait_time=5) as receiver:
        got = receiver.receive_messages(max_message_count=count, max_wait_time=5)
        for message in got:
            receiver.complete_message(message)
        return [body(m) for m in got]


def test_a_queue_created_with_forward_to_forwards(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    target, parked, source = _name("target"), _name("parked"), _name("source")
    admin.create_queue(target)
    admin.create_queue(parked)
    admin.create_queue(
        source, forward_to=target, forward_dead_lettered_messages_to=parked, max_delivery_count=1
    )
    got = admin.get_queue(source)  # as Azure answers it: the target's full address
    assert got.forward_to is not None
    assert got.forward_to.endswith(f"/{target}")
    assert got.forward_to.startswith("sb://")
    assert got.forward_dead_lettered_messages_to is not None
    assert got.forward_dead_lettered_messages_to.endswith(f"/{parked}")
    assert admin.get_queue(target).forward_to is None

    with client.get_queue_sender(source) as sender:
        sender.send_messages(ServiceBusMessage("onward"))
    assert _receive(client, target, 1) == [b"onward"]
    refused = pytest.raises(ServiceBusError, match="auto-forwarding")  # as a configured one
    with refused, client.get_queue_receiver(source, max_wait_time=2) as receiver:
        receiver.receive_messages(max_wait_time=2)
    with pytest.raises(HttpResponseError) as bad:  # a target named by another entity stays
        admin.delete_queue(target)
    assert bad.value.status_code == 400
    assert "destination" in str(bad.value)
    admin.delete_queue(source)
    admin.delete_queue(target)


def test_update_sets_and_clears_forwarding(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    target, source = _name("target"), _name("source")
    admin.create_queue(target)
    admin.create_queue(source)
    with client.get_queue_sender(source) as sender:
        sender.send_messages(ServiceBusMessage("held"))
    queue = admin.get_queue(source)
    queue.forward_to = target
    admin.update_queue(queue)
    assert (admin.get_queue(source).forward_to or "").endswith(f"/{target}")
    assert _receive(client, target, 1) == [b"held"]  # what it held goes on too

    queue = admin.get_queue(source)
    queue.forward_to = None
    admin.update_queue(queue)
    assert admin.get_queue(source).forward_to is None
    with client.get_queue_sender(source) as sender:
        sender.send_messages(ServiceBusMessage("kept"))
    assert _receive(client, source, 1) == [b"kept"]


def test_dead_letters_held_go_on_when_forwarding_is_set(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    parked, source = _name("parked"), _name("source")
    admin.create_queue(parked)
    admin.create_queue(source)
    with client.get_queue_sender(source) as sender:
        sender.send_messages(ServiceBusMessage("bad"))
    with client.get_queue_receiver(source, max_wait_time=5) as receiver:
        (message,) = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        receiver.dead_letter_message(message, reason="test")
    queue = admin.get_queue(source)
    queue.forward_dead_lettered_messages_to = parked
    admin.update_queue(queue)
    assert _receive(client, parked, 1) == [b"bad"]
    assert admin.get_queue_runtime_properties(source).dead_letter_message_count == 0


def test_forwarding_is_validated_as_in_the_config(
    admin: ServiceBusAdministrationClient,
) -> None:
    name = _name("bad")
    cases = [
        ({"forward_to": _name("nowhere")}, "must exist"),
        ({"forward_dead_lettered_messages_to": _name("nowhere")}, "must exist"),
        ({"forward_to": name}, "itself"),
        ({"forward_to": "roundtrip", "requires_session": True}, "sessions"),
    ]
    for kwargs, why in cases:
        with pytest.raises(HttpResponseError) as bad:
            admin.create_queue(name, **kwargs)
        assert bad.value.status_code == 400
        assert why in str(bad.value)
    assert name not in [q.name for q in admin.list_queues()]
    admin.create_queue(name)
    queue = admin.get_queue(name)
    queue.forward_to = name
    with pytest.raises(HttpResponseError) as bad:
        admin.update_queue(queue)
    assert bad.value.status_code == 400
    assert admin.get_queue(name).forward_to is None


def test_a_subscription_forwards_to_a_queue(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    topic, target = _name("topic"), _name("target")
    admin.create_queue(target)
    admin.create_topic(topic)
    admin.create_subscription(topic, "onward", forward_to=target)
    got = admin.get_subscription(topic, "onward")
    assert (got.forward_to or "").endswith(f"/{target}")
    with client.get_topic_sender(topic) as sender:
        sender.send_messages(ServiceBusMessage("published"))
    assert _receive(client, target, 1) == [b"published"]
    with pytest.raises(HttpResponseError) as bad:  # the target must exist here too
        admin.create_subscription(topic, "loop", forward_to=_name("nowhere"))
    assert bad.value.status_code == 400


def test_forwarding_set_at_run_time_survives_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    namespace = {"Name": "sbemulatorns", "Queues": [{"Name": "configured", "Properties": {}}]}
    config.write_text(json.dumps({"UserConfig": {"Namespaces": [namespace]}}), encoding="utf-8")
    data = tmp_path / "data"
    emulator = start_emulator(config, data_dir=data, log_path=tmp_path / "emulator.log")
    try:
        with _admin(emulator) as admin:
            admin.create_queue("source", forward_to="configured")
            admin.create_topic("news")
            admin.create_subscription("news", "onward", forward_dead_lettered_messages_to="source")
    finally:
        emulator.stop()
    again = start_emulator(config, data_dir=data, log_path=tmp_path / "emulator.log")
    try:
        with _admin(again) as admin:
            assert (admin.get_queue("source").forward_to or "").endswith("/configured")
            onward = admin.get_subscription("news", "onward")
            assert (onward.forward_dead_lettered_messages_to or "").endswith("/source")
        with ServiceBusClient.from_connection_string(again.connection_string) as sb:
            with sb.get_queue_sender("source") as sender:
                sender.send_messages(ServiceBusMessage("after restart"))
            assert _receive(sb, "configured", 1) == [b"after restart"]
    finally:
        again.stop()


def test_deleting_a_queue_detaches_its_links(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    name = _name("doomed")
    admin.create_queue(name)
    with (
        client.get_queue_sender(name) as sender,
        client.get_queue_receiver(name, max_wait_time=2) as receiver,
    ):
        sender.send_messages(ServiceBusMessage("before"))
        first = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        assert [body(m) for m in first] == [b"before"]
        admin.delete_queue(name)
        with pytest.raises(MessagingEntityNotFoundError, match="could not be found"):
            receiver.receive_messages(max_message_count=1, max_wait_time=2)
        # An idle sender reads the detach only as it sends (a retryable error, no retry
        # here), then attaches again and is refused as for any missing entity.
        with pytest.raises(ServiceBusError):
            sender.send_messages(ServiceBusMessage("after"))
        with pytest.raises(MessagingEntityNotFoundError, match="could not be found"):
            sender.send_messages(ServiceBusMessage("after"))


def test_deleting_a_topic_detaches_its_subscriptions_receivers(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    topic = _name("doomed")
    admin.create_topic(topic)
    admin.create_subscription(topic, "reader")
    with client.get_subscription_receiver(topic, "reader", max_wait_time=2) as receiver:
        assert receiver.receive_messages(max_message_count=1, max_wait_time=1) == []
        admin.delete_topic(topic)
        with pytest.raises(MessagingEntityNotFoundError, match="could not be found"):
            receiver.receive_messages(max_message_count=1, max_wait_time=2)


def test_a_saved_target_gone_from_the_config_is_a_config_error(tmp_path: Path) -> None:
    """topology.json names a target the config no longer has: exit 2 naming the file, not an
    emulator whose queue forwards to nothing."""
    saved = {
        "Queues": [{"Name": "source", "Properties": {"ForwardTo": "configured"}}],
        "Topics": [],
    }
    (tmp_path / TOPOLOGY_NAME).write_text(json.dumps(saved), encoding="utf-8")
    with_target = EmulatorConfig(namespace="ns", queues=(QueueConfig(name="configured"),))
    merged = merge_saved(with_target, tmp_path)
    assert [q.forward_to for q in merged.queues] == [None, "configured"]
    with pytest.raises(ConfigError, match=r"topology\.json.*must exist"):
        merge_saved(EmulatorConfig(namespace="ns", queues=()), tmp_path)


def test_deleting_a_session_queue_detaches_its_session_receiver(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    name = _name("doomed")
    admin.create_queue(name, requires_session=True)
    with client.get_queue_sender(name) as sender:
        sender.send_messages(ServiceBusMessage("held", session_id="s1"))
    with client.get_queue_receiver(name, session_id="s1", max_wait_time=2) as receiver:
        assert receiver.session.get_state() is None  # its $management link is open too
        admin.delete_queue(name)
        with pytest.raises(MessagingEntityNotFoundError, match="could not be found"):
            receiver.receive_messages(max_message_count=1, max_wait_time=2)
    admin.create_queue(name, requires_session=True)  # a new one: s1 is not locked by the old
    with client.get_queue_receiver(name, session_id="s1", max_wait_time=2) as receiver:
        assert receiver.receive_messages(max_message_count=1, max_wait_time=1) == []


async def test_the_async_clients_see_the_delete_too(
    admin: ServiceBusAdministrationClient, aclient: AsyncServiceBusClient
) -> None:
    name = _name("doomed")
    admin.create_queue(name)
    async with (
        aclient.get_queue_sender(name) as sender,
        aclient.get_queue_receiver(name, max_wait_time=2) as receiver,
    ):
        await sender.send_messages(ServiceBusMessage("before"))
        assert len(await receiver.receive_messages(max_message_count=1, max_wait_time=5)) == 1
        admin.delete_queue(name)
        with pytest.raises(MessagingEntityNotFoundError, match="could not be found"):
            await receiver.receive_messages(max_message_count=1, max_wait_time=2)
        with pytest.raises(ServiceBusError):
            await sender.send_messages(ServiceBusMessage("after"))
