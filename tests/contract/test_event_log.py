"""EventLog contract: gapless sequences under concurrency, refusal after terminal, cancel flag.

Runs against the real Table Storage adapter on Azurite and against the in-memory fake.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from function_app.domain.errors import DependencyUnavailable
from function_app.domain.jobs import EventDraft, Job, JobError, JobStatus
from function_app.domain.tracing import TraceContext
from function_app.ports import EventLog, JobAlreadyExists, JobMissing


@pytest.fixture
def log(event_log: EventLog) -> EventLog:
    return event_log


def new_job(**overrides: Any) -> Job:
    fields: dict[str, Any] = {
        "job_id": f"job-{uuid.uuid4().hex}",
        "owner": "alice",
        "queue_name": "document-analysis",
        "job_name": "analyze-document",
        "data": {"blobName": "alice/x.txt", "fileName": "x.txt"},
        "created_at": datetime.now(UTC),
    }
    fields.update(overrides)
    return Job(**fields)


QUEUED = EventDraft(JobStatus.QUEUED, 0, "queued", "Job queued")


def progress(n: int) -> EventDraft:
    return EventDraft(JobStatus.IN_PROGRESS, n, "analyzing", f"step {n}")


async def test_create_stores_job_and_first_event(log: EventLog) -> None:
    job = new_job()
    created, first = await log.create(job, QUEUED)
    assert first.sequence == 1
    assert created.last_event_id == 1
    stored = await log.get(job.job_id)
    assert stored is not None
    assert (stored.owner, stored.queue_name, stored.job_name) == (
        "alice",
        job.queue_name,
        job.job_name,
    )
    assert stored.data == job.data
    assert stored.status is JobStatus.QUEUED
    assert stored.last_event_id == 1
    events = await log.events_after(job.job_id, 0)
    assert [(e.sequence, e.status, e.message) for e in events] == [
        (1, JobStatus.QUEUED, "Job queued")
    ]


async def test_the_pinned_upload_etag_survives_every_write(log: EventLog) -> None:
    pinned = '"0x8DC1234567890AB"'
    job = new_job(upload_etag=pinned)
    await log.create(job, QUEUED)
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.upload_etag == pinned
    await log.append(job.job_id, lambda _job: progress(5))
    flagged = await log.request_cancel(job.job_id)
    assert flagged.upload_etag == pinned
    again = await log.get(job.job_id)
    assert again is not None
    assert again.upload_etag == pinned
    unpinned = new_job()
    await log.create(unpinned, QUEUED)
    stored = await log.get(unpinned.job_id)
    assert stored is not None
    assert stored.upload_etag is None


async def test_create_twice_is_refused(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    with pytest.raises(JobAlreadyExists):
        await log.create(job, QUEUED)
    assert [e.sequence for e in await log.events_after(job.job_id, 0)] == [1]


async def test_unknown_job(log: EventLog) -> None:
    missing = f"nope-{uuid.uuid4().hex}"
    assert await log.get(missing) is None
    assert await log.events_after(missing, 0) == []
    with pytest.raises(JobMissing):
        await log.append(missing, lambda job: progress(1))
    with pytest.raises(JobMissing):
        await log.request_cancel(missing)


async def test_append_assigns_next_sequence_and_updates_job(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    started = EventDraft(JobStatus.STARTED, 0, "initializing", "Started")
    after_start, event = await log.append(job.job_id, lambda current: started)
    assert event is not None
    assert event.sequence == 2
    assert event.attempt == 1
    assert after_start.status is JobStatus.STARTED
    assert after_start.started_at is not None
    _, event = await log.append(job.job_id, lambda current: progress(40))
    assert event is not None
    assert event.sequence == 3
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.progress == 40
    assert stored.last_event_id == 3


async def test_decide_sees_current_job_and_may_decline(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    seen: list[int] = []

    def decline(current: Job) -> EventDraft | None:
        seen.append(current.last_event_id)
        return None

    current, event = await log.append(job.job_id, decline)
    assert event is None
    assert current.last_event_id == 1
    assert seen == [1]
    assert len(await log.events_after(job.job_id, 0)) == 1


async def test_nothing_is_recorded_after_a_terminal_event(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    result = {"score": 87, "sections": ["contact", "skills"], "text": "é ✓ 𝄞"}
    done = EventDraft(JobStatus.COMPLETED, 100, "done", "Done", result=result)
    finished, event = await log.append(job.job_id, lambda current: done)
    assert event is not None
    assert event.result == result
    assert finished.status is JobStatus.COMPLETED
    assert finished.completed_at is not None
    current, refused = await log.append(job.job_id, lambda current: progress(50))
    assert refused is None
    assert current.status is JobStatus.COMPLETED
    events = await log.events_after(job.job_id, 0)
    assert [e.sequence for e in events] == [1, 2]
    assert events[-1].result == result
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.result == result


async def test_failure_keeps_error(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    error = JobError("corrupt_pdf", "The PDF could not be read", retryable=False)
    failed = EventDraft(JobStatus.FAILED, 10, "parsing", "Failed", error=error)
    await log.append(job.job_id, lambda current: failed)
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.error == error
    events = await log.events_after(job.job_id, 1)
    assert [(e.status, e.error) for e in events] == [(JobStatus.FAILED, error)]


async def test_events_after_pages_in_order(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    for n in range(1, 13):
        await log.append(job.job_id, lambda current, n=n: progress(n))
    assert [e.sequence for e in await log.events_after(job.job_id, 0, limit=5)] == [1, 2, 3, 4, 5]
    assert [e.sequence for e in await log.events_after(job.job_id, 5, limit=5)] == [6, 7, 8, 9, 10]
    assert [e.sequence for e in await log.events_after(job.job_id, 10)] == [11, 12, 13]
    assert await log.events_after(job.job_id, 13) == []


async def test_concurrent_appenders_leave_no_gaps_or_duplicates(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    writers, per_writer = 5, 20

    async def writer(w: int) -> list[int]:
        sequences = []
        for i in range(per_writer):
            draft = EventDraft(JobStatus.IN_PROGRESS, 1, "analyzing", f"writer {w} event {i}")
            _, event = await log.append(job.job_id, lambda current, d=draft: d)
            assert event is not None
            sequences.append(event.sequence)
        return sequences

    returned = await asyncio.gather(*(writer(w) for w in range(writers)))
    total = 1 + writers * per_writer
    events = await log.events_after(job.job_id, 0, limit=1000)
    assert [e.sequence for e in events] == list(range(1, total + 1))
    assert sorted(s for seqs in returned for s in seqs) == list(range(2, total + 1))
    for seqs in returned:  # each writer's own events are in its order
        assert seqs == sorted(seqs)
    messages = [e.message for e in events[1:]]
    assert len(set(messages)) == writers * per_writer
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.last_event_id == total


async def test_concurrent_terminal_writers_record_one_end(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    drafts = [
        EventDraft(JobStatus.COMPLETED, 100, "done", "done", result={"by": i}) for i in range(4)
    ] + [EventDraft(JobStatus.CANCELLED, 0, "cancelled", "cancelled")]
    outcomes = await asyncio.gather(*(log.append(job.job_id, lambda c, d=d: d) for d in drafts))
    recorded = [event for _, event in outcomes if event is not None]
    assert len(recorded) == 1
    assert recorded[0].sequence == 2
    events = await log.events_after(job.job_id, 0)
    assert [e.sequence for e in events] == [1, 2]


async def test_request_cancel_sets_flag_and_survives_appends(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    flagged = await log.request_cancel(job.job_id)
    assert flagged.cancel_requested
    await log.append(job.job_id, lambda current: progress(20))
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.cancel_requested
    assert stored.last_event_id == 2
    assert len(await log.events_after(job.job_id, 0)) == 2  # cancel is a flag, not an event


async def test_reads_while_storage_is_down_are_dependency_unavailable(
    unavailable_event_log: EventLog,
) -> None:
    with pytest.raises(DependencyUnavailable) as caught:
        await unavailable_event_log.events_after(f"job-{uuid.uuid4().hex}", 0)
    assert caught.value.dependency == "storage"


# --- trace context (docs/tracing.md) ------------------------------------------------------------

TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


async def test_a_traced_job_keeps_its_trace_and_every_event_records_its_trace_id(
    log: EventLog,
) -> None:
    job = new_job(trace=TRACE)
    created, first = await log.create(job, QUEUED)
    assert (created.trace, first.trace_id) == (TRACE, TRACE.trace_id)
    _, second = await log.append(job.job_id, lambda _job: progress(10))
    assert second is not None
    assert second.trace_id == TRACE.trace_id
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.trace == TRACE
    assert stored.trace_id == TRACE.trace_id
    events = await log.events_after(job.job_id, 0)
    assert [e.trace_id for e in events] == [TRACE.trace_id, TRACE.trace_id]
    cancelled = await log.request_cancel(job.job_id)
    assert cancelled.trace == TRACE


async def test_an_untraced_job_and_its_events_read_with_no_trace(log: EventLog) -> None:
    job = new_job()
    await log.create(job, QUEUED)
    await log.append(job.job_id, lambda _job: progress(5))
    stored = await log.get(job.job_id)
    assert stored is not None
    assert stored.trace is None
    assert [e.trace_id for e in await log.events_after(job.job_id, 0)] == [None, None]
