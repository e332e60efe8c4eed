"""The per-message path of the emulator, bytes in and bytes out (no socket, no SDK): the
journal written in one go before anything is answered, the hand-written journal lines, the
fast disposition decoder and the lock tokens (what `bench/servicebus_bench.py` measures)."""

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.servicebus import journal as journal_module
from devstack.servicebus.amqp import AmqpConnection
from devstack.servicebus.codec import (
    DATA,
    PROPERTIES,
    Described,
    Symbol,
    UInt,
    ULong,
    decode,
    encode,
    section,
)
from devstack.servicebus.config import EmulatorConfig, QueueConfig
from devstack.servicebus.frames import (
    AMQP_HEADER,
    FRAME_SASL,
    SASL_HEADER,
    Attach,
    Begin,
    Disposition,
    Flow,
    Open,
    SaslInit,
    frame,
    parse_body,
    transfer_frame,
)
from devstack.servicebus.journal import Journal
from devstack.servicebus.store import MessageState, Namespace, StoredMessage, new_lock_token

CONFIG = EmulatorConfig(
    namespace="ns", queues=(QueueConfig(name="jobs", lock_duration_s=30, max_delivery_count=3),)
)
BATCH_FORMAT = 0x80013700
ACCEPTED = Described(ULong(0x24), [])


class _Transport(asyncio.Transport):
    """Keeps what was written, and what the journal file held at each write."""

    def __init__(self, journal_path: Path) -> None:
        super().__init__()
        self.journal_path = journal_path
        self.writes: list[tuple[bytes, list[dict[str, Any]]]] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        lines = self.journal_path.read_bytes().splitlines()
        self.writes.append((bytes(data), [json.loads(line) for line in lines]))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def _batch(first: int, count: int) -> bytes:
    """A batch transfer's payload as the SDK builds it: one data section per message."""
    return b"".join(
        section(DATA, section(PROPERTIES, [f"id-{first + k}"]) + section(0x75, b"x" * 64))
        for k in range(count)
    )


def _disposition_frame(delivery_id: int) -> bytes:
    return frame(1, Disposition(True, delivery_id, delivery_id, False, ACCEPTED))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times the journal called os.write and os.fsync."""
    calls = {"write": 0, "fsync": 0}
    real_write, real_fsync = os.write, os.fsync

    def write(fd: int, data: Any) -> int:
        calls["write"] += 1
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        calls["fsync"] += 1
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "write", write)
    monkeypatch.setattr(journal_module.os, "fsync", fsync)
    return calls


def _connect(tmp_path: Path, fsync: bool) -> tuple[AmqpConnection, _Transport, Journal]:
    """A connection with a sender link (handle 0, session 0) and a peek-lock receiver link
    (handle 0, session 1) on queue `jobs`, the journal on."""
    namespace = Namespace(CONFIG, clock=lambda: 1_000_000)
    journal = Journal(tmp_path, fsync=fsync)
    journal.open(namespace)
    connection = AmqpConnection(namespace)
    transport = _Transport(journal.path)
    connection.connection_made(transport)
    source, target = Described(ULong(0x28), ["jobs"]), Described(ULong(0x29), ["jobs"])
    for data in (
        SASL_HEADER,
        frame(0, SaslInit(Symbol("ANONYMOUS")), kind=FRAME_SASL),
        AMQP_HEADER,
        frame(0, Open(container_id="test", max_frame_size=1 << 20)),
        frame(0, Begin(None, 0, 5000, 5000)),
        frame(1, Begin(None, 0, 5000, 5000)),
        frame(0, Attach("send", 0, False, 2, 0, Described(ULong(0x28), ["me"]), target)),
        frame(1, Attach("receive", 0, True, 0, 1, source, Described(ULong(0x29), ["me"]))),
    ):
        connection.data_received(data)
    transport.writes.clear()
    return connection, transport, journal


def _kinds(records: list[dict[str, Any]]) -> list[str]:
    return [record["t"] for record in records if record["t"] in "srcmd"]


@pytest.mark.parametrize("fsync", [False, True], ids=["journal", "journal+fsync"])
async def test_a_batch_of_sends_is_one_journal_write_done_before_the_answer(
    tmp_path: Path, counted: dict[str, int], fsync: bool
) -> None:
    connection, transport, journal = _connect(tmp_path, fsync)
    counted.update(write=0, fsync=0)
    connection.data_received(
        transfer_frame(0, 0, 0, b"\x00", False, _batch(0, 100), message_format=BATCH_FORMAT)
    )
    (data, on_disk) = transport.writes[0]
    performative, _ = parse_body(data[8:])
    assert isinstance(performative, Disposition)  # the answer to the send
    assert _kinds(on_disk) == ["s"] * 100  # every message was in the journal before it
    assert counted == {"write": 1, "fsync": 1 if fsync else 0}
    journal.close()


@pytest.mark.parametrize("fsync", [False, True], ids=["journal", "journal+fsync"])
async def test_a_completion_is_in_the_journal_before_its_settlement_is_echoed(
    tmp_path: Path, counted: dict[str, int], fsync: bool
) -> None:
    connection, transport, journal = _connect(tmp_path, fsync)
    connection.data_received(
        transfer_frame(0, 0, 0, b"\x00", False, _batch(0, 3), message_format=BATCH_FORMAT)
    )
    connection.data_received(frame(1, Flow(0, 5000, 0, 5000, 0, 0, 10)))  # 3 deliveries
    _, on_disk = transport.writes[-1]
    assert _kinds(on_disk) == ["s", "s", "s", "c", "c", "c"]  # delivery counts before them
    transport.writes.clear()
    counted.update(write=0, fsync=0)
    connection.data_received(_disposition_frame(0) + _disposition_frame(1))
    ((data, on_disk),) = transport.writes
    echo, _ = parse_body(data[8:])
    assert isinstance(echo, Disposition)
    assert (echo.first, echo.last) == (0, 1)
    assert _kinds(on_disk)[-2:] == ["r", "r"]
    assert counted == {"write": 1, "fsync": 1 if fsync else 0}
    journal.close()


def _messages() -> Iterator[StoredMessage]:
    for message_id, ttl, scheduled, source, state in (
        ("plain", None, None, None, MessageState.ACTIVE),
        (None, UInt(5000), 2_000_000, None, MessageState.SCHEDULED),  # an AMQP-typed int
        ('quo"te\\ é \u2028', 1, None, "jobs", MessageState.LOCKED),
        ("deferred", None, None, None, MessageState.DEFERRED),
    ):
        yield StoredMessage(
            sequence_number=7,
            message_id=message_id,
            ttl_ms=ttl,
            annotations={Symbol("x-custom"): 5},
            properties_raw=section(PROPERTIES, [message_id]),
            application_properties_raw=section(0x74, {"k": "v"}),
            body_raw=section(0x75, b"\x00\xff" * 10),
            enqueued_time_ms=1_000_000,
            expires_at_ms=9_000_000,
            state=state,
            scheduled_ms=scheduled,
            delivery_count=2,
            dead_letter_source=source,
        )


@pytest.mark.parametrize("message", list(_messages()), ids=lambda m: str(m.message_id))
def test_the_hand_written_journal_line_is_the_json_of_the_record(
    tmp_path: Path, message: StoredMessage
) -> None:
    """`_message_record` (used by compaction and replay) is the reference: a field added to
    it and not to `_message_line` fails here."""
    journal = Journal(tmp_path)
    entity = Namespace(CONFIG, clock=lambda: 0).queue("jobs")
    assert entity is not None
    line = journal._message_line(entity, message)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == journal._message_record(entity, message)
    assert line.decode("ascii")  # as json.dumps writes it: ASCII only


def _general(body: bytes) -> Disposition:
    """What the general decoder makes of a disposition body."""
    value, _ = decode(body)
    return Disposition(*value.value)


def _small_list(count: int, fields: bytes) -> bytes:
    return b"\x00S\x15\xc0" + bytes((len(fields) + 1, count)) + fields


DISPOSITIONS: dict[str, bytes] = {
    # exactly what azure-servicebus 7.15 (pyamqp) sends for complete_message
    "sdk-complete": b"\x00S\x15\xc0\x0e\x06V\x01R\x07R\x07V\x00\x00S$E@",
    "sdk-wide-ids": _small_list(6, b"V\x01p\x00\x01\x11\x70p\x00\x01\x11\x71V\x00\x00S$E@"),
    "released": _small_list(5, b"ARxCA\x00S&E"),
    "no-last-no-state": _small_list(4, b"BC@A"),
    "zero-ids": _small_list(3, b"ACC"),
}
FALLBACK: dict[str, bytes] = {  # decoded by the general decoder, as before
    "modified": _small_list(5, b"ARxRxA\x00S'E"),
    "rejected-with-error": b"\x00S\x15"
    + encode([True, 1, 1, True, Described(ULong(0x25), [Symbol("amqp:x"), "d", None])]),
    "received": b"\x00S\x15" + encode([True, 1, 1, False, Described(ULong(0x23), [0, 0])]),
    "list32": b"\x00S\x15\xd0" + (8).to_bytes(4) + (4).to_bytes(4) + b"AC@A",
    "accepted-as-list8": _small_list(5, b"ARxCA\x00S$\xc0\x01\x00"),
}


@pytest.mark.parametrize("body", [*DISPOSITIONS.values(), *FALLBACK.values()],
                         ids=[*DISPOSITIONS, *FALLBACK])  # fmt: skip
def test_the_disposition_fast_path_decodes_as_the_general_decoder(body: bytes) -> None:
    performative, payload = parse_body(body)
    assert payload == b""
    assert performative == _general(body)
    assert isinstance(performative, Disposition)
    for got, want in zip(
        (performative.first, performative.last, performative.state),
        (_general(body).first, _general(body).last, _general(body).state),
        strict=True,
    ):
        assert type(got) is type(want)


def test_the_disposition_fast_path_is_taken_for_the_sdk_complete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from devstack.servicebus import frames

    def refuse(*_: Any) -> Any:
        raise AssertionError("the general decoder was used")

    monkeypatch.setattr(frames, "decode", refuse)
    for body in DISPOSITIONS.values():
        assert isinstance(parse_body(body)[0], Disposition)


def test_lock_tokens_are_distinct_version_4_uuids() -> None:
    make: Callable[[], uuid.UUID] = new_lock_token
    tokens = [make() for _ in range(10_000)]
    assert len(set(tokens)) == len(tokens)
    assert {token.version for token in tokens} == {4}
    assert {token.variant for token in tokens} == {uuid.RFC_4122}
