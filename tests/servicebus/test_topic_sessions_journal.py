"""Subscriptions and session queues are journalled like queues: their messages (and a
session queue's order per session) come back after a restart."""

from pathlib import Path

from devstack.servicebus.codec import PROPERTIES, IncomingMessage, section
from devstack.servicebus.config import parse_config
from devstack.servicebus.journal import Journal
from devstack.servicebus.sessions import SessionEntity
from devstack.servicebus.store import Namespace
from tests.servicebus.test_journal import Clock, Taker

CONFIG = parse_config(
    {
        "UserConfig": {
            "Namespaces": [
                {
                    "Name": "ns",
                    "Queues": [{"Name": "q", "Properties": {"RequiresSession": True}}],
                    "Topics": [{"Name": "t", "Subscriptions": [{"Name": "a"}, {"Name": "b"}]}],
                }
            ]
        }
    }
)


def _message(message_id: str, session: str | None = None) -> IncomingMessage:
    fields: list[object] = [message_id] + [None] * 9 + [session]
    return IncomingMessage(
        None, {}, message_id, section(PROPERTIES, fields), b"", b"\x00Sw\xa1\x01x"
    )


def _started(data: Path, clock: Clock) -> tuple[Namespace, Journal]:
    namespace = Namespace(CONFIG, clock)
    journal = Journal(data)
    journal.open(namespace)
    return namespace, journal


def test_subscription_and_session_messages_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    namespace, journal = _started(tmp_path, clock)
    topic = namespace.entity("t")
    queue = namespace.entity("q")
    assert topic is not None
    assert queue is not None
    topic.send(_message("t1"), clock.now)
    for n, session in enumerate(["x", "y", "x"]):
        queue.send(_message(f"q{n}", session), clock.now)
    journal.close()

    again, journal = _started(tmp_path, clock)
    for name in ("t/Subscriptions/a", "t/Subscriptions/b"):
        subscription = again.entity(name)
        assert subscription is not None
        assert [m.message_id for m in subscription.messages.values()] == ["t1"]
    queue = again.entity("q")
    assert isinstance(queue, SessionEntity)
    taker = Taker()
    assert queue.lock_session("x", taker, clock.now) == "x"
    queue.consumers.append(taker)
    queue.pump(clock.now)
    assert [m.message_id for m in taker.got] == ["q0", "q2"]  # only session x, in order
    journal.close()
