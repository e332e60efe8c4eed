"""The emulator's persistence (journal.py): the store replayed from its journal, and a real
emulator process killed with SIGKILL and started again on the same data directory."""

from pathlib import Path

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from devstack.servicebus.codec import IncomingMessage, decode_application_properties
from devstack.servicebus.config import EmulatorConfig, QueueConfig
from devstack.servicebus.journal import Journal
from devstack.servicebus.launcher import start_emulator
from devstack.servicebus.store import MessageState, Namespace, StoredMessage
from function_app.topology import topology
from tests.support.chaos import record
from tests.support.servicebus import project_emulator_config
from tests.support.stack import kill_and_wait

CONFIG = EmulatorConfig(
    namespace="ns",
    queues=(
        QueueConfig(
            name="jobs",
            lock_duration_s=30,
            max_delivery_count=3,
            dead_letter_on_expiration=True,
            requires_duplicate_detection=True,
            duplicate_window_s=600,
        ),
    ),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


class Taker:
    def __init__(self) -> None:
        self.got: list[StoredMessage] = []

    @property
    def credit(self) -> int:
        return 1000

    @property
    def peek_lock(self) -> bool:
        return True

    def deliver(self, message: StoredMessage, wire_delivery_count: int) -> None:
        self.got.append(message)


def incoming(message_id: str, body: bytes = b"\x00Sw\xa1\x01x") -> IncomingMessage:
    return IncomingMessage(None, {}, message_id, b"", b"", body)


def started(data: Path, clock: Clock) -> tuple[Namespace, Journal]:
    namespace = Namespace(CONFIG, clock)
    journal = Journal(data)
    journal.open(namespace)
    return namespace, journal


def test_every_kind_of_change_comes_back_after_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    namespace, journal = started(tmp_path, clock)
    queue = namespace.queue("jobs")
    assert queue is not None
    for n in range(6):
        queue.send(incoming(f"m{n}", body=f"body-{n}".encode()), clock.now)
    queue.schedule(incoming("later"), clock.now + 60_000, clock.now)
    taker = Taker()
    queue.consumers.append(taker)
    queue.pump(clock.now)
    queue.consumers.clear()
    by_id = {m.message_id: m for m in taker.got}
    queue.complete(by_id["m0"].lock_token, clock.now)  # type: ignore[arg-type]
    queue.defer(by_id["m1"].lock_token, clock.now)  # type: ignore[arg-type]
    queue.dead_letter_locked(by_id["m2"].lock_token, clock.now, "bad", "it was bad")  # type: ignore[arg-type]
    queue.abandon(by_id["m3"].lock_token, clock.now)  # type: ignore[arg-type]
    # m4 and m5 stay locked: locks do not survive, the messages do
    journal.close()

    clock.now += 1000
    again, journal = started(tmp_path, clock)
    queue = again.queue("jobs")
    assert queue is not None
    assert queue.dead_letter is not None
    stored = {m.message_id: m for m in queue.messages.values()}
    assert set(stored) == {"m1", "m3", "m4", "m5", "later"}, "completed m0 came back"
    assert stored["m1"].state is MessageState.DEFERRED
    assert stored["later"].state is MessageState.SCHEDULED
    assert stored["m3"].delivery_count == 1
    assert stored["m4"].state is MessageState.ACTIVE
    assert stored["m4"].delivery_count == 1
    assert stored["m5"].body_raw == b"body-5"
    [dead] = queue.dead_letter.messages.values()
    assert dead.message_id == "m2"
    assert (
        decode_application_properties(dead.application_properties_raw)["DeadLetterReason"] == "bad"
    )
    taker = Taker()
    queue.consumers.append(taker)
    queue.pump(clock.now)
    assert sorted(m.message_id or "" for m in taker.got) == ["m3", "m4", "m5"]  # in order
    queue.send(incoming("m0"), clock.now)  # completed, still within the duplicate window
    assert "m0" not in {m.message_id for m in queue.messages.values()}
    queue.send(incoming("new"), clock.now)
    newest = max(queue.messages)
    assert newest > max(m.sequence_number for m in taker.got), "sequence numbers reused"
    journal.close()


def test_compaction_keeps_the_live_messages_only(tmp_path: Path) -> None:
    clock = Clock()
    namespace, journal = started(tmp_path, clock)
    queue = namespace.queue("jobs")
    assert queue is not None
    taker = Taker()
    queue.consumers.append(taker)
    for n in range(500):
        queue.send(incoming(f"x{n}"), clock.now)
        queue.pump(clock.now)
        queue.complete(taker.got[-1].lock_token, clock.now)  # type: ignore[arg-type]
    queue.send(incoming("kept"), clock.now)
    journal.close()
    grown = journal.path.stat().st_size
    again, journal = started(tmp_path, clock)
    assert journal.path.stat().st_size < grown / 2
    queue = again.queue("jobs")
    assert queue is not None
    assert [m.message_id for m in queue.messages.values()] == ["kept"]
    queue.send(incoming("x7"), clock.now)  # its id is still remembered
    assert len(queue.messages) == 1
    journal.close()


def test_a_line_torn_by_a_kill_mid_write_is_skipped(tmp_path: Path) -> None:
    clock = Clock()
    namespace, journal = started(tmp_path, clock)
    queue = namespace.queue("jobs")
    assert queue is not None
    queue.send(incoming("whole"), clock.now)
    journal.close()
    with journal.path.open("ab") as file:
        file.write(b'{"t":"s","e":"jobs","q":99,"id":"torn"')  # no newline: cut short
    again, journal = started(tmp_path, clock)
    queue = again.queue("jobs")
    assert queue is not None
    assert [m.message_id for m in queue.messages.values()] == ["whole"]
    journal.close()


@pytest.mark.integration
@pytest.mark.chaos
def test_acknowledged_sends_survive_sigkill_and_completed_ones_stay_gone(tmp_path: Path) -> None:
    queue = topology().queues[0].name
    config = project_emulator_config(tmp_path)
    data = tmp_path / "servicebus"
    emulator = start_emulator(config, data_dir=data, log_path=tmp_path / "first.log")
    try:
        with ServiceBusClient.from_connection_string(emulator.connection_string) as client:
            with client.get_queue_sender(queue) as sender:
                sender.send_messages(
                    [ServiceBusMessage(f"body-{n}", message_id=f"id-{n}") for n in range(50)]
                )
            with client.get_queue_receiver(queue, max_wait_time=5) as receiver:
                done: list[str] = []
                while len(done) < 20:
                    for message in receiver.receive_messages(max_message_count=20 - len(done)):
                        receiver.complete_message(message)
                        done.append(str(message.message_id))
        kill_and_wait(emulator.pid)
    finally:
        emulator.stop()
    restarted = start_emulator(config, data_dir=data, log_path=tmp_path / "second.log")
    try:
        left: dict[str, str] = {}
        with (
            ServiceBusClient.from_connection_string(restarted.connection_string) as client,
            client.get_queue_receiver(queue, max_wait_time=3) as receiver,
        ):
            while batch := receiver.receive_messages(max_message_count=50):
                for message in batch:
                    left[str(message.message_id)] = str(message)
                    receiver.complete_message(message)
    finally:
        restarted.stop()
    expected = {f"id-{n}" for n in range(50)} - set(done)
    record(
        "the emulator SIGKILLed with 30 messages queued, restarted on its journal",
        jobs=0,
        events=len(left),
        stuck=0,
        recover_seconds=None,
        clients=[
            (
                [n for n in range(50) if f"id-{n}" in left],
                [n for n in range(50) if f"id-{n}" in expected],
            )
        ],
    )
    assert set(left) == expected
    assert all(left[f"id-{n}"] == f"body-{n}" for n in range(50) if f"id-{n}" in left)
    logged = (tmp_path / "second.log").read_text(encoding="utf-8")
    assert "30 messages restored" in logged
