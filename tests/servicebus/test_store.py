"""The in-memory queue model on its own: the clock is an argument, so no waiting."""

import uuid

import pytest

from devstack.servicebus.amqp import AmqpConnection
from devstack.servicebus.codec import (
    IncomingMessage,
    decode_application_properties,
    decode_message,
    decode_transfer,
    encode_message,
)
from devstack.servicebus.config import QueueConfig
from devstack.servicebus.store import Entity, LockLostError, MessageState, StoredMessage


class Taker:
    """A consumer with unlimited credit that keeps what it is given."""

    def __init__(self, peek_lock: bool = True) -> None:
        self.peek_lock = peek_lock
        self.got: list[tuple[StoredMessage, int]] = []

    @property
    def credit(self) -> int:
        return 1000

    def deliver(self, message: StoredMessage, wire_delivery_count: int) -> None:
        self.got.append((message, wire_delivery_count))


def _queue(**overrides: object) -> Entity:
    config = QueueConfig(name="q", lock_duration_s=10, max_delivery_count=3)
    config = QueueConfig(**{**{f: getattr(config, f) for f in config.__slots__}, **overrides})  # type: ignore[arg-type]
    return Entity(
        name="q", config=config, dead_letter=Entity(name="q/$DeadLetterQueue", config=config)
    )


def _incoming(message_id: str | None = None, ttl_ms: int | None = None) -> IncomingMessage:
    return IncomingMessage(ttl_ms, {}, message_id, b"", b"", b"\x00Sw\xa1\x01x")


def test_settling_after_the_broker_expired_the_lock_is_lock_lost() -> None:
    queue = _queue()
    taker = Taker()
    queue.consumers.append(taker)
    queue.send(_incoming(), now=0)
    queue.pump(now=0)
    ((message, wire),) = taker.got
    token = message.lock_token
    assert token is not None
    assert wire == 0
    with pytest.raises(LockLostError):
        queue.complete(token, now=10_000)
    assert message.state is MessageState.ACTIVE  # back in the queue
    with pytest.raises(LockLostError):
        queue.renew(uuid.uuid4(), now=0)


def test_release_does_not_count_a_delivery_but_abandon_does() -> None:
    queue = _queue()
    taker = Taker()
    queue.consumers.append(taker)
    queue.send(_incoming(), now=0)
    queue.pump(now=0)
    message = taker.got[-1][0]
    queue.release(message.lock_token, now=1)  # type: ignore[arg-type]
    queue.pump(now=1)
    assert taker.got[-1][1] == 0
    queue.abandon(taker.got[-1][0].lock_token, now=2)  # type: ignore[arg-type]
    queue.pump(now=2)
    assert taker.got[-1][1] == 1


def test_lock_expiry_counts_towards_max_delivery_then_dead_letters() -> None:
    queue = _queue(max_delivery_count=2, lock_duration_s=1)
    taker = Taker()
    queue.consumers.append(taker)
    queue.send(_incoming(), now=0)
    for now in (0, 1000, 2000):
        queue.tick(now)
        queue.pump(now)
    assert [wire for _, wire in taker.got] == [0, 1]
    assert queue.dead_letter is not None
    assert len(queue.dead_letter.messages) == 1
    dead = next(iter(queue.dead_letter.messages.values()))
    reason = decode_application_properties(dead.application_properties_raw)["DeadLetterReason"]
    assert reason == "MaxDeliveryCountExceeded"


def test_message_ttl_shorter_than_the_queue_default_wins() -> None:
    queue = _queue(default_ttl_s=60, dead_letter_on_expiration=False)
    queue.send(_incoming(ttl_ms=500), now=0)
    queue.send(_incoming(), now=0)
    queue.tick(600)
    assert queue.runtime()["activeMessageCount"] == 1


def test_duplicate_window_forgets_old_ids() -> None:
    queue = _queue(requires_duplicate_detection=True, duplicate_window_s=1)
    queue.send(_incoming("a"), now=0)
    queue.send(_incoming("a"), now=500)
    assert queue.runtime()["activeMessageCount"] == 1
    queue.tick(1001)
    queue.send(_incoming("a"), now=1001)
    assert queue.runtime()["activeMessageCount"] == 2


def test_encoded_message_round_trips_and_a_binary_body_is_not_a_batch() -> None:
    inner = encode_message(
        delivery_count=2, ttl_ms=None, annotations={}, properties_raw=b"",
        application_properties_raw=b"", body_raw=b"\x00Sw\xa1\x02hi",
    )  # fmt: skip
    assert decode_message(inner).body_raw == b"\x00Sw\xa1\x02hi"
    plain = encode_message(
        delivery_count=0, ttl_ms=None, annotations={}, properties_raw=b"",
        application_properties_raw=b"", body_raw=b"\x00Su\xa0\x04\x00S\xffz",
    )  # fmt: skip
    assert len(decode_transfer(plain)) == 1


def test_a_message_locked_past_its_ttl_expires_once_the_lock_ends() -> None:
    queue = _queue(default_ttl_s=1, lock_duration_s=5, dead_letter_on_expiration=True)
    taker = Taker()
    queue.consumers.append(taker)
    queue.send(_incoming(), now=0)
    queue.pump(now=0)
    queue.tick(2000)
    assert queue.runtime()["activeMessageCount"] == 1  # still locked: not expired under a lock
    queue.tick(5001)
    assert queue.runtime()["deadLetterMessageCount"] == 1


def test_bookkeeping_of_settled_messages_is_pruned() -> None:
    queue = _queue()
    taker = Taker()
    queue.consumers.append(taker)
    for i in range(5000):
        queue.send(_incoming(), now=i)
        queue.pump(now=i)
        token = taker.got[-1][0].lock_token
        assert token is not None
        queue.complete(token, now=i)
    queue.tick(5000)
    assert len(queue._expiry_heap) <= 1024


@pytest.mark.parametrize(
    ("properties", "token", "status"),
    [
        ({"type": "servicebus.windows.net:sastoken", "name": "sb://h/q"},
         "SharedAccessSignature sr=x&sig=abc&se=1&skn=k", 202),
        ({"type": "jwt", "name": "sb://h/q"}, "a.b.c", 202),
        ({"type": "servicebus.windows.net:sastoken", "name": "sb://h/q"}, "hello", 401),
        ({"type": "jwt", "name": "sb://h/q"}, "SharedAccessSignature sr=x&sig=a&se=1", 202),
        ({"type": "jwt", "name": "sb://h/q"}, "not-a-jwt", 401),
        ({"type": "other", "name": "sb://h/q"}, "a.b.c", 400),
        ({"type": "jwt"}, "a.b.c", 400),
    ],
)  # fmt: skip
def test_cbs_put_token_accepts_only_well_formed_tokens(
    properties: dict[str, str], token: str, status: int
) -> None:
    assert AmqpConnection._put_token(properties, token).status == status
