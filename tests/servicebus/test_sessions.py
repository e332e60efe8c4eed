"""Sessions through the unmodified SDK: named and next-available session receivers, one lock
per session, order within a session, session state, lock renewal."""

import time

import pytest
from azure.servicebus import NEXT_AVAILABLE_SESSION, ServiceBusClient, ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient
from azure.servicebus.exceptions import (
    OperationTimeoutError,
    ServiceBusError,
    SessionCannotBeLockedError,
)

from tests.servicebus.conftest import body


def _send(client: ServiceBusClient, queue: str, messages: list[tuple[str, str]]) -> None:
    with client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage(text, session_id=sid) for sid, text in messages])


def test_a_named_session_receiver_gets_its_sessions_messages_in_order(
    client: ServiceBusClient,
) -> None:
    _send(client, "sessions", [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")])
    with client.get_queue_receiver("sessions", session_id="a", max_wait_time=2) as receiver:
        got = receiver.receive_messages(max_message_count=10, max_wait_time=2)
        for message in got:
            receiver.complete_message(message)
        assert [body(m) for m in got] == [b"a1", b"a2", b"a3"]
        assert {m.session_id for m in got} == {"a"}
        assert receiver.session.session_id == "a"
    with client.get_queue_receiver("sessions", session_id="b", max_wait_time=2) as receiver:
        got = receiver.receive_messages(max_message_count=10, max_wait_time=2)
        for message in got:
            receiver.complete_message(message)
        assert [body(m) for m in got] == [b"b1", b"b2"]


def test_one_receiver_per_session_state_and_renewal(client: ServiceBusClient) -> None:
    _send(client, "sessions-lock", [("s", "one")])
    with client.get_queue_receiver("sessions-lock", session_id="s", max_wait_time=2) as holder:
        with (
            pytest.raises(SessionCannotBeLockedError),
            client.get_queue_receiver("sessions-lock", session_id="s", max_wait_time=2) as other,
        ):
            other.receive_messages(max_message_count=1, max_wait_time=1)
        session = holder.session
        assert session.get_state() is None
        session.set_state("OPEN")
        assert session.get_state() == b"OPEN"
        first = session.locked_until_utc
        time.sleep(1.1)
        renewed = session.renew_lock()
        assert renewed > first
        (message,) = holder.receive_messages(max_message_count=1, max_wait_time=2)
        time.sleep(4.5)  # past the first lock (5 s), within the renewed one
        holder.complete_message(message)
    # the state outlives the receiver; the lock is free again once it detached
    with client.get_queue_receiver("sessions-lock", session_id="s", max_wait_time=1) as again:
        assert again.session.get_state() == b"OPEN"
        assert again.receive_messages(max_message_count=1, max_wait_time=1) == []


def test_next_available_session_takes_a_session_with_messages(client: ServiceBusClient) -> None:
    _send(client, "sessions-next", [("later", "x")])
    with client.get_queue_receiver(
        "sessions-next", session_id=NEXT_AVAILABLE_SESSION, max_wait_time=5
    ) as receiver:
        assert receiver.session.session_id == "later"
        (message,) = receiver.receive_messages(max_message_count=1, max_wait_time=5)
        receiver.complete_message(message)


def test_next_available_session_times_out_when_there_is_none(client: ServiceBusClient) -> None:
    started = time.monotonic()
    with (
        pytest.raises(OperationTimeoutError),
        client.get_queue_receiver(
            "sessions-empty", session_id=NEXT_AVAILABLE_SESSION, max_wait_time=2
        ) as receiver,
    ):
        receiver.receive_messages(max_message_count=1, max_wait_time=1)
    assert time.monotonic() - started >= 1.5  # it waited for a session, not refused at once


def test_a_plain_receiver_on_a_session_queue_is_refused(client: ServiceBusClient) -> None:
    with (
        pytest.raises(ServiceBusError, match="requires sessions"),
        client.get_queue_receiver("sessions-empty", max_wait_time=1) as receiver,
    ):
        receiver.receive_messages(max_message_count=1, max_wait_time=1)


def test_a_session_subscription(client: ServiceBusClient) -> None:
    with client.get_topic_sender("topic-sessions") as sender:
        sender.send_messages(
            [ServiceBusMessage("t1", session_id="k"), ServiceBusMessage("t2", session_id="k")]
        )
    with client.get_subscription_receiver(
        "topic-sessions", "by-session", session_id="k", max_wait_time=2
    ) as receiver:
        got = receiver.receive_messages(max_message_count=5, max_wait_time=2)
        for message in got:
            receiver.complete_message(message)
    assert [body(m) for m in got] == [b"t1", b"t2"]


async def test_sessions_async(aclient: AsyncServiceBusClient) -> None:
    async with aclient.get_queue_sender("async-sessions") as sender:
        await sender.send_messages([ServiceBusMessage(f"m{i}", session_id="z") for i in range(3)])
    async with aclient.get_queue_receiver(
        "async-sessions", session_id=NEXT_AVAILABLE_SESSION, max_wait_time=3
    ) as receiver:
        got = await receiver.receive_messages(max_message_count=3, max_wait_time=3)
        for message in got:
            await receiver.complete_message(message)
        await receiver.session.set_state(b"done")
        assert await receiver.session.get_state() == b"done"
    assert [body(m) for m in got] == [b"m0", b"m1", b"m2"]


def test_a_message_without_a_session_id_is_refused_by_a_session_queue(
    client: ServiceBusClient,
) -> None:
    with (
        client.get_queue_sender("sessions-empty") as sender,
        pytest.raises(ServiceBusError, match="SessionId was not set"),
    ):
        sender.send_messages(ServiceBusMessage("no session"))
