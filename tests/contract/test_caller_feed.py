"""CallerFeed contract: the Table adapter (Azurite) and the fake agree."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from function_app.domain.jobs import Job, JobEvent, JobStatus


def job_of(owner: str) -> Job:
    return Job(
        job_id=uuid.uuid4().hex,
        owner=owner,
        queue_name="document-analysis",
        job_name="analyze-document",
        data={},
        created_at=datetime.now(UTC),
    )


def event(job: Job, sequence: int, status: JobStatus = JobStatus.IN_PROGRESS) -> JobEvent:
    return JobEvent(
        job_id=job.job_id,
        sequence=sequence,
        timestamp=datetime.now(UTC),
        status=status,
        progress=min(sequence * 10, 100),
        stage="parsing",
        message=f"step {sequence}",
    )


async def test_extend_then_read_back_in_order(caller_feed: Any) -> None:
    owner = f"alice-{uuid.uuid4().hex[:8]}"
    job = job_of(owner)
    assert await caller_feed.mark(owner, job.job_id) is None
    mark = await caller_feed.extend(owner, None, job, [event(job, 1), event(job, 2)])
    assert mark is not None
    assert mark.through == 2
    assert not mark.ended
    assert await caller_feed.mark(owner, job.job_id) == mark
    mark = await caller_feed.extend(owner, mark, job, [event(job, 3, JobStatus.COMPLETED)])
    assert mark.ended
    entries = await caller_feed.after(owner, 0, 100)
    assert [e.event.sequence for e in entries] == [1, 2, 3]
    assert [e.job_name for e in entries] == ["analyze-document"] * 3
    positions = [e.position for e in entries]
    assert positions == sorted(set(positions))
    assert mark.last_position == positions[-1]
    assert [e.event.sequence for e in await caller_feed.after(owner, positions[0], 100)] == [2, 3]
    assert await caller_feed.positions(owner, positions[0], positions[-1]) == positions[1:]
    assert await caller_feed.unfinished(owner) == []
    assert await caller_feed.after(f"bob-{uuid.uuid4().hex[:8]}", 0, 100) == []


async def test_a_stale_mark_writes_nothing(caller_feed: Any) -> None:
    owner = f"alice-{uuid.uuid4().hex[:8]}"
    job = job_of(owner)
    first = await caller_feed.extend(owner, None, job, [event(job, 1)])
    assert await caller_feed.extend(owner, None, job, [event(job, 1)]) is None
    second = await caller_feed.extend(owner, first, job, [event(job, 2)])
    assert second is not None
    assert await caller_feed.extend(owner, first, job, [event(job, 2)]) is None
    assert [e.event.sequence for e in await caller_feed.after(owner, 0, 100)] == [1, 2]
    assert [m.job_id for m in await caller_feed.unfinished(owner)] == [job.job_id]


async def test_concurrent_jobs_of_one_owner_get_unique_positions(caller_feed: Any) -> None:
    owner = f"alice-{uuid.uuid4().hex[:8]}"
    jobs = [job_of(owner) for _ in range(8)]

    async def run(job: Job) -> None:
        mark = None
        for sequence in range(1, 6):
            mark = await caller_feed.extend(owner, mark, job, [event(job, sequence)])
            assert mark is not None

    await asyncio.gather(*(run(job) for job in jobs))
    entries = await caller_feed.after(owner, 0, 1000)
    assert len(entries) == 40
    assert len({e.position for e in entries}) == 40
    for job in jobs:
        assert [e.event.sequence for e in entries if e.job_id == job.job_id] == [1, 2, 3, 4, 5]
