"""IdempotencyKeys and SecretStore contracts: one winner per key, one secret for everyone."""

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

from function_app.domain.idempotency import CLAIM_LEASE
from function_app.ports import IdempotencyKeys, SecretStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
JUST_BEFORE = T0 + CLAIM_LEASE - timedelta(milliseconds=10)
AFTER_LEASE = T0 + CLAIM_LEASE


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


async def test_a_new_claim_is_unconfirmed_and_leased(idempotency_keys: IdempotencyKeys) -> None:
    key, job = unique("key"), unique("job")
    assert await idempotency_keys.lookup("erin", key) is None
    assert await idempotency_keys.claim("erin", key, job, now=T0) == job
    claim = await idempotency_keys.lookup("erin", key)
    assert claim is not None
    assert (claim.job_id, claim.confirmed) == (job, False)
    assert claim.lease_until == T0 + CLAIM_LEASE
    assert await idempotency_keys.lookup("someone-else", key) is None


async def test_an_unconfirmed_claim_is_taken_over_only_after_its_lease(
    idempotency_keys: IdempotencyKeys,
) -> None:
    key, stuck, retry = unique("key"), unique("job"), unique("job")
    assert await idempotency_keys.claim("frank", key, stuck, now=T0) == stuck
    assert await idempotency_keys.claim("frank", key, retry, now=JUST_BEFORE) == stuck
    assert await idempotency_keys.claim("frank", key, retry, now=AFTER_LEASE) == retry
    claim = await idempotency_keys.lookup("frank", key)
    assert claim is not None
    assert (claim.job_id, claim.confirmed) == (retry, False)
    assert claim.lease_until == AFTER_LEASE + CLAIM_LEASE  # a fresh lease for the taker
    # the taker's claim is leased anew: the next request sees it held
    assert await idempotency_keys.claim("frank", key, unique("job"), now=AFTER_LEASE) == retry


async def test_a_confirmed_claim_is_never_taken_over(idempotency_keys: IdempotencyKeys) -> None:
    key, job = unique("key"), unique("job")
    await idempotency_keys.claim("gina", key, job, now=T0)
    assert await idempotency_keys.confirm("gina", key, job)
    assert await idempotency_keys.confirm("gina", key, job)  # again: still ours
    claim = await idempotency_keys.lookup("gina", key)
    assert claim is not None
    assert (claim.job_id, claim.confirmed) == (job, True)
    a_day_later = T0 + timedelta(days=1)
    assert await idempotency_keys.claim("gina", key, unique("job"), now=a_day_later) == job


async def test_confirm_fails_once_the_claim_was_taken_over(
    idempotency_keys: IdempotencyKeys,
) -> None:
    key, slow, taker = unique("key"), unique("job"), unique("job")
    await idempotency_keys.claim("hank", key, slow, now=T0)
    assert await idempotency_keys.claim("hank", key, taker, now=AFTER_LEASE) == taker
    assert not await idempotency_keys.confirm("hank", key, slow)
    await idempotency_keys.release("hank", key, slow)  # not the holder any more: no effect
    assert await idempotency_keys.confirm("hank", key, taker)
    claim = await idempotency_keys.lookup("hank", key)
    assert claim is not None
    assert (claim.job_id, claim.confirmed) == (taker, True)
    assert not await idempotency_keys.confirm("hank", unique("key"), taker)  # no claim at all


async def test_concurrent_takers_agree_on_one_job(idempotency_keys: IdempotencyKeys) -> None:
    key, stuck = unique("key"), unique("job")
    await idempotency_keys.claim("ivy", key, stuck, now=T0)
    candidates = [unique("job") for _ in range(8)]
    holders = await asyncio.gather(
        *(idempotency_keys.claim("ivy", key, job, now=AFTER_LEASE) for job in candidates)
    )
    assert len(set(holders)) == 1
    assert holders[0] in candidates
    claim = await idempotency_keys.lookup("ivy", key)
    assert claim is not None
    assert claim.job_id == holders[0]


async def test_a_takeover_and_a_late_confirm_have_one_winner(
    idempotency_keys: IdempotencyKeys,
) -> None:
    key, slow, taker = unique("key"), unique("job"), unique("job")
    await idempotency_keys.claim("jack", key, slow, now=T0)
    confirmed, holder = await asyncio.gather(
        idempotency_keys.confirm("jack", key, slow),
        idempotency_keys.claim("jack", key, taker, now=AFTER_LEASE),
    )
    claim = await idempotency_keys.lookup("jack", key)
    assert claim is not None
    if confirmed:
        assert holder == slow
        assert (claim.job_id, claim.confirmed) == (slow, True)
    else:
        assert holder == taker
        assert (claim.job_id, claim.confirmed) == (taker, False)


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
