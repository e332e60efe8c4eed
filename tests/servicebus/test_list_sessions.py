"""Listing sessions (`com.microsoft:get-message-sessions`) through the SDK's own
`list_queue_sessions` / `list_subscription_sessions` (azure-servicebus 7.15): the sessions
with messages or a state, or those whose state changed after a time; pages of 100."""

from datetime import UTC, datetime, timedelta

from azure.servicebus import ServiceBusClient, ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient


def test_sessions_with_messages_or_a_state_are_listed(client: ServiceBusClient) -> None:
    queue = "sessions-list"
    assert list(client.list_queue_sessions(queue)) == []
    with client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage("1", session_id="b")])
        sender.send_messages([ServiceBusMessage("2", session_id="a")])
        # a session whose only message is scheduled has nothing to receive yet
        sender.schedule_messages(
            ServiceBusMessage("later", session_id="d"), datetime.now(UTC) + timedelta(hours=1)
        )
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    with client.get_queue_receiver(queue, session_id="c", max_wait_time=1) as receiver:
        receiver.session.set_state(b"kept")  # a session with a state and no messages
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    assert sorted(client.list_queue_sessions(queue)) == ["a", "b", "c"]
    assert list(client.list_queue_sessions(queue, state_updated_after=before)) == ["c"]
    assert list(client.list_queue_sessions(queue, state_updated_after=after)) == []
    with client.get_queue_receiver(queue, session_id="a", max_wait_time=2) as receiver:
        for message in receiver.receive_messages(max_message_count=5, max_wait_time=2):
            receiver.complete_message(message)
    assert sorted(client.list_queue_sessions(queue)) == ["b", "c"]


def test_more_than_one_page_of_sessions(client: ServiceBusClient) -> None:
    queue = "sessions-list-pages"
    names = [f"s{n:03}" for n in range(230)]
    with client.get_queue_sender(queue) as sender:
        sender.send_messages([ServiceBusMessage("x", session_id=name) for name in names])
    listed = list(client.list_queue_sessions(queue))
    assert len(listed) == len(set(listed)) == 230  # three pages: skip 0, 100, 200
    assert sorted(listed) == names


def test_subscription_sessions_are_listed(client: ServiceBusClient) -> None:
    with client.get_topic_sender("topic-list-sessions") as sender:
        sender.send_messages([ServiceBusMessage("x", session_id=s) for s in ("p", "q")])
    listed = client.list_subscription_sessions("topic-list-sessions", "by-session")
    assert sorted(listed) == ["p", "q"]


async def test_sessions_are_listed_async(aclient: AsyncServiceBusClient) -> None:
    queue = "async-sessions-list"
    async with aclient.get_queue_sender(queue) as sender:
        await sender.send_messages([ServiceBusMessage("x", session_id=s) for s in ("y", "x")])
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    async with aclient.get_queue_receiver(queue, session_id="z", max_wait_time=1) as receiver:
        await receiver.session.set_state(b"z-state")
    assert sorted([s async for s in aclient.list_queue_sessions(queue)]) == ["x", "y", "z"]
    updated = [s async for s in aclient.list_queue_sessions(queue, state_updated_after=before)]
    assert updated == ["z"]
