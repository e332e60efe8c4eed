"""JobService: validation before any write, idempotency, send failure, status and cancel."""

import asyncio
from typing import Any

import pytest

from function_app.domain.errors import (
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unprocessable,
    UnsupportedType,
)
from function_app.domain.idempotency import CLAIM_LEASE
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, EventDraft, Job, JobEvent, JobStatus
from function_app.domain.uploads import owner_prefix
from function_app.ports import QueueCounts
from tests.fakes import FakeWorld, fake_world, test_settings

ALICE = Caller("alice")
BOB = Caller("bob")


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(test_settings(MAX_UPLOAD_BYTES=1000))


def doc_request(blob_name: str, **data: object) -> EnqueueRequest:
    return EnqueueRequest(
        "document-analysis",
        "analyze-document",
        {"blobName": blob_name, "fileName": "a.txt", **data},
    )


async def test_enqueue_records_the_job_and_sends_one_message(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    accepted = await world.services.jobs.enqueue(ALICE, doc_request(blob))
    job = world.log.jobs[accepted.job_id]
    assert job.owner == "alice"
    assert job.status is JobStatus.QUEUED
    assert world.log.statuses(accepted.job_id) == ["queued"]
    assert [(m.queue_name, m.message_id) for m in world.queue.sent] == [
        ("document-analysis", accepted.job_id)
    ]
    assert world.queue.sent[0].body["jobName"] == "analyze-document"
    scoped = await world.services.stream_tokens.verify(accepted.stream_token)
    assert (scoped.owner, scoped.job_scope) == ("alice", accepted.job_id)


async def test_enqueue_pins_the_validated_upload_version(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    validated = await world.uploads.describe(blob)
    assert validated is not None
    accepted = await world.services.jobs.enqueue(ALICE, doc_request(blob))
    job = world.log.jobs[accepted.job_id]
    assert job.upload_etag == validated.etag
    assert job.upload_etag
    world.uploads.put(blob, b"HELLO", "text/plain")  # a rewrite via the upload URL
    rewritten = await world.uploads.describe(blob)
    assert rewritten is not None
    assert rewritten.etag != job.upload_etag
    assert "etag" not in {k.lower() for k in job.data}  # data stays the caller's request


@pytest.mark.parametrize(
    ("queue", "job", "code"),
    [
        ("nope", "analyze-document", "unknown_queue"),
        ("document-analysis", "analyze-resume", "unknown_job_name"),
        ("document-analysis", "rm-rf", "unknown_job_name"),
    ],
)
async def test_unknown_queue_or_job_is_refused_and_writes_nothing(
    world: FakeWorld, queue: str, job: str, code: str
) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    with pytest.raises(InvalidRequest) as info:
        await world.services.jobs.enqueue(ALICE, EnqueueRequest(queue, job, {"blobName": blob}))
    assert info.value.code == code
    assert world.log.writes == 0
    assert world.queue.sent == []


async def test_an_upload_named_by_neither_blob_name_nor_file_name_is_refused(
    world: FakeWorld,
) -> None:
    with pytest.raises(InvalidRequest, match=r"data\.blobName is required \(or data\.fileName"):
        await world.services.jobs.enqueue(
            ALICE, EnqueueRequest("document-analysis", "analyze-document", {"resumeId": "r1"})
        )
    assert world.log.writes == 0


async def test_foreign_and_missing_blobs_look_the_same(world: FakeWorld) -> None:
    bobs = world.upload("bob", "a.txt", b"hello")
    missing = owner_prefix("alice") + "0" * 32 + "/a.txt"
    made_up = "elsewhere/a.txt"
    for blob in (bobs, missing, made_up):
        with pytest.raises(NotFound) as info:
            await world.services.jobs.enqueue(ALICE, doc_request(blob))
        assert info.value.code == "blob_not_found"
    assert world.log.writes == 0
    assert world.queue.sent == []


async def test_oversized_blob_is_refused(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"x" * 1001)
    with pytest.raises(TooLarge):
        await world.services.jobs.enqueue(ALICE, doc_request(blob))
    assert world.log.writes == 0


async def test_empty_blob_is_refused(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"")
    with pytest.raises(Unprocessable):
        await world.services.jobs.enqueue(ALICE, doc_request(blob))


async def test_disallowed_stored_type_is_refused(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"MZ...", content_type="application/x-msdownload")
    with pytest.raises(UnsupportedType):
        await world.services.jobs.enqueue(ALICE, doc_request(blob))
    assert world.log.writes == 0


async def test_missing_stored_type_falls_back_to_the_extension(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello", content_type=None)
    accepted = await world.services.jobs.enqueue(ALICE, doc_request(blob))
    assert accepted.status is JobStatus.QUEUED


async def test_same_idempotency_key_returns_the_same_job(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    first = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-1")
    again = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-1")
    assert again.job_id == first.job_id
    assert again.replayed
    assert not first.replayed
    assert len(world.queue.sent) == 1
    assert len(world.log.jobs) == 1


async def test_idempotency_keys_are_per_owner(world: FakeWorld) -> None:
    a = await world.services.jobs.enqueue(
        ALICE, doc_request(world.upload("alice", "a.txt", b"1")), "k"
    )
    b = await world.services.jobs.enqueue(BOB, doc_request(world.upload("bob", "a.txt", b"1")), "k")
    assert a.job_id != b.job_id


async def test_a_key_reused_for_another_request_conflicts(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-2")
    with pytest.raises(Conflict) as info:
        await world.services.jobs.enqueue(ALICE, doc_request(blob, extra=1), "key-2")
    assert info.value.code == "idempotency_key_reused"


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "naïve"])
async def test_bad_idempotency_keys_are_refused(world: FakeWorld, key: str) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    with pytest.raises(InvalidRequest):
        await world.services.jobs.enqueue(ALICE, doc_request(blob), key)
    assert world.log.writes == 0


async def test_failed_send_ends_the_job_and_frees_the_key(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    world.queue.fail_with = DependencyUnavailable("servicebus", "down")
    with pytest.raises(DependencyUnavailable) as info:
        await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-3")
    assert info.value.dependency == "servicebus"
    (job,) = world.log.jobs.values()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "enqueue_failed"
    assert job.error.retryable
    assert world.log.keys == {}
    world.queue.fail_with = None
    retried = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-3")
    assert retried.job_id != job.job_id
    assert len(world.queue.sent) == 1


async def test_stream_token_callers_cannot_enqueue(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    with pytest.raises(Unauthenticated):
        await world.services.jobs.enqueue(Caller("alice", job_scope="x"), doc_request(blob))


async def _queued(world: FakeWorld) -> str:
    blob = world.upload("alice", "a.txt", b"hello")
    return (await world.services.jobs.enqueue(ALICE, doc_request(blob))).job_id


async def test_status_is_for_the_owner_and_the_tokens_job_only(world: FakeWorld) -> None:
    job_id = await _queued(world)
    assert (await world.services.jobs.status(ALICE, job_id)).job_id == job_id
    assert (await world.services.jobs.status(Caller("alice", job_scope=job_id), job_id)).owner
    for caller, wanted in [(BOB, job_id), (Caller("alice", job_scope="other"), job_id)]:
        with pytest.raises(NotFound):
            await world.services.jobs.status(caller, wanted)
    for unknown in ["0" * 32, "../../x", "", "a" * 65]:
        with pytest.raises(NotFound):
            await world.services.jobs.status(ALICE, unknown)


async def test_cancel_a_queued_job_ends_it_now(world: FakeWorld) -> None:
    job_id = await _queued(world)
    job = await world.services.jobs.cancel(ALICE, job_id)
    assert job.status is JobStatus.CANCELLED
    assert world.log.statuses(job_id) == ["queued", "cancelled"]


async def test_cancel_a_running_job_sets_the_flag(world: FakeWorld) -> None:
    job_id = await _queued(world)
    await world.log.append(job_id, lambda _: EventDraft(JobStatus.STARTED, 0, "initializing", "go"))
    job = await world.services.jobs.cancel(ALICE, job_id)
    assert job.cancel_requested
    assert job.status is JobStatus.STARTED
    assert world.log.statuses(job_id) == ["queued", "started"]


async def test_cancel_a_finished_job_conflicts(world: FakeWorld) -> None:
    job_id = await _queued(world)
    await world.services.jobs.cancel(ALICE, job_id)
    with pytest.raises(Conflict):
        await world.services.jobs.cancel(ALICE, job_id)


async def test_cancel_is_the_owners_and_not_a_stream_tokens(world: FakeWorld) -> None:
    job_id = await _queued(world)
    with pytest.raises(NotFound):
        await world.services.jobs.cancel(BOB, job_id)
    with pytest.raises(Unauthenticated):
        await world.services.jobs.cancel(Caller("alice", job_scope=job_id), job_id)
    assert world.log.jobs[job_id].status is JobStatus.QUEUED


async def test_queue_stats_for_known_queues_only(world: FakeWorld) -> None:
    world.stats.counts_by_queue["resume-analysis"] = QueueCounts("resume-analysis", 3, 1, 0)
    counts = await world.services.jobs.queue_stats(ALICE, "resume-analysis")
    assert counts.active == 3
    assert counts.dead_letter == 1
    with pytest.raises(NotFound):
        await world.services.jobs.queue_stats(ALICE, "secret-queue")


# --- idempotency claims are leased until the job is recorded ---------------------------------


async def crashed_after_claiming(world: FakeWorld, key: str) -> str:
    """What a process that died between claiming `key` and recording its job leaves behind."""
    dead_job = "d" * 32
    assert await world.log.claim("alice", key, dead_job, now=world.clock.now()) == dead_job
    return dead_job


async def test_a_claim_left_by_a_crash_is_taken_over_after_its_lease(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    await crashed_after_claiming(world, "key-crash")
    for wait in (0, CLAIM_LEASE.total_seconds() - 1):
        world.clock.advance(wait)
        with pytest.raises(Conflict) as info:
            await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-crash")
        assert info.value.code == "idempotency_in_progress"
    assert world.queue.sent == []
    world.clock.advance(1)  # the lease has run out
    accepted = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-crash")
    assert not accepted.replayed
    assert world.log.jobs[accepted.job_id].status is JobStatus.QUEUED
    assert [m.message_id for m in world.queue.sent] == [accepted.job_id]
    claim = await world.log.lookup("alice", "key-crash")
    assert claim is not None
    assert (claim.job_id, claim.confirmed) == (accepted.job_id, True)
    again = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-crash")
    assert (again.job_id, again.replayed) == (accepted.job_id, True)
    assert len(world.queue.sent) == 1


async def test_a_recorded_job_keeps_its_key_long_after_the_lease(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    first = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-kept")
    world.clock.advance(24 * 3600)
    again = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-kept")
    assert (again.job_id, again.replayed) == (first.job_id, True)
    assert len(world.queue.sent) == 1


async def test_an_enqueue_whose_claim_was_taken_over_sends_nothing(world: FakeWorld) -> None:
    """The slow request records its job after its lease ran out and a retry took the key:
    its confirm fails, so only the retry's job is queued."""
    blob = world.upload("alice", "a.txt", b"hello")
    real_create = world.log.create
    stalled: list[str] = []
    retry: list[Any] = []

    async def create_then_stall(job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        created = await real_create(job, first)
        if not stalled:  # the first (slow) request only
            stalled.append(job.job_id)
            world.clock.advance(CLAIM_LEASE.total_seconds())
            retry.append(await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-slow"))
        return created

    world.log.create = create_then_stall  # type: ignore[method-assign]
    with pytest.raises(Conflict) as info:
        await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-slow")
    assert info.value.code == "idempotency_in_progress"
    (taker,) = retry
    assert [m.message_id for m in world.queue.sent] == [taker.job_id]
    slow = world.log.jobs[stalled[0]]
    assert slow.job_id != taker.job_id
    assert slow.status is JobStatus.FAILED
    assert slow.error is not None
    assert slow.error.code == "enqueue_abandoned"  # the taker ended it first
    replay = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-slow")
    assert (replay.job_id, replay.replayed) == (taker.job_id, True)


async def test_a_lost_confirm_fails_its_own_job(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    real_create = world.log.create

    async def create_then_lose_the_key(job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        created = await real_create(job, first)
        world.clock.advance(CLAIM_LEASE.total_seconds())
        assert await world.log.claim("alice", "key-lost", "t" * 32, now=world.clock.now())
        return created

    world.log.create = create_then_lose_the_key  # type: ignore[method-assign]
    with pytest.raises(Conflict) as info:
        await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-lost")
    assert info.value.code == "idempotency_in_progress"
    assert world.queue.sent == []
    (job,) = world.log.jobs.values()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("idempotency_claim_lost", False)


async def test_concurrent_retries_after_the_lease_queue_one_job(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    await crashed_after_claiming(world, "key-race")
    world.clock.advance(CLAIM_LEASE.total_seconds())
    outcomes = await asyncio.gather(
        *(world.services.jobs.enqueue(ALICE, doc_request(blob), "key-race") for _ in range(5)),
        return_exceptions=True,
    )
    (sent,) = world.queue.sent
    for outcome in outcomes:
        if isinstance(outcome, Conflict):
            assert outcome.code == "idempotency_in_progress"
        else:
            assert not isinstance(outcome, BaseException), outcome
            assert outcome.job_id == sent.message_id
    assert len(world.log.jobs) == 1


async def test_a_confirm_that_fails_ends_the_job_and_frees_the_key(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")

    async def storage_down(owner: str, key: str, job_id: str) -> bool:
        raise DependencyUnavailable("storage", "down")

    world.log.confirm = storage_down  # type: ignore[method-assign]
    with pytest.raises(DependencyUnavailable):
        await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-down")
    (job,) = world.log.jobs.values()
    assert job.status is JobStatus.FAILED
    assert world.queue.sent == []
    assert world.log.keys == {}


# --- a replay answers from the recorded job, before validation --------------------------------


async def test_a_replay_returns_the_job_even_after_its_blob_was_deleted(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    first = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-gone")
    del world.uploads.blobs[blob]
    again = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-gone")
    assert (again.job_id, again.replayed) == (first.job_id, True)
    assert again.status is JobStatus.QUEUED
    assert len(world.queue.sent) == 1
    # without the key, the same request is validated and refused
    with pytest.raises(NotFound) as info:
        await world.services.jobs.enqueue(ALICE, doc_request(blob))
    assert info.value.code == "blob_not_found"


async def test_a_replay_after_the_limits_changed_still_returns_the_job(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    first = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-swapped")
    world.uploads.put(blob, b"x" * 5000, "text/plain")  # over the 1000-byte limit now
    again = await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-swapped")
    assert (again.job_id, again.replayed) == (first.job_id, True)


async def test_the_replay_lookup_is_per_owner(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    await world.services.jobs.enqueue(ALICE, doc_request(blob), "shared-key")
    del world.uploads.blobs[blob]
    # Bob sends the same key and Alice's request: validated as his own, so 404, not a replay
    with pytest.raises(NotFound) as info:
        await world.services.jobs.enqueue(BOB, doc_request(blob), "shared-key")
    assert info.value.code == "blob_not_found"
    assert len(world.log.jobs) == 1


async def test_a_different_request_with_a_used_key_is_still_validated_first(
    world: FakeWorld,
) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-other")
    del world.uploads.blobs[blob]
    with pytest.raises(NotFound):  # as before: the missing blob, not the key
        await world.services.jobs.enqueue(ALICE, doc_request(blob, extra=1), "key-other")
    other = world.upload("alice", "b.txt", b"hello")
    with pytest.raises(Conflict) as info:
        await world.services.jobs.enqueue(ALICE, doc_request(other), "key-other")
    assert info.value.code == "idempotency_key_reused"


async def test_a_replay_does_not_write(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-read")
    writes = world.log.writes
    await world.services.jobs.enqueue(ALICE, doc_request(blob), "key-read")
    assert world.log.writes == writes


async def test_a_job_recorded_but_never_confirmed_is_ended_when_its_key_is_taken_over(
    world: FakeWorld,
) -> None:
    """The process died after recording its job and before confirming the key (so before
    sending): a retry after the lease queues a new job and ends the orphan."""
    blob = world.upload("alice", "a.txt", b"hello")
    orphan = await crashed_after_claiming(world, "key-orphan")
    request = doc_request(blob)
    await world.log.create(
        Job(
            job_id=orphan,
            owner="alice",
            queue_name=request.queue_name,
            job_name=request.job_name,
            data=dict(request.data),
            created_at=world.clock.now(),
            idempotency_key="key-orphan",
        ),
        EventDraft(JobStatus.QUEUED, 0, "queued", "Job queued"),
    )
    world.clock.advance(CLAIM_LEASE.total_seconds())
    accepted = await world.services.jobs.enqueue(ALICE, request, "key-orphan")
    assert accepted.job_id != orphan
    assert not accepted.replayed
    assert [m.message_id for m in world.queue.sent] == [accepted.job_id]
    ended = world.log.jobs[orphan]
    assert ended.status is JobStatus.FAILED
    assert ended.error is not None
    assert (ended.error.code, ended.error.retryable) == ("enqueue_abandoned", True)
    again = await world.services.jobs.enqueue(ALICE, request, "key-orphan")
    assert (again.job_id, again.replayed) == (accepted.job_id, True)


async def test_a_cancelled_enqueue_still_sends_its_recorded_job(world: FakeWorld) -> None:
    """The client went away while the send was in flight: the job is not left `queued`
    without a message; the send finishes (or the job ends failed) regardless."""
    blob = world.upload("alice", "a.txt", b"hello")
    gate = asyncio.Event()
    send = world.queue.send

    async def slow_send(queue_name: str, job_id: str, body: Any, **options: Any) -> None:
        await gate.wait()
        await send(queue_name, job_id, body, **options)

    world.queue.send = slow_send  # type: ignore[method-assign]
    request = asyncio.create_task(world.services.jobs.enqueue(ALICE, doc_request(blob), "key-c"))
    while not world.log.jobs:
        await asyncio.sleep(0)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    gate.set()
    for _ in range(100):
        if world.queue.sent:
            break
        await asyncio.sleep(0)
    (job,) = world.log.jobs.values()
    assert [m.message_id for m in world.queue.sent] == [job.job_id]
    assert job.status is JobStatus.QUEUED


async def test_a_cancelled_enqueue_whose_send_fails_ends_the_job(world: FakeWorld) -> None:
    blob = world.upload("alice", "a.txt", b"hello")
    gate = asyncio.Event()

    async def failing_send(queue_name: str, job_id: str, body: Any) -> None:
        await gate.wait()
        raise DependencyUnavailable("servicebus", "down")

    world.queue.send = failing_send  # type: ignore[method-assign]
    request = asyncio.create_task(world.services.jobs.enqueue(ALICE, doc_request(blob), "key-d"))
    while not world.log.jobs:
        await asyncio.sleep(0)
    request.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await request
    for _ in range(100):
        (job,) = world.log.jobs.values()
        if job.status is JobStatus.FAILED:
            break
        await asyncio.sleep(0)
    assert job.status is JobStatus.FAILED
    assert world.log.keys == {}  # released: a retry with the same key may queue a new job
