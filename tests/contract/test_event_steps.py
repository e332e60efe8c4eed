"""EventLog contract for steps: the step label, phase and detail an event carries reach the
job's state and come back from the store; a log line comes back marked as one and leaves the
job's state alone. Runs against Azurite and the fake."""

import uuid
from datetime import UTC, datetime

from function_app.domain.jobs import EventDraft, Job, JobStatus
from function_app.ports import EventLog


def new_job() -> Job:
    return Job(
        job_id=f"job-{uuid.uuid4().hex}",
        owner="alice",
        queue_name="document-analysis",
        job_name="analyze-document",
        data={"blobName": "alice/x.txt"},
        created_at=datetime.now(UTC),
    )


QUEUED = EventDraft(JobStatus.QUEUED, 0, "queued", "Job queued")
READING = EventDraft(
    JobStatus.IN_PROGRESS,
    20,
    "fetching",
    "Read 500 of 1000 bytes",
    phase="Downloading the file",
    detail="500 of 1,000 bytes",
    eta_seconds=7,
    step="Reading the file",
)
THOUGHT = EventDraft(
    JobStatus.IN_PROGRESS, 0, "initializing", "The content is pdf", phase="detected", log=True
)


async def test_step_phase_detail_and_eta_come_back(event_log: EventLog) -> None:
    job = new_job()
    await event_log.create(job, QUEUED)
    await event_log.append(job.job_id, lambda _: READING)
    [_, event] = await event_log.events_after(job.job_id, 0)
    assert (event.step, event.phase, event.detail, event.eta_seconds, event.log) == (
        "Reading the file",
        "Downloading the file",
        "500 of 1,000 bytes",
        7,
        False,
    )
    stored = await event_log.get(job.job_id)
    assert stored is not None
    assert (stored.step, stored.phase, stored.detail) == (
        "Reading the file",
        "Downloading the file",
        "500 of 1,000 bytes",
    )


async def test_a_log_line_comes_back_as_one_and_leaves_the_job_alone(event_log: EventLog) -> None:
    job = new_job()
    await event_log.create(job, QUEUED)
    await event_log.append(job.job_id, lambda _: READING)
    await event_log.append(job.job_id, lambda _: THOUGHT)
    events = await event_log.events_after(job.job_id, 0)
    line = events[-1]
    assert (line.sequence, line.log, line.phase, line.message) == (
        3,
        True,
        "detected",
        "The content is pdf",
    )
    assert (line.progress, line.stage, line.step) == (20, "fetching", "Reading the file")
    stored = await event_log.get(job.job_id)
    assert stored is not None
    assert (stored.progress, stored.stage, stored.step, stored.phase, stored.message) == (
        20,
        "fetching",
        "Reading the file",
        "Downloading the file",
        "Read 500 of 1000 bytes",
    )
    assert stored.last_event_id == 3
