"""The published event schemas (entrypoints/event_models.py) hold what the streams send: every
event the payload builders make, in every vocabulary, through a job's whole life and its
endings, validates against the model of its name; a payload outside the model does not."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from function_app.domain.feed import FeedEntry
from function_app.domain.jobs import JobError, JobEvent, JobStatus, Stage
from function_app.entrypoints.event_models import (
    CATALOGUE_EVENTS,
    FEED_EVENTS,
    JOB_STREAM_EVENTS,
    JobUpdateEvent,
)
from function_app.entrypoints.feed_vocabulary import control_payload, job_payload
from function_app.entrypoints.sse import control_frame, current_step, job_update_payload
from function_app.entrypoints.stream_vocabularies import VOCABULARIES, group
from function_app.ports import QueueCounts
from function_app.services.streaming import Connected, Heartbeat, QueueSnapshot, TimedOut

AT = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def event(sequence: int, status: JobStatus, stage: str, progress: int = 0, **more: Any) -> JobEvent:
    return JobEvent("job1", sequence, AT, status, progress, stage, f"{status}", **more)


LIFE = [
    event(1, JobStatus.QUEUED, Stage.QUEUED),
    event(2, JobStatus.STARTED, Stage.INITIALIZING, 5, worker="w1", attempt=1),
    event(3, JobStatus.IN_PROGRESS, Stage.FETCHING, 20, phase="read", detail="1 of 2", step="Read"),
    event(4, JobStatus.IN_PROGRESS, Stage.FETCHING, 30, phase="read", log=True),
    event(5, JobStatus.IN_PROGRESS, Stage.ANALYZING, 70, eta_seconds=9, step="Analyze"),
    event(6, JobStatus.RETRYING, Stage.ANALYZING, 70, error=JobError("io", "flaky", True)),
    event(7, JobStatus.COMPLETED, Stage.DONE, 100, result={"score": 85}),
]
ENDINGS = [
    event(7, JobStatus.FAILED, Stage.DONE, 70, error=JobError("bad_file", "unreadable")),
    event(7, JobStatus.CANCELLED, Stage.DONE, 70),
]


def checked(models: Any, name: str, payload: Any) -> BaseModel:
    assert name in models, f"event {name!r} is not in the published schemas"
    model: BaseModel = models[name].model_validate(json.loads(json.dumps(payload)))
    return model


def sse_event(frame: bytes) -> tuple[str, Any]:
    lines = frame.decode("utf-8").splitlines()
    name = next(line[len("event: ") :] for line in lines if line.startswith("event: "))
    data = "\n".join(line[len("data: ") :] for line in lines if line.startswith("data: "))
    return name, json.loads(data)


@pytest.mark.parametrize("ending", [None, *ENDINGS], ids=["completed", "failed", "cancelled"])
def test_every_job_stream_event_fits_its_schema(ending: JobEvent | None) -> None:
    events = LIFE if ending is None else [*LIFE[:-1], ending]
    names = set()
    previous: str | None = None
    for e in events:
        for named in group(e, previous, VOCABULARIES, job_update_payload, current_step):
            checked(JOB_STREAM_EVENTS, named.name, named.payload)
            names.add(named.name)
        previous = e.step or e.stage
    assert {"job_update", "step-change", "progress-update", "scrape-phase"} <= names
    assert names & {"complete", "failed"}


def test_the_stream_control_events_fit_their_schemas() -> None:
    counts = QueueCounts("resume-analysis", 3, 1, 0)
    items = (Connected("c1", "job1", AT), Heartbeat(AT), QueueSnapshot(counts, AT))
    for item in (*items, TimedOut("job1", 4)):
        name, payload = sse_event(control_frame(item, retry_ms=2000))
        checked(JOB_STREAM_EVENTS, name, payload)


def test_every_feed_event_fits_its_schema() -> None:
    for e in [*LIFE, *ENDINGS]:
        checked(FEED_EVENTS, "job", job_payload(FeedEntry(1_000, "analyze-resume", "q", e)))
    checked(FEED_EVENTS, "hello", control_payload("hello", AT, connectionId="c1"))
    checked(FEED_EVENTS, "ping", control_payload("ping", AT))


def test_the_catalogue_names_its_events() -> None:
    assert {"queue-status", "queue-stats", "heartbeat", "job-queued", "job-failed"} <= set(
        CATALOGUE_EVENTS
    )


def test_a_payload_outside_its_schema_is_refused() -> None:
    good = job_update_payload(LIFE[2])
    JobUpdateEvent.model_validate(good)
    for bad in ({**good, "surprise": 1}, {k: v for k, v in good.items() if k != "sequence"}):
        with pytest.raises(ValidationError):
            JobUpdateEvent.model_validate(bad)
