"""The sweeper's rules, one case each."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from function_app.domain.jobs import Job, JobStatus
from function_app.domain.sweeping import OpenJob, SweepAction, SweepPolicy, still_lost, sweep_action

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POLICY = SweepPolicy(
    resend_seconds=60, lost_seconds=900, queued_lost_seconds=3600, forget_missing_seconds=600
)


def job(status: JobStatus, heard_seconds_ago: float, now: datetime) -> Job:
    base = Job("j1", "alice", "q", "analyze-document", {}, T0)
    return replace(base, status=status, updated_at=now - timedelta(seconds=heard_seconds_ago))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("case", "entry_sent", "status", "heard_ago", "now", "action"),
    [
        ("recording now", False, None, 0, 5, SweepAction.KEEP),
        ("never recorded", False, None, 0, 601, SweepAction.FORGET),
        ("ended", True, JobStatus.COMPLETED, 0, 5, SweepAction.FORGET),
        ("cancelled", False, JobStatus.CANCELLED, 0, 5, SweepAction.FORGET),
        ("unsent, in grace", False, JobStatus.QUEUED, 30, 30, SweepAction.KEEP),
        ("unsent, past grace", False, JobStatus.QUEUED, 61, 61, SweepAction.RESEND),
        ("sent, waiting", True, JobStatus.QUEUED, 3000, 3000, SweepAction.KEEP),
        ("sent, past its lifetime", True, JobStatus.QUEUED, 3601, 3601, SweepAction.END_LOST),
        ("running, heard lately", True, JobStatus.IN_PROGRESS, 899, 5000, SweepAction.KEEP),
        ("running, silent", True, JobStatus.IN_PROGRESS, 901, 5000, SweepAction.END_LOST),
        ("started, silent", True, JobStatus.STARTED, 901, 5000, SweepAction.END_LOST),
        ("retrying, silent", True, JobStatus.RETRYING, 901, 5000, SweepAction.END_LOST),
    ],
)
def test_sweep_action(
    case: str,
    entry_sent: bool,
    status: JobStatus | None,
    heard_ago: float,
    now: float,
    action: SweepAction,
) -> None:
    entry = OpenJob("j1", "q", T0, sent=entry_sent)
    current = None if status is None else job(status, heard_ago, at(now))
    assert sweep_action(entry, current, at(now), POLICY) is action, case


def test_a_job_a_worker_wrote_to_meanwhile_is_no_longer_lost() -> None:
    now = at(5000)
    assert still_lost(job(JobStatus.IN_PROGRESS, 901, now), now, POLICY)
    assert not still_lost(job(JobStatus.IN_PROGRESS, 1, now), now, POLICY)
    assert not still_lost(job(JobStatus.FAILED, 901, now), now, POLICY)


def test_a_record_without_updated_at_counts_from_its_creation() -> None:
    old = Job("j1", "alice", "q", "analyze-document", {}, T0, status=JobStatus.STARTED)
    assert sweep_action(OpenJob("j1", "q", T0, True), old, at(901), POLICY) is (
        SweepAction.END_LOST
    )
