"""WorkerService: one delivery, every outcome, and what it leaves in the event log."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from function_app.domain.errors import DependencyUnavailable, PermanentJobError, TransientJobError
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, JobStatus, Stage
from function_app.jobtypes.base import JobContext, JobType
from function_app.jobtypes.registry import build_registry
from function_app.jobtypes.steps import READ_STEP, Phase, Step, Steps
from function_app.services.worker import JobDelivery
from tests.fakes import FakeWorld, fake_world, test_settings

Run = Callable[[JobContext], Awaitable[Mapping[str, Any]]]

SCRIPTED_STEPS = Steps(
    (
        READ_STEP,
        Step(Stage.PARSING, "Parsing", (Phase("half", "Half way"),)),
        Step(Stage.ANALYZING, "Analysing", (Phase("look", "Looking closely"),)),
        Step(Stage.STORING, "Storing", sized=False),
    )
)


class ScriptedJob:
    """A job type whose run is the test's function."""

    steps = SCRIPTED_STEPS

    def __init__(self, name: str, step: Run) -> None:
        self._name = name
        self._step = step
        self.runs = 0

    @property
    def name(self) -> str:
        return self._name

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        self.runs += 1
        return await self._step(ctx)


async def read_all(ctx: JobContext) -> Mapping[str, Any]:
    size = 0
    async for chunk in ctx.read(chunk_size=100):
        size += len(chunk)
    await ctx.checkpoint()
    await ctx.progress(Stage.ANALYZING, 60, "Analyzing")
    return {"bytes": size}


def world_with(step: Run, **settings: Any) -> tuple[FakeWorld, ScriptedJob]:
    job_type = ScriptedJob("analyze-document", step)
    types: dict[str, JobType] = {"analyze-document": job_type}
    world = fake_world(test_settings(SERVICEBUS_MAX_DELIVERY_COUNT=3, **settings), types)
    return world, job_type


async def enqueue(world: FakeWorld, data: bytes = b"x" * 1000, **extra: Any) -> str:
    blob = world.upload("alice", "a.txt", data)
    request = EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob, **extra})
    return (await world.services.jobs.enqueue(Caller("alice"), request)).job_id


def delivery(job_id: str, count: int = 1) -> JobDelivery:
    return JobDelivery(job_id=job_id, body={"jobId": job_id}, delivery_count=count)


async def test_success_records_started_progress_and_completed() -> None:
    world, _ = world_with(read_all)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    events = world.log.events[job_id]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert world.log.statuses(job_id)[:2] == ["queued", "started"]
    assert world.log.statuses(job_id)[-1] == "completed"
    fetching = [e for e in events if e.stage == "fetching"]
    # The step begins at 5 with 0 bytes; then 1000 bytes in 100-byte chunks: one report per
    # chunk (each is 10 %), from above 5 to 40.
    reported = [e.progress for e in fetching]
    assert len(reported) == 11
    assert reported == sorted(set(reported))
    assert reported[0] == 5
    assert fetching[0].detail == "0 of 1,000 bytes"
    assert reported[1] > 5
    assert reported[-1] == 40
    assert fetching[-1].detail == "1,000 of 1,000 bytes"
    assert {e.step for e in fetching} == {"Reading the file"}
    progress = [e.progress for e in events[1:]]
    assert progress == sorted(progress)
    job = world.log.jobs[job_id]
    # The job type's result, and what the caller enqueued beside the upload.
    assert job.result == {"bytes": 1000, "data": dict(job.data)}
    assert job.progress == 100
    assert job.attempts == 1


async def test_a_real_job_type_runs_over_the_fake_upload() -> None:
    world = fake_world(test_settings(), build_registry())
    job_id = await enqueue(world, b"Hello world.\nThis is a plain text document.\n")
    await world.services.worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None


async def test_permanent_error_fails_the_job_and_completes_the_message() -> None:
    async def corrupt(ctx: JobContext) -> Mapping[str, Any]:
        raise PermanentJobError("corrupt_file", "not a PDF")

    world, _ = world_with(corrupt)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))  # returns: message completes
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("corrupt_file", False)


async def test_transient_error_records_retrying_and_raises_for_redelivery() -> None:
    async def flaky(ctx: JobContext) -> Mapping[str, Any]:
        raise ConnectionError("storage hiccup")

    world, _ = world_with(flaky)
    job_id = await enqueue(world)
    with pytest.raises(ConnectionError):
        await world.services.worker.handle(delivery(job_id, 1))
    assert world.log.statuses(job_id) == ["queued", "started", "retrying"]
    job = world.log.jobs[job_id]
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("transient_error", True)
    # The user reads what happened, not the exception's class.
    assert "ConnectionError" not in job.error.message
    assert "ConnectionError" not in world.log.jobs[job_id].message


async def test_the_last_delivery_fails_the_job_without_raising() -> None:
    async def flaky(ctx: JobContext) -> Mapping[str, Any]:
        raise TransientJobError("upstream_busy", "busy")

    world, _ = world_with(flaky)
    job_id = await enqueue(world)
    for count in (1, 2):
        with pytest.raises(TransientJobError):
            await world.services.worker.handle(delivery(job_id, count))
    await world.services.worker.handle(delivery(job_id, 3))
    assert world.log.statuses(job_id) == [
        "queued",
        "started",
        "retrying",
        "started",
        "retrying",
        "started",
        "failed",
    ]
    job = world.log.jobs[job_id]
    assert job.attempts == 3
    assert job.error is not None
    assert job.error.code == "max_deliveries_exceeded"
    assert job.error.retryable
    assert "upstream_busy" in job.error.message


async def test_a_retry_that_succeeds_completes_the_job() -> None:
    calls: list[int] = []

    async def once_flaky(ctx: JobContext) -> Mapping[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError
        return {"ok": True}

    world, _ = world_with(once_flaky)
    job_id = await enqueue(world)
    with pytest.raises(TimeoutError):
        await world.services.worker.handle(delivery(job_id, 1))
    await world.services.worker.handle(delivery(job_id, 2))
    assert world.log.statuses(job_id) == ["queued", "started", "retrying", "started", "completed"]


async def test_cancel_between_steps_ends_the_job_cancelled() -> None:
    world: FakeWorld

    async def cancelled_midway(ctx: JobContext) -> Mapping[str, Any]:
        await ctx.progress(Stage.PARSING, 50, "half way")
        await world.services.jobs.cancel(Caller("alice"), ctx.job_id)
        await ctx.checkpoint()
        raise AssertionError("checkpoint should have stopped the job")

    world, _ = world_with(cancelled_midway)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    assert world.log.statuses(job_id) == ["queued", "started", "in_progress", "cancelled"]


async def test_a_delivery_for_a_cancel_requested_job_ends_it_without_running() -> None:
    world, job_type = world_with(read_all)
    job_id = await enqueue(world)
    await world.log.request_cancel(job_id)
    await world.services.worker.handle(delivery(job_id))
    assert world.log.statuses(job_id) == ["queued", "cancelled"]
    assert job_type.runs == 0


async def test_redelivery_after_completion_writes_nothing() -> None:
    world, job_type = world_with(read_all)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id, 1))
    before = list(world.log.events[job_id])
    writes = world.log.writes
    await world.services.worker.handle(delivery(job_id, 2))
    assert world.log.events[job_id] == before
    assert world.log.writes == writes
    assert job_type.runs == 1


async def test_unknown_job_delivery_is_dropped() -> None:
    world, job_type = world_with(read_all)
    await world.services.worker.handle(delivery("f" * 32))
    assert world.log.writes == 0
    assert job_type.runs == 0


async def test_a_vanished_blob_fails_permanently() -> None:
    world, job_type = world_with(read_all)
    job_id = await enqueue(world)
    world.uploads.blobs.clear()
    await world.services.worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "blob_missing"
    assert job_type.runs == 0


async def test_unknown_job_type_fails_permanently() -> None:
    world = fake_world(test_settings(), {})
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.error is not None
    assert (job.status, job.error.code) == (JobStatus.FAILED, "unknown_job_type")


async def test_fault_injection_only_when_the_setting_allows_it() -> None:
    world, _ = world_with(read_all, ALLOW_FAULT_INJECTION=True)
    job_id = await enqueue(world, simulateTransientFailures=1)
    with pytest.raises(TransientJobError):
        await world.services.worker.handle(delivery(job_id, 1))
    await world.services.worker.handle(delivery(job_id, 2))
    assert world.log.statuses(job_id)[:4] == ["queued", "started", "retrying", "started"]
    assert world.log.jobs[job_id].status is JobStatus.COMPLETED

    off, _ = world_with(read_all)
    other = await enqueue(off, simulateTransientFailures=1)
    await off.services.worker.handle(delivery(other, 1))
    assert off.log.statuses(other)[-1] == "completed"
    assert "retrying" not in off.log.statuses(other)


async def test_dead_letter_fails_an_unfinished_job_only() -> None:
    world, _ = world_with(read_all)
    job_id = await enqueue(world)
    await world.services.worker.handle_dead_letter(delivery(job_id, 3))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "dead_lettered"
    writes = world.log.writes
    await world.services.worker.handle_dead_letter(delivery(job_id, 3))
    assert world.log.writes == writes


async def test_read_progress_is_throttled_to_every_five_percent() -> None:
    async def tiny_chunks(ctx: JobContext) -> Mapping[str, Any]:
        async for _ in ctx.read(chunk_size=10):
            pass
        return {}

    world, _ = world_with(tiny_chunks)
    job_id = await enqueue(world, b"y" * 10_000)  # 1,000 chunks
    await world.services.worker.handle(delivery(job_id))
    fetching = [e for e in world.log.events[job_id] if e.stage == "fetching"]
    assert 10 <= len(fetching) <= 21
    assert fetching[-1].progress == 40


async def test_a_result_the_log_refuses_fails_the_job_instead_of_retrying() -> None:
    async def huge(ctx: JobContext) -> Mapping[str, Any]:
        return {"text": "x"}

    world, _ = world_with(huge)
    real_append = world.log.append

    async def refusing_results(job_id: str, decide: Any) -> Any:
        def checked(job: Any) -> Any:
            draft = decide(job)
            if draft is not None and draft.result is not None:
                raise ValueError("result too large for the table")
            return draft

        return await real_append(job_id, checked)

    world.log.append = refusing_results  # type: ignore[method-assign]
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "result_too_large"


async def test_long_error_messages_are_cut_short() -> None:
    async def verbose(ctx: JobContext) -> Mapping[str, Any]:
        raise PermanentJobError("corrupt_file", "y" * 50_000)

    world, _ = world_with(verbose)
    job_id = await enqueue(world)
    await world.services.worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.error is not None
    assert len(job.error.message) == 1000
    assert len(job.message) == 1000


# --- the upload is pinned to the version enqueue validated ------------------------------------


def blob_of(world: FakeWorld, job_id: str) -> str:
    return str(world.log.jobs[job_id].data["blobName"])


def assert_upload_changed(world: FakeWorld, job_id: str) -> None:
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("upload_changed", False)


async def test_a_blob_replaced_after_enqueue_fails_the_job_without_running() -> None:
    world, job_type = world_with(read_all)
    job_id = await enqueue(world, b"x" * 1000)
    # The upload URL (sp=cw) can still rewrite the blob: same size, same type, other bytes.
    world.uploads.put(blob_of(world, job_id), b"y" * 1000, "text/plain")
    await world.services.worker.handle(delivery(job_id))  # returns: message completes
    assert_upload_changed(world, job_id)
    assert job_type.runs == 0
    assert world.uploads.reads == 0


async def test_a_blob_replaced_just_before_the_read_is_refused_by_the_read() -> None:
    world: FakeWorld

    async def replaced_then_read(ctx: JobContext) -> Mapping[str, Any]:
        world.uploads.put(str(ctx.data["blobName"]), b"y" * 1000, "text/plain")
        return await read_all(ctx)

    world, job_type = world_with(replaced_then_read)
    job_id = await enqueue(world, b"x" * 1000)
    await world.services.worker.handle(delivery(job_id))
    assert_upload_changed(world, job_id)
    assert job_type.runs == 1
    assert "completed" not in world.log.statuses(job_id)


async def test_a_blob_replaced_while_it_is_read_fails_the_job() -> None:
    world: FakeWorld

    async def replaced_midway(ctx: JobContext) -> Mapping[str, Any]:
        async for _ in ctx.read(chunk_size=100):
            world.uploads.put(str(ctx.data["blobName"]), b"y" * 1000, "text/plain")
        return {}

    world, _ = world_with(replaced_midway)
    job_id = await enqueue(world, b"x" * 1000)
    await world.services.worker.handle(delivery(job_id))
    assert_upload_changed(world, job_id)


async def test_the_read_never_goes_past_the_validated_size() -> None:
    world, _ = world_with(read_all)
    job_id = await enqueue(world, b"x" * 1000)
    real_describe = world.uploads.describe

    async def understated(name: str) -> Any:  # a store that ignores what it was asked for
        info = await real_describe(name)
        return None if info is None else replace(info, size=info.size - 1)

    world.uploads.describe = understated  # type: ignore[method-assign]
    await world.services.worker.handle(delivery(job_id))
    assert_upload_changed(world, job_id)


async def test_an_upload_over_the_limit_fails_before_the_job_runs() -> None:
    """MAX_UPLOAD_BYTES is checked at enqueue and again here, where the one bound on what a job
    reads lives: a limit lowered since the enqueue applies to the queued job too."""
    world, job_type = world_with(read_all)
    job_id = await enqueue(world, b"x" * 1000)
    current = world.services.worker
    worker = replace(current, policy=replace(current.policy, max_upload_bytes=999))
    await worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("file_too_large", False)
    assert job_type.runs == 0
    assert world.uploads.reads == 0


async def test_a_job_recorded_without_an_etag_still_runs() -> None:
    """A store that cannot tell versions records no upload_etag: the current blob is read."""
    world, _ = world_with(read_all)
    job_id = await enqueue(world, b"x" * 1000)
    world.log.jobs[job_id] = replace(world.log.jobs[job_id], upload_etag=None)
    world.uploads.put(blob_of(world, job_id), b"y" * 700, "text/plain")
    await world.services.worker.handle(delivery(job_id))
    job = world.log.jobs[job_id]
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None
    assert job.result["bytes"] == 700


async def test_a_failed_delivery_waits_longer_each_time_before_it_is_abandoned() -> None:
    async def boom(ctx: JobContext) -> Mapping[str, Any]:
        raise TransientJobError("storage_down", "storage is down")

    world, _ = world_with(boom, WORKER_RETRY_DELAY_SECONDS=2)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    worker = replace(world.services.worker, sleep=fake_sleep)
    job_id = await enqueue(world)
    for count in (1, 2):
        with pytest.raises(TransientJobError):
            await worker.handle(delivery(job_id, count))
    assert slept == [2.0, 4.0]
    assert worker.policy.retry_delay(10) == 60.0  # capped

    async def storage_down(job_id: str) -> None:
        raise DependencyUnavailable("storage", "table storage down")

    world.log.get = storage_down  # type: ignore[method-assign,assignment]  # before the job is read
    with pytest.raises(DependencyUnavailable):
        await worker.handle(delivery(job_id, 3))
    assert slept == [2.0, 4.0, 8.0]
