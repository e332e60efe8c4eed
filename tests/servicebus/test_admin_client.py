"""The SDK's own `ServiceBusAdministrationClient` against the emulator: HTTPS on the AMQP port
(told apart by the first byte), the local certificate, entities made at run time that behave
like configured ones, the errors the SDK maps, and persistence across a restart."""

import asyncio
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.servicebus import NEXT_AVAILABLE_SESSION, ServiceBusClient, ServiceBusMessage
from azure.servicebus.aio.management import (
    ServiceBusAdministrationClient as AsyncAdministrationClient,
)
from azure.servicebus.exceptions import MessagingEntityNotFoundError, ServiceBusError
from azure.servicebus.management import (
    CorrelationRuleFilter,
    ServiceBusAdministrationClient,
    SqlRuleAction,
    SqlRuleFilter,
)

from devstack.servicebus.launcher import EmulatorProcess, start_emulator
from devstack.servicebus.tls import TlsFiles
from tests.servicebus.conftest import admin_get, body, props


def _bundle(emulator: EmulatorProcess) -> str:
    assert emulator.tls_dir is not None
    return str(TlsFiles(emulator.tls_dir).bundle)


@pytest.fixture
def admin(servicebus_emulator: EmulatorProcess) -> Iterator[ServiceBusAdministrationClient]:
    with ServiceBusAdministrationClient.from_connection_string(
        servicebus_emulator.connection_string,
        connection_verify=_bundle(servicebus_emulator),
        retry_total=0,
    ) as client:
        yield client


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_queue_created_at_run_time_is_a_queue(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    name = _name("made")
    created = admin.create_queue(
        name,
        max_delivery_count=3,
        lock_duration=timedelta(seconds=30),
        dead_lettering_on_message_expiration=True,
    )
    assert created.name == name
    got = admin.get_queue(name)
    assert (got.max_delivery_count, got.lock_duration) == (3, timedelta(seconds=30))
    assert got.dead_lettering_on_message_expiration is True
    assert name in [q.name for q in admin.list_queues()]

    with client.get_queue_sender(name) as sender:  # at once, no restart
        sender.send_messages([ServiceBusMessage(f"m{i}") for i in range(3)])
    with client.get_queue_receiver(name, max_wait_time=5) as receiver:
        first, second = receiver.receive_messages(max_message_count=2, max_wait_time=5)
        receiver.complete_message(first)
        receiver.dead_letter_message(second, reason="test")
    counts = admin.get_queue_runtime_properties(name)
    assert (counts.active_message_count, counts.dead_letter_message_count) == (1, 1)
    assert counts.total_message_count == 2
    assert counts.size_in_bytes > 0
    assert admin_get_counts(admin, name) == (1, 1)
    with client.get_queue_receiver(name, sub_queue="deadletter", max_wait_time=5) as dlq:
        [dead] = dlq.receive_messages(max_message_count=1, max_wait_time=5)
        assert body(dead) == b"m1"
        dlq.complete_message(dead)

    admin.delete_queue(name)
    with pytest.raises(ResourceNotFoundError):
        admin.get_queue(name)
    with pytest.raises(MessagingEntityNotFoundError), client.get_queue_sender(name) as sender:
        sender.send_messages(ServiceBusMessage("gone"))


def admin_get_counts(admin: ServiceBusAdministrationClient, name: str) -> tuple[int, int]:
    for props_ in admin.list_queues_runtime_properties():
        if props_.name == name:
            return props_.active_message_count, props_.dead_letter_message_count
    raise AssertionError(f"{name} not listed")


def test_updates_change_the_live_queue(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    name = _name("update")
    admin.create_queue(name, max_delivery_count=5)
    queue = admin.get_queue(name)
    queue.max_delivery_count = 1
    admin.update_queue(queue)
    assert admin.get_queue(name).max_delivery_count == 1
    with client.get_queue_sender(name) as sender:
        sender.send_messages(ServiceBusMessage("once"))
    with client.get_queue_receiver(name, max_wait_time=5) as receiver:
        [message] = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        receiver.abandon_message(message)  # one delivery allowed: now dead-lettered
    assert admin.get_queue_runtime_properties(name).dead_letter_message_count == 1
    with pytest.raises(HttpResponseError) as refused:
        admin.update_queue(admin.get_queue(name), requires_session=True)
    assert refused.value.status_code == 400
    admin.delete_queue(name)


def test_the_errors_the_sdk_maps(
    admin: ServiceBusAdministrationClient, servicebus_emulator: EmulatorProcess
) -> None:
    name = _name("errors")
    admin.create_queue(name)
    with pytest.raises(ResourceExistsError):
        admin.create_queue(name)
    with pytest.raises(ResourceExistsError):  # queues and topics share one namespace
        admin.create_topic(name)
    with pytest.raises(ResourceExistsError):  # configured entities too
        admin.create_queue("roundtrip")
    before = admin.get_queue(name)
    admin.delete_queue(name)
    with pytest.raises(ResourceNotFoundError):
        admin.delete_queue(name)
    with pytest.raises(ResourceNotFoundError):
        admin.update_queue(before)
    with pytest.raises(ResourceNotFoundError):
        admin.get_topic(_name("nothing"))
    with pytest.raises(ResourceNotFoundError):
        admin.get_subscription("topic-rules", "nothing")
    with pytest.raises(ResourceNotFoundError):
        admin.get_rule("topic-rules", "all", "nothing")
    with pytest.raises(HttpResponseError) as bad:  # the config's own limits
        admin.create_queue(_name("long-lock"), lock_duration=timedelta(minutes=6))
    assert bad.value.status_code == 400
    assert "LockDuration" in str(bad.value)
    status, _ = admin_get(servicebus_emulator, "/health")  # the read-only endpoint is unchanged
    assert status == 200


def test_a_session_queue_made_at_run_time_requires_sessions(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    name = _name("sessions")
    admin.create_queue(name, requires_session=True)
    assert admin.get_queue(name).requires_session is True
    with client.get_queue_sender(name) as sender:
        sender.send_messages([ServiceBusMessage(f"s{i}", session_id="a") for i in range(2)])
    with client.get_queue_receiver(
        name, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=5
    ) as receiver:
        assert receiver.session.session_id == "a"
        messages = receiver.receive_messages(max_message_count=2, max_wait_time=5)
        assert [body(m) for m in messages] == [b"s0", b"s1"]
        for message in messages:
            receiver.complete_message(message)
    with pytest.raises(ServiceBusError), client.get_queue_receiver(name) as plain:
        plain.receive_messages(max_wait_time=1)
    admin.delete_queue(name)


def test_topics_subscriptions_and_rules_at_run_time(
    admin: ServiceBusAdministrationClient, client: ServiceBusClient
) -> None:
    topic = _name("topic")
    admin.create_topic(topic, requires_duplicate_detection=True)
    assert admin.get_topic(topic).requires_duplicate_detection is True
    admin.create_subscription(topic, "all")
    admin.create_subscription(topic, "red", max_delivery_count=2)
    admin.create_subscription(topic, "vip")
    admin.delete_rule(topic, "red", "$Default")
    admin.create_rule(
        topic,
        "red",
        "red",
        filter=SqlRuleFilter("color = @color", parameters={"@color": "red"}),
        action=SqlRuleAction("SET routed = 'yes'"),
    )
    admin.delete_rule(topic, "vip", "$Default")
    admin.create_rule(topic, "vip", "vip", filter=CorrelationRuleFilter(correlation_id="vip"))
    assert [r.name for r in admin.list_rules(topic, "red")] == ["red"]
    rule = admin.get_rule(topic, "red", "red")
    assert isinstance(rule.filter, SqlRuleFilter)
    assert (rule.filter.sql_expression, rule.filter.parameters) == (
        "color = @color",
        {"@color": "red"},
    )
    assert type(admin.get_rule(topic, "all", "$Default").filter).__name__ == "TrueRuleFilter"
    assert sorted(s.name for s in admin.list_subscriptions(topic)) == ["all", "red", "vip"]

    with client.get_topic_sender(topic) as sender:
        sender.send_messages(
            [
                ServiceBusMessage("r", application_properties={"color": "red"}, message_id="1"),
                ServiceBusMessage("b", application_properties={"color": "blue"}, message_id="2"),
                ServiceBusMessage("v", correlation_id="vip", message_id="3"),
                ServiceBusMessage("r again", message_id="1"),  # a duplicate: dropped
            ]
        )
    counts = {
        s.name: s.active_message_count for s in admin.list_subscriptions_runtime_properties(topic)
    }
    assert counts == {"all": 3, "red": 1, "vip": 1}
    assert admin.get_topic_runtime_properties(topic).subscription_count == 3
    with client.get_subscription_receiver(topic, "red", max_wait_time=5) as receiver:
        [red] = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        assert props(red) == {"color": "red", "routed": "yes"}
        receiver.complete_message(red)

    # a rule changed at run time applies to the next message
    rule.filter = SqlRuleFilter("color = 'blue'")
    admin.update_rule(topic, "red", rule)
    with client.get_topic_sender(topic) as sender:
        sender.send_messages(ServiceBusMessage("b2", application_properties={"color": "blue"}))
    assert admin.get_subscription_runtime_properties(topic, "red").active_message_count == 1

    admin.delete_subscription(topic, "vip")
    with pytest.raises(ResourceNotFoundError):
        admin.get_subscription(topic, "vip")
    gone = client.get_subscription_receiver(topic, "vip", max_wait_time=1)
    with pytest.raises(MessagingEntityNotFoundError), gone:
        gone.receive_messages(max_wait_time=1)
    admin.delete_topic(topic)
    with pytest.raises(ResourceNotFoundError):
        admin.get_topic(topic)


def test_the_async_client_too(servicebus_emulator: EmulatorProcess) -> None:
    async def scenario() -> None:
        name = _name("async")
        async with AsyncAdministrationClient.from_connection_string(
            servicebus_emulator.connection_string,
            connection_verify=_bundle(servicebus_emulator),
            retry_total=0,
        ) as admin:
            await admin.create_queue(name, max_delivery_count=4)
            assert (await admin.get_queue(name)).max_delivery_count == 4
            names = [q.name async for q in admin.list_queues()]
            assert name in names
            assert "roundtrip" in names
            with pytest.raises(ResourceExistsError):
                await admin.create_queue(name)
            await admin.delete_queue(name)
            with pytest.raises(ResourceNotFoundError):
                await admin.get_queue_runtime_properties(name)

    asyncio.run(scenario())


def test_amqp_and_https_share_the_port_at_once(
    admin: ServiceBusAdministrationClient, servicebus_emulator: EmulatorProcess
) -> None:
    """An AMQP client and an HTTPS client on the same port, in parallel, each undisturbed."""
    name = _name("both")
    admin.create_queue(name)
    failures: list[BaseException] = []
    received: list[bytes] = []

    def amqp_side() -> None:
        try:
            with (
                ServiceBusClient.from_connection_string(
                    servicebus_emulator.connection_string, retry_total=0
                ) as sb,
                sb.get_queue_sender(name) as sender,
                sb.get_queue_receiver(name, max_wait_time=5) as receiver,
            ):
                for i in range(20):
                    sender.send_messages(ServiceBusMessage(f"n{i}"))
                    for message in receiver.receive_messages(max_wait_time=5):
                        received.append(body(message))
                        receiver.complete_message(message)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=amqp_side)
    thread.start()
    seen = 0
    while thread.is_alive():
        admin.get_queue_runtime_properties(name)  # HTTPS requests on the same port meanwhile
        seen += 1
    thread.join()
    assert not failures, failures
    assert received == [f"n{i}".encode() for i in range(20)]
    assert seen > 0
    admin.delete_queue(name)


def test_a_client_that_does_not_trust_the_certificate_is_refused(
    servicebus_emulator: EmulatorProcess,
) -> None:
    untrusting = ServiceBusAdministrationClient.from_connection_string(
        servicebus_emulator.connection_string, retry_total=0
    )  # certifi's roots only
    with untrusting, pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusting.get_queue("roundtrip")
    # the certificate names the host: a strict client checking it passes
    context = ssl.create_default_context(cafile=_bundle(servicebus_emulator))
    raw = socket.create_connection(("127.0.0.1", servicebus_emulator.port), timeout=5)
    with raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_requests_outside_the_sdk_are_bounded(servicebus_emulator: EmulatorProcess) -> None:
    url = f"https://127.0.0.1:{servicebus_emulator.port}/{_name('raw')}?api-version=2021-05"
    auth = {"Authorization": "SharedAccessSignature sr=x&sig=y&se=1&skn=k"}
    verify = _bundle(servicebus_emulator)
    assert requests.get(url, timeout=5, verify=verify).status_code == 401  # no token at all
    dtd = b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaa">]><entry>&a;</entry>'
    answer = requests.put(url, data=dtd, headers=auth, timeout=5, verify=verify)
    assert answer.status_code == 400
    assert b"DTD" in answer.content
    big = b"<entry>" + b" " * (300 * 1024) + b"</entry>"
    assert requests.put(url, data=big, headers=auth, timeout=5, verify=verify).status_code == 413
    assert requests.get(url, headers=auth, timeout=5, verify=verify).status_code == 404


def test_entities_made_at_run_time_survive_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    namespace = {"Name": "sbemulatorns", "Queues": [{"Name": "configured", "Properties": {}}]}
    config.write_text(json.dumps({"UserConfig": {"Namespaces": [namespace]}}), encoding="utf-8")
    data = tmp_path / "data"
    emulator = start_emulator(config, data_dir=data, log_path=tmp_path / "emulator.log")
    try:
        with ServiceBusAdministrationClient.from_connection_string(
            emulator.connection_string, connection_verify=_bundle(emulator), retry_total=0
        ) as admin:
            admin.create_queue("kept", max_delivery_count=7)
            admin.create_queue("dropped")
            admin.create_topic("news")
            admin.create_subscription("news", "reader")
            admin.delete_rule("news", "reader", "$Default")
            admin.create_rule("news", "reader", "big", filter=SqlRuleFilter("size > 3"))
        with ServiceBusClient.from_connection_string(emulator.connection_string) as sb:
            with sb.get_queue_sender("kept") as sender:
                sender.send_messages([ServiceBusMessage("k1"), ServiceBusMessage("k2")])
            with sb.get_queue_sender("dropped") as sender:
                sender.send_messages(ServiceBusMessage("lost with its queue"))
            with sb.get_topic_sender("news") as sender:
                sender.send_messages(
                    [
                        ServiceBusMessage("small", application_properties={"size": 1}),
                        ServiceBusMessage("large", application_properties={"size": 9}),
                    ]
                )
        with ServiceBusAdministrationClient.from_connection_string(
            emulator.connection_string, connection_verify=_bundle(emulator), retry_total=0
        ) as admin:
            admin.delete_queue("dropped")
            admin.create_queue("dropped")  # a new queue of that name starts empty
    finally:
        emulator.stop()

    again = start_emulator(config, data_dir=data, log_path=tmp_path / "emulator.log")
    try:
        with ServiceBusAdministrationClient.from_connection_string(
            again.connection_string, connection_verify=_bundle(again), retry_total=0
        ) as admin:
            assert admin.get_queue("kept").max_delivery_count == 7
            assert admin.get_queue_runtime_properties("kept").active_message_count == 2
            assert admin.get_queue_runtime_properties("dropped").active_message_count == 0
            rule = admin.get_rule("news", "reader", "big")
            assert isinstance(rule.filter, SqlRuleFilter)
            assert rule.filter.sql_expression == "size > 3"
        with ServiceBusClient.from_connection_string(again.connection_string) as sb:
            with sb.get_queue_receiver("kept", max_wait_time=5) as receiver:
                got = receiver.receive_messages(max_message_count=2, max_wait_time=5)
                assert sorted(body(m) for m in got) == [b"k1", b"k2"]
            with sb.get_subscription_receiver("news", "reader", max_wait_time=5) as receiver:
                got = receiver.receive_messages(max_message_count=2, max_wait_time=3)
                assert [body(m) for m in got] == [b"large"]
    finally:
        again.stop()


def test_connections_that_are_neither_leave_the_port_working(
    servicebus_emulator: EmulatorProcess, client: ServiceBusClient
) -> None:
    address = ("127.0.0.1", servicebus_emulator.port)
    with socket.create_connection(address, timeout=5):
        pass  # closed before its first byte
    with socket.create_connection(address, timeout=5) as plain_http:
        plain_http.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # not TLS: the AMQP engine's
        assert plain_http.recv(8) == b"AMQP\x00\x01\x00\x00"  # answer, as before
    with client.get_queue_sender("roundtrip") as sender:
        sender.send_messages(ServiceBusMessage("still here"))
    with client.get_queue_receiver("roundtrip", max_wait_time=5) as receiver:
        [message] = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        assert body(message) == b"still here"
        receiver.complete_message(message)


def test_many_clients_at_once_one_create_wins(servicebus_emulator: EmulatorProcess) -> None:
    """Eight administration clients (eight TLS connections) at once: all create their own
    queues and one name together; exactly one create of the shared name succeeds."""
    shared = _name("contended")
    outcomes: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            with ServiceBusAdministrationClient.from_connection_string(
                servicebus_emulator.connection_string,
                connection_verify=_bundle(servicebus_emulator),
                retry_total=0,
            ) as admin:
                own = f"{shared}-{index}"
                admin.create_queue(own)
                try:
                    admin.create_queue(shared)
                    outcome = "created"
                except ResourceExistsError:
                    outcome = "exists"
                assert admin.get_queue(own).name == own
                admin.delete_queue(own)
                with lock:
                    outcomes.append(outcome)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert sorted(outcomes) == ["created"] + ["exists"] * 7
    with ServiceBusAdministrationClient.from_connection_string(
        servicebus_emulator.connection_string, connection_verify=_bundle(servicebus_emulator)
    ) as admin:
        left = [q.name for q in admin.list_queues() if q.name.startswith(shared)]
        assert left == [shared]
        admin.delete_queue(shared)


def test_lists_page_past_a_hundred(admin: ServiceBusAdministrationClient) -> None:
    """The SDK asks for 100 at a time and follows the feed's second (next) link."""
    prefix = _name("page")
    before = {q.name for q in admin.list_queues()}
    names = [f"{prefix}-{i:03d}" for i in range(max(0, 101 - len(before)) + 5)]
    for name in names:
        admin.create_queue(name)
    try:
        listed = [q.name for q in admin.list_queues()]
        assert len(listed) == len(set(listed)) == len(before) + len(names) > 100
        assert set(names) <= set(listed)
        runtime = [q.name for q in admin.list_queues_runtime_properties()]
        assert runtime == listed
    finally:
        for name in names:
            admin.delete_queue(name)
