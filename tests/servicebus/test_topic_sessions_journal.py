"""Subscriptions and session queues are journalled like queues: their messages (and a
session queue's order per session), session states and a topic's scheduled messages come back
after a restart."""

from pathlib import Path

from devstack.servicebus.admin_entities import Entities, merge_saved
from devstack.servicebus.codec import PROPERTIES, IncomingMessage, section
from devstack.servicebus.config import EmulatorConfig, parse_config
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


def test_session_state_and_its_update_time_come_back_also_after_compaction(
    tmp_path: Path,
) -> None:
    clock = Clock()
    namespace, journal = _started(tmp_path, clock)
    queue = namespace.entity("q")
    assert isinstance(queue, SessionEntity)
    queue.set_state("x", b"\x00state", clock.now)
    queue.set_state("y", b"gone soon", clock.now)
    clock.now += 5
    queue.set_state("y", None, clock.now)
    journal.close()
    for _ in range(2):  # the lines as written, then the compacted journal
        namespace, journal = _started(tmp_path, clock)
        queue = namespace.entity("q")
        assert isinstance(queue, SessionEntity)
        assert queue.session_states == {"x": b"\x00state"}
        assert queue.state_updated_ms == {"x": 1_000_000}
        assert queue.list_sessions(None) == ["x"]
        journal.close()


def test_a_scheduled_topic_message_comes_back_and_is_copied_when_due(tmp_path: Path) -> None:
    clock = Clock()
    namespace, journal = _started(tmp_path, clock)
    topic = namespace.entity("t")
    assert topic is not None
    kept = topic.schedule(_message("later"), clock.now + 10_000, clock.now)
    cancelled = topic.schedule(_message("cancelled"), clock.now + 10_000, clock.now)
    topic.cancel_scheduled(cancelled)
    journal.close()

    again, journal = _started(tmp_path, clock)
    topic = again.entity("t")
    assert topic is not None
    assert list(topic.messages) == [kept]
    again.tick()
    assert again.entity("t/Subscriptions/a").messages == {}  # type: ignore[union-attr]
    clock.now += 10_000
    again.tick()
    for name in ("t/Subscriptions/a", "t/Subscriptions/b"):
        subscription = again.entity(name)
        assert subscription is not None
        assert [m.message_id for m in subscription.messages.values()] == ["later"]
    assert topic.messages == {}
    journal.close()
    # copied once: neither the topic's message nor a second copy comes back
    third, journal = _started(tmp_path, clock)
    assert third.entity("t").messages == {}  # type: ignore[union-attr]
    assert len(third.entity("t/Subscriptions/a").messages) == 1  # type: ignore[union-attr]
    journal.close()


def test_messages_kept_in_a_queue_that_now_forwards_are_forwarded_at_start(
    tmp_path: Path,
) -> None:
    def config(forward: bool) -> EmulatorConfig:
        properties = {"ForwardTo": "target"} if forward else {}
        return parse_config(
            {
                "UserConfig": {
                    "Namespaces": [
                        {
                            "Name": "ns",
                            "Queues": [
                                {"Name": "source", "Properties": properties},
                                {"Name": "target"},
                            ],
                        }
                    ]
                }
            }
        )

    clock = Clock()
    namespace = Namespace(config(False), clock)
    journal = Journal(tmp_path)
    journal.open(namespace)
    source = namespace.entity("source")
    assert source is not None
    source.send(_message("m1"), clock.now)
    journal.close()
    for _ in range(2):  # forwarded at the first start, and not again at the next
        namespace = Namespace(config(True), clock)
        journal = Journal(tmp_path)
        journal.open(namespace)
        assert namespace.entity("source").messages == {}  # type: ignore[union-attr]
        target = namespace.entity("target")
        assert target is not None
        assert [m.message_id for m in target.messages.values()] == ["m1"]
        journal.close()


def test_sequence_numbers_go_on_after_a_kill_also_past_settled_messages(tmp_path: Path) -> None:
    """No compaction between the sends and the kill: the journal's lines say how far the
    numbers went, for a queue (its messages completed) and a topic (its copies)."""
    clock = Clock()
    namespace, journal = _started(tmp_path, clock)
    queue = namespace.entity("q")
    topic = namespace.entity("t")
    assert queue is not None
    assert topic is not None
    for n in range(3):
        queue.send(_message(f"q{n}", "x"), clock.now)
        topic.send(_message(f"t{n}"), clock.now)
    for seq in list(queue.messages):
        queue._forget(seq)
    journal.write_pending()  # as a kill leaves it: written, not compacted

    again, journal = _started(tmp_path, clock)
    queue = again.entity("q")
    topic = again.entity("t")
    assert queue is not None
    assert topic is not None
    queue.send(_message("q-next", "x"), clock.now)
    topic.send(_message("t-next"), clock.now)
    assert [m.sequence_number for m in queue.messages.values()] == [4]
    subscription = again.entity("t/Subscriptions/a")
    assert subscription is not None
    assert [m.sequence_number for m in subscription.messages.values()] == [1, 2, 3, 4]
    journal.close()


def test_a_topic_still_drops_a_duplicate_after_a_kill(tmp_path: Path) -> None:
    """A message sent to a topic is copied at once, never stored in the topic; its id is
    journalled, so the topic's duplicate detection holds it across a kill."""
    config = parse_config(
        {
            "UserConfig": {
                "Namespaces": [
                    {
                        "Name": "ns",
                        "Queues": [],
                        "Topics": [
                            {
                                "Name": "t",
                                "Properties": {"RequiresDuplicateDetection": True},
                                "Subscriptions": [{"Name": "a"}],
                            }
                        ],
                    }
                ]
            }
        }
    )
    clock = Clock()
    namespace = Namespace(config, clock)
    journal = Journal(tmp_path)
    journal.open(namespace)
    namespace.entity("t").send(_message("once"), clock.now)  # type: ignore[union-attr]
    journal.write_pending()  # killed: written, not compacted
    for _ in range(2):  # the lines as written, then the compacted journal
        namespace = Namespace(config, clock)
        journal = Journal(tmp_path)
        journal.open(namespace)
        clock.now += 1000
        namespace.entity("t").send(_message("once"), clock.now)  # type: ignore[union-attr]
        subscription = namespace.entity("t/Subscriptions/a")
        assert subscription is not None
        assert [m.message_id for m in subscription.messages.values()] == ["once"]
        journal.close()


def test_a_topic_created_at_run_time_journals_its_scheduled_messages(tmp_path: Path) -> None:
    """The administration client's topic (admin_entities) is journalled as a configured one."""
    clock = Clock()
    namespace, journal = _started(tmp_path, clock)
    entities = Entities(namespace, tmp_path)
    topic = entities.put_topic("made", {}, update=False)
    entities.put_subscription("made", "s", {}, update=False)
    kept = topic.schedule(_message("later"), clock.now + 10_000, clock.now)
    journal.write_pending()  # killed: written, not compacted

    again = Namespace(merge_saved(CONFIG, tmp_path), clock)
    journal = Journal(tmp_path)
    journal.open(again)
    made = again.entity("made")
    assert made is not None
    assert list(made.messages) == [kept]
    clock.now += 10_000
    again.tick()
    subscription = again.entity("made/Subscriptions/s")
    assert subscription is not None
    assert [m.message_id for m in subscription.messages.values()] == ["later"]
    journal.close()
