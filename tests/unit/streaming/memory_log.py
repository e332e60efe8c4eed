"""A tiny in-memory EventLog for the hub's unit tests: jobs, events by sequence, query counts.

It records through the domain's own `Job.record`, so sequences are gapless as in the real log.
"""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from function_app.domain.jobs import EventDraft, Job, JobEvent, JobStatus
from function_app.ports import JobMissing, QueueCounts


class StepClock:
    def __init__(self) -> None:
        self._now = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


class MemoryEventLog:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.events: dict[str, list[JobEvent]] = {}
        self.queries: list[tuple[str, int]] = []
        self.failures_left = 0
        self.clock = StepClock()

    def add_job(self, job_id: str, owner: str = "alice") -> Job:
        job = Job(
            job_id=job_id,
            owner=owner,
            queue_name="resume-analysis",
            job_name="analyze-resume",
            data={},
            created_at=self.clock.now(),
        )
        job, first = job.record(
            EventDraft(JobStatus.QUEUED, 0, "queued", "queued"), self.clock.now()
        )
        self.jobs[job_id] = job
        self.events[job_id] = [first]
        return job

    def write(self, job_id: str, draft: EventDraft) -> JobEvent:
        job, event = self.jobs[job_id].record(draft, self.clock.now())
        self.jobs[job_id] = job
        self.events[job_id].append(event)
        return event

    def progress(self, job_id: str, percent: int) -> JobEvent:
        return self.write(
            job_id, EventDraft(JobStatus.IN_PROGRESS, percent, "analyzing", f"{percent}%")
        )

    def complete(self, job_id: str) -> JobEvent:
        return self.write(
            job_id, EventDraft(JobStatus.COMPLETED, 100, "done", "done", result={"ok": True})
        )

    # --- the port ---------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        await asyncio.sleep(0)
        return self.jobs.get(job_id)

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        await asyncio.sleep(0)
        self.queries.append((job_id, after))
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("storage hiccup")
        return [e for e in self.events.get(job_id, []) if e.sequence > after][:limit]

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        raise NotImplementedError

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobMissing(job_id)
        draft = decide(job)
        if draft is None:
            return job, None
        return self.jobs[job_id], self.write(job_id, draft)

    async def request_cancel(self, job_id: str) -> Job:
        job = replace(self.jobs[job_id], cancel_requested=True)
        self.jobs[job_id] = job
        return job


class MemoryQueueStats:
    def __init__(self) -> None:
        self.calls = 0

    async def counts(self, queue_name: str) -> QueueCounts:
        self.calls += 1
        return QueueCounts(queue_name, active=3, dead_letter=1, scheduled=0)
