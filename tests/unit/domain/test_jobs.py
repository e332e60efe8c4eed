"""Job.record's rules, directly: sequence, attempts, progress, terminal events."""

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from function_app.domain.errors import TransitionRefused
from function_app.domain.jobs import (
    EnqueueRequest,
    EventDraft,
    EventNotes,
    Job,
    JobError,
    JobStatus,
    Stage,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_job() -> Job:
    return Job(
        job_id="job1",
        owner="alice",
        queue_name="document-analysis",
        job_name="analyze-document",
        data={"blobName": "b"},
        created_at=T0,
    )


def draft(status: JobStatus, progress: int = 0, **fields: object) -> EventDraft:
    return EventDraft(status, progress, Stage.ANALYZING, str(status), **fields)  # type: ignore[arg-type]


def run(job: Job, *drafts: EventDraft) -> tuple[Job, list[int]]:
    """Record each draft one second apart; the job and the progress of each event."""
    shown = []
    for second, d in enumerate(drafts, start=1):
        job, event = job.record(d, at(second))
        shown.append(event.progress)
    return job, shown


def test_sequences_start_at_one_and_have_no_gaps() -> None:
    job = new_job()
    sequences = []
    for second, status in enumerate([JobStatus.QUEUED, JobStatus.STARTED, JobStatus.IN_PROGRESS]):
        job, event = job.record(draft(status), at(second))
        sequences.append(event.sequence)
        assert event.job_id == "job1"
        assert event.timestamp == at(second)
    assert sequences == [1, 2, 3]
    assert job.last_event_id == 3


def test_progress_never_goes_backwards_within_an_attempt() -> None:
    job, shown = run(
        new_job(),
        draft(JobStatus.STARTED, 5),
        draft(JobStatus.IN_PROGRESS, 60),
        draft(JobStatus.IN_PROGRESS, 40),
    )
    assert shown == [5, 60, 60]
    assert job.progress == 60


def test_started_begins_a_new_attempt_where_progress_may_restart() -> None:
    job, shown = run(
        new_job(),
        draft(JobStatus.STARTED, 5),
        draft(JobStatus.IN_PROGRESS, 70),
        draft(JobStatus.RETRYING, 70, error=JobError("flaky", "try again", True)),
        draft(JobStatus.STARTED, 5),
    )
    assert shown == [5, 70, 70, 5]
    assert job.attempts == 2
    assert job.progress == 5


def test_the_first_start_is_remembered_across_attempts() -> None:
    job, _ = run(new_job(), draft(JobStatus.QUEUED), draft(JobStatus.STARTED))
    assert job.started_at == at(2)
    job, _ = job.record(draft(JobStatus.STARTED), at(9))
    assert job.started_at == at(2)


def test_completed_is_always_100_and_ends_the_job() -> None:
    job, shown = run(
        new_job(),
        draft(JobStatus.STARTED, 5),
        draft(JobStatus.COMPLETED, 90, result={"words": 3}),
    )
    assert shown == [5, 100]
    assert job.is_terminal
    assert job.completed_at == at(2)
    assert job.result == {"words": 3}


@pytest.mark.parametrize("ending", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_nothing_is_recorded_after_a_terminal_event(ending: JobStatus) -> None:
    job, _ = run(new_job(), draft(JobStatus.STARTED), draft(ending))
    with pytest.raises(TransitionRefused):
        job.record(draft(JobStatus.IN_PROGRESS, 50), at(10))


def test_only_terminal_events_set_completed_at() -> None:
    job, _ = run(new_job(), draft(JobStatus.STARTED), draft(JobStatus.IN_PROGRESS, 10))
    assert job.completed_at is None
    assert job.status is JobStatus.IN_PROGRESS


def test_record_decided_returns_none_when_declined_or_refused() -> None:
    job = new_job()
    assert job.record_decided(lambda _job: None, lambda: T0) is None
    ended, _ = job.record(draft(JobStatus.CANCELLED), T0)
    assert ended.record_decided(lambda _job: draft(JobStatus.STARTED), lambda: T0) is None
    recorded = job.record_decided(lambda _job: draft(JobStatus.STARTED), lambda: at(3))
    assert recorded is not None
    assert recorded[1].timestamp == at(3)


def test_progress_outside_0_to_100_is_not_a_draft() -> None:
    with pytest.raises(ValueError, match="0-100"):
        EventDraft(JobStatus.IN_PROGRESS, 101, Stage.ANALYZING, "too far")


def test_a_request_made_a_job_only_when_every_field_matches() -> None:
    job = new_job()
    same = EnqueueRequest("document-analysis", "analyze-document", {"blobName": "b"})
    assert same.made(job)
    assert not EnqueueRequest("document-analysis", "analyze-document", {"blobName": "c"}).made(job)
    assert not EnqueueRequest("resume-analysis", "analyze-document", {"blobName": "b"}).made(job)
    assert not EnqueueRequest("document-analysis", "analyze-resume", {"blobName": "b"}).made(job)


def test_a_log_line_carries_the_jobs_state_and_changes_only_its_status() -> None:
    job, _ = run(
        new_job(),
        draft(JobStatus.STARTED, 5, step="Reading"),
        draft(JobStatus.IN_PROGRESS, 40, step="Reading", phase="pages", detail="3 of 9"),
    )
    line = EventDraft(
        JobStatus.IN_PROGRESS, 0, Stage.PARSING, "found a table", phase="table", log=True
    )
    after, event = job.record(line, at(9))
    assert (event.progress, event.stage, event.step, event.attempt) == (
        40,
        Stage.ANALYZING,
        "Reading",
        1,
    )
    assert (event.message, event.phase, event.log, event.sequence) == (
        "found a table",
        "table",
        True,
        3,
    )
    assert after == replace(job, last_event_id=3, updated_at=at(9))


@pytest.mark.parametrize(
    "carried",
    [{"eta_seconds": 5}, {"result": {"ok": True}}, {"error": JobError("x", "y")}, {"worker": "w1"}],
)
def test_a_log_line_carries_no_eta_result_error_or_worker(carried: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="log"):
        draft(JobStatus.IN_PROGRESS, log=True, **carried)


def test_every_note_of_a_draft_is_stored_with_its_event_as_written() -> None:
    notes = {
        "phase": "pages",
        "detail": "page 3 of 12",
        "eta_seconds": 42,
        "result": {"words": 7},
        "error": JobError("boom", "it broke"),
        "worker": "w-1",
    }
    job = new_job().record(draft(JobStatus.STARTED), at(1))[0]
    _, event = job.record(draft(JobStatus.IN_PROGRESS, 10, **notes), at(2))
    stored = {name: getattr(event, name) for name in notes}
    assert stored == notes
    assert set(notes) | {"step", "log"} == {f.name for f in fields(EventNotes)}
