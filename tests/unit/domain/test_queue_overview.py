"""The queue catalogue's pure rules: tally, worker comings and goings, backlog, wait words."""

from datetime import UTC, datetime, timedelta

import pytest

from function_app.domain.jobs import JobStatus
from function_app.domain.queue_overview import (
    BacklogWatch,
    QueueOverview,
    QueueTally,
    RunningJob,
    WorkerBeat,
    WorkerWatch,
    wait_text,
    worker_id_of,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def beat(worker: str, age_seconds: float, *running: RunningJob) -> WorkerBeat:
    return WorkerBeat(
        worker, NOW - timedelta(hours=1), NOW - timedelta(seconds=age_seconds), running
    )


def test_tally_rates_exclude_cancelled_and_average_only_timed_runs() -> None:
    tally = (
        QueueTally()
        .counting(JobStatus.COMPLETED, 10.0)
        .counting(JobStatus.COMPLETED, 20.0)
        .counting(JobStatus.FAILED, None)
        .counting(JobStatus.CANCELLED, 99.0)
    )
    assert (tally.processed, tally.cancelled) == (3, 1)
    assert tally.success_rate == 66.7
    assert tally.average_seconds == 15.0
    assert QueueTally().success_rate is None
    assert QueueTally().average_seconds is None
    assert (tally + tally).processed == 6


def test_only_an_ended_job_is_counted() -> None:
    with pytest.raises(ValueError):
        QueueTally().counting(JobStatus.IN_PROGRESS, 1.0)


def test_a_worker_that_stops_beating_under_jobs_is_offline_with_only_the_callers_jobs() -> None:
    mine, theirs = RunningJob("job-a", "me", "q"), RunningJob("job-b", "other", "q")
    watch = WorkerWatch("me", offline_seconds=60)
    assert watch.changes([beat("w1", 5, mine, theirs)], NOW) == []  # first look: learns only
    later = NOW + timedelta(seconds=120)
    [change] = watch.changes([beat("w1", 5, mine, theirs)], later)
    assert (change.worker_id, change.status, change.reason) == ("w1", "offline", "heartbeat_missed")
    assert change.affected_jobs == ("job-a",)


def test_an_idle_worker_going_quiet_is_offline_idle_and_a_new_one_online() -> None:
    watch = WorkerWatch("me", offline_seconds=60)
    watch.changes([beat("w1", 5)], NOW)
    later = NOW + timedelta(seconds=120)
    changes = watch.changes([beat("w1", 5), WorkerBeat("w2", later, later)], later)
    assert [(c.worker_id, c.status, c.reason) for c in changes] == [
        ("w2", "online", "heartbeat"),
        ("w1", "offline", "idle"),
    ]
    assert watch.changes([WorkerBeat("w2", later, later)], later) == []  # nothing new


def test_a_worker_gone_from_the_store_is_offline_from_its_last_known_beat() -> None:
    watch = WorkerWatch("me", offline_seconds=60)
    watch.changes([beat("w1", 1, RunningJob("job-a", "me", "q"))], NOW)
    [change] = watch.changes([], NOW + timedelta(seconds=1))
    assert change.affected_jobs == ("job-a",)


def test_waiting_is_active_messages_less_running_jobs_never_negative() -> None:
    running = (RunningJob("j1", "o", "q1"), RunningJob("j2", "o", "q2"))
    overview = QueueOverview(NOW, None, (beat("w1", 1, *running),), {"q1": 5, "q2": 0}, 60)
    assert overview.running == 2
    assert overview.waiting() == 3
    assert overview.waiting("q1") == 4
    assert overview.waiting("q2") == 0
    stale = QueueOverview(NOW, None, (beat("w1", 600, *running),), {"q1": 5}, 60)
    assert stale.running == 0
    assert stale.waiting() == 5
    assert QueueOverview(NOW, None, None, None, 60).waiting() is None


def test_backlog_alert_is_raised_once_and_cleared_once() -> None:
    watch = BacklogWatch(threshold=15)
    assert [watch.level(n) for n in (3, 16, 20, 15, 14, 30)] == [
        None,
        "warning",
        None,
        "info",
        None,
        "warning",
    ]
    assert BacklogWatch(threshold=0).level(1000) is None
    assert BacklogWatch(threshold=15).level(None) is None


def test_wait_words() -> None:
    assert [wait_text(s) for s in (None, 0, 59, 60, 89, 90, 600)] == [
        None,
        "less than a minute",
        "less than a minute",
        "1 minute",
        "1 minute",
        "2 minutes",
        "10 minutes",
    ]


def test_worker_ids_are_short_stable_and_distinct() -> None:
    assert worker_id_of("a") == worker_id_of("a") != worker_id_of("b")
    assert worker_id_of("a").startswith("worker-")
    assert len(worker_id_of("a")) == 19
