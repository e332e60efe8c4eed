"""IdempotencyKeys and SecretStore contracts: one winner per key, one secret for everyone."""

import asyncio
import os
import uuid

from function_app.ports import IdempotencyKeys, SecretStore


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


async def test_first_claim_wins_and_later_claims_see_it(idempotency_keys: IdempotencyKeys) -> None:
    key, first, second = unique("key"), unique("job"), unique("job")
    assert await idempotency_keys.claim("alice", key, first) == first
    assert await idempotency_keys.claim("alice", key, second) == first


async def test_keys_are_per_owner(idempotency_keys: IdempotencyKeys) -> None:
    key, alices, bobs = unique("key"), unique("job"), unique("job")
    assert await idempotency_keys.claim("alice", key, alices) == alices
    assert await idempotency_keys.claim("bob", key, bobs) == bobs


async def test_concurrent_claims_agree_on_one_job(idempotency_keys: IdempotencyKeys) -> None:
    key = unique("key")
    candidates = [unique("job") for _ in range(8)]
    holders = await asyncio.gather(
        *(idempotency_keys.claim("carol", key, job) for job in candidates)
    )
    assert len(set(holders)) == 1
    assert holders[0] in candidates


async def test_release_frees_only_our_claim(idempotency_keys: IdempotencyKeys) -> None:
    key, mine, other, later = unique("key"), unique("job"), unique("job"), unique("job")
    await idempotency_keys.claim("dave", key, mine)
    await idempotency_keys.release("dave", key, other)  # not the holder: no effect
    assert await idempotency_keys.claim("dave", key, later) == mine
    await idempotency_keys.release("dave", key, mine)
    assert await idempotency_keys.claim("dave", key, later) == later


async def test_odd_keys_and_owners_are_fine(idempotency_keys: IdempotencyKeys) -> None:
    owner, key, job = "user/with#odd?chars\\", "k" * 300 + "/#?", unique("job")
    assert await idempotency_keys.claim(owner, key, job) == job
    assert await idempotency_keys.claim(owner, key, unique("job")) == job


async def test_secret_is_created_once(secret_store: SecretStore) -> None:
    name = unique("stream-key")
    calls: list[bytes] = []

    def factory() -> bytes:
        value = os.urandom(32)
        calls.append(value)
        return value

    first = await secret_store.get_or_create(name, factory)
    again = await secret_store.get_or_create(name, factory)
    assert first == again == calls[0]
    assert len(calls) == 1
    assert len(first) == 32


async def test_concurrent_instances_converge_on_one_secret(secret_store: SecretStore) -> None:
    name = unique("stream-key")
    values = await asyncio.gather(
        *(secret_store.get_or_create(name, lambda: os.urandom(32)) for _ in range(8))
    )
    assert len(set(values)) == 1
    assert await secret_store.get_or_create(name, lambda: b"late") == values[0]
