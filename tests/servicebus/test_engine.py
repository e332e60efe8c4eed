"""The AMQP engine and codec on their own, bytes in and bytes out (no socket, no SDK)."""

import asyncio
import uuid
from typing import Any

import pytest

from devstack.servicebus.amqp import AmqpConnection
from devstack.servicebus.codec import (
    Array,
    Byte,
    Char,
    Described,
    Float,
    Int,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
    decode,
    encode,
    section,
)
from devstack.servicebus.config import EmulatorConfig, QueueConfig
from devstack.servicebus.frames import (
    AMQP_HEADER,
    SASL_HEADER,
    Attach,
    Begin,
    Disposition,
    Open,
    SaslInit,
    Transfer,
    frame,
    parse_body,
)
from devstack.servicebus.store import Namespace

VALUES: list[Any] = [
    None, True, False, UByte(3), UShort(500), UInt(0), UInt(7), UInt(70_000), ULong(0),
    ULong(9), ULong(1 << 40), Byte(-3), Short(-300), Int(5), Int(-70_000), 5, -(1 << 40),
    Float(1.5), 2.25, Char("é"), Timestamp(-5), uuid.uuid4(), b"", b"x" * 300, "", "é" * 200,
    Symbol("abc"), Symbol("s" * 300), [], [1, "a", [2]], {"k": [1]}, {Symbol("a"): None},
    Array(0x98, [uuid.uuid4()]), Array(0x81, [1, 2, 3]), Array(0xB3, [Symbol("a")]),
    Array(0x83, []), Described(ULong(0x24), []), list(range(300)),
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_value_round_trips_with_its_amqp_type(value: Any) -> None:
    encoded = encode(value)
    decoded, end = decode(encoded)
    assert end == len(encoded)
    assert decoded == value
    assert type(decoded) is type(value)
    assert encode(decoded) == encoded


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def _frames(data: bytes) -> list[Any]:
    out, pos = [], 0
    while pos < len(data):
        if data[pos : pos + 4] == b"AMQP":
            pos += 8
            continue
        size = int.from_bytes(data[pos : pos + 4], "big")
        out.append(parse_body(data[pos + 4 * data[pos + 4] : pos + size])[0])
        pos += size
    return out


async def test_duplicate_and_skipped_delivery_ids_are_each_answered() -> None:
    """The SDK's unlocked delivery-id counter: 1, 1, 1, then 2, 2, then 5. Each is taken and
    settled with the id it carried; the connection stays open (proton ended it here)."""
    config = EmulatorConfig(namespace="ns", queues=[QueueConfig(name="q")])
    namespace = Namespace(config, clock=lambda: 0)
    connection = AmqpConnection(namespace)
    transport = _Transport()
    connection.connection_made(transport)
    body = section(0x75, b"hello")
    target = Described(ULong(0x29), ["amqps://h/q"])
    frames = [
        SASL_HEADER,
        frame(0, SaslInit(Symbol("ANONYMOUS")), kind=1),
        AMQP_HEADER,
        frame(0, Open("client")),
        frame(0, Begin(None, 0, 5000, 5000)),
        frame(0, Attach("l", 0, False, 0, 0, Described(ULong(0x28), ["x"]), target)),
    ]
    for delivery_id in (1, 1, 1, 2, 2, 5):
        transfer = Transfer(0, delivery_id, b"\x00\x00\x00\x01", 0, False, False)
        frames.append(frame(0, transfer, body))
    for chunk in frames:
        connection.data_received(chunk)
    assert not transport.closed
    assert connection.condition is None
    answered = [f for f in _frames(bytes(transport.out)) if isinstance(f, Disposition)]
    covered = {i for d in answered for i in range(d.first, (d.last or d.first) + 1)}
    assert {1, 2, 5} <= covered
    assert all(d.settled and d.role for d in answered)
    assert 3 not in covered  # only ids the client used
    assert namespace.queues["q"].runtime()["activeMessageCount"] == 6
