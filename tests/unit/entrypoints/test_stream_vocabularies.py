"""The two stream vocabularies: which events a stored event becomes, their ids, and resuming
from any of those ids without losing or repeating one."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from function_app.domain.jobs import JobError, JobEvent, JobStatus, Stage
from function_app.entrypoints.stream_vocabularies import (
    JOBSTREAM,
    STEPS,
    VOCABULARIES,
    NamedEvent,
    Position,
    group,
    parse_position,
    parse_vocabularies,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def event(sequence: int, status: JobStatus, stage: str, progress: int = 0, **more: Any) -> JobEvent:
    return JobEvent("job1", sequence, AT, status, progress, stage, f"{status}", **more)


def job_update(e: JobEvent) -> dict[str, Any]:
    return {"sequence": e.sequence, "status": str(e.status)}


def label(e: JobEvent) -> str | None:
    return f"step {e.stage}"


LIFE = [
    event(1, JobStatus.QUEUED, Stage.QUEUED),
    event(2, JobStatus.STARTED, Stage.INITIALIZING, 5),
    event(
        3,
        JobStatus.IN_PROGRESS,
        Stage.FETCHING,
        20,
        phase="read",
        detail="1 of 2 MB",
        eta_seconds=9,
    ),
    event(4, JobStatus.IN_PROGRESS, Stage.FETCHING, 40, phase="read", detail="2 of 2 MB"),
    event(5, JobStatus.IN_PROGRESS, Stage.ANALYZING, 70),
    event(6, JobStatus.COMPLETED, Stage.DONE, 100, result={"score": 85}),
]


def stream(
    events: list[JobEvent], vocabularies: tuple[str, ...] = VOCABULARIES
) -> list[NamedEvent]:
    out: list[NamedEvent] = []
    previous: str | None = None
    for e in events:
        out.extend(group(e, previous, vocabularies, job_update, label))
        previous = e.stage
    return out


def resume(events: list[JobEvent], last_id: str, vocabularies: tuple[str, ...]) -> list[NamedEvent]:
    """What a server sends after `last_id`: the groups from the client's position on, the
    event before them read for context only, the parts the client has dropped."""
    position = parse_position(last_id)
    first = position.complete_through + 1
    previous = events[first - 2].stage if first >= 2 else None
    out: list[NamedEvent] = []
    for e in events[first - 1 :]:
        named = group(e, previous, vocabularies, job_update, label)
        if e.sequence == position.sequence and position.part:
            named = named[position.part :]
        out.extend(named)
        previous = e.stage
    return out


def test_a_jobs_life_in_both_vocabularies() -> None:
    names = [(n.id, n.name) for n in stream(LIFE)]
    assert names == [
        ("1.1", "progress-update"),
        ("1", "job_update"),
        ("2.1", "step-change"),
        ("2.2", "progress-update"),
        ("2", "job_update"),
        ("3.1", "step-change"),
        ("3.2", "progress-update"),
        ("3", "job_update"),
        ("4.1", "progress-update"),  # the same step: no step-change
        ("4", "job_update"),
        ("5.1", "step-change"),
        ("5.2", "progress-update"),
        ("5", "job_update"),
        ("6.1", "complete"),
        ("6", "job_update"),
    ]


def test_the_steps_payloads_carry_what_seed_003_reads() -> None:
    by_id = {n.id: n for n in stream(LIFE, (STEPS,))}
    assert by_id["3"].payload == {
        "progress": 20,
        "currentStep": "step fetching",
        "phase": "read",
        "detail": "1 of 2 MB",
        "estimatedTimeRemaining": 9,
    }
    assert by_id["3.1"].name == "step-change"
    assert by_id["3.1"].payload == {
        "progress": 20,
        "currentStep": "step fetching",
        "estimatedTimeRemaining": 9,
    }
    assert by_id["6"].payload == {"result": {"score": 85}}


def test_one_vocabulary_alone_keeps_plain_ids_for_jobstream() -> None:
    assert [(n.id, n.name) for n in stream(LIFE, (JOBSTREAM,))] == [
        (str(i), "job_update") for i in range(1, 7)
    ]


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (
            JobStatus.FAILED,
            JobError("unsupported_file_type", "not a resume"),
            ("not a resume", "unsupported_file_type"),
        ),
        (JobStatus.CANCELLED, None, ("cancelled", "cancelled")),
    ],
)
def test_a_failed_or_cancelled_job_ends_with_failed(
    status: JobStatus, error: JobError | None, expected: tuple[str, str]
) -> None:
    ending = event(3, status, Stage.DONE, 40, error=error)
    (named,) = group(ending, Stage.ANALYZING, (STEPS,), job_update, label)
    assert named.name == "failed"
    assert (named.payload["error"], named.payload["errorCode"]) == expected


@pytest.mark.parametrize("vocabularies", [VOCABULARIES, (STEPS,), (JOBSTREAM,)])
def test_resuming_from_every_id_loses_and_repeats_nothing(vocabularies: tuple[str, ...]) -> None:
    whole = stream(LIFE, vocabularies)
    for cut, last in enumerate(whole):
        rest = resume(LIFE, last.id, vocabularies)
        assert whole[: cut + 1] + rest == whole, f"resumed after {last.id}"
    assert resume(LIFE, "", vocabularies) == whole


def test_positions_and_vocabularies_parse_strictly() -> None:
    assert parse_position("7") == Position(7)
    assert parse_position(" 7.2 ") == Position(7, 2)
    assert parse_position(None) == Position(0)
    assert Position(7, 2).complete_through == 6
    for bad in ("-1", "7.", "x", "7.2.1", "1e3"):
        with pytest.raises(ValueError, match=r"N or N\.k"):
            parse_position(bad)
    assert parse_vocabularies(None) == VOCABULARIES
    assert parse_vocabularies("steps") == (STEPS,)
    assert parse_vocabularies("steps,jobstream") == VOCABULARIES
    with pytest.raises(ValueError, match="jobstream or steps"):
        parse_vocabularies("everything")


def test_a_log_line_is_a_scrape_phase_alone_and_a_step_label_decides_step_changes() -> None:
    line = event(4, JobStatus.IN_PROGRESS, Stage.PARSING, 45, phase="detected", log=True)
    assert [
        (n.name, dict(n.payload)) for n in group(line, "Reading", (STEPS,), job_update, label)
    ] == [("scrape-phase", {"phase": "detected", "message": "in_progress"})]
    # Two stages under one step label are one step: no step-change between them.
    same = event(5, JobStatus.IN_PROGRESS, Stage.ANALYZING, 60, step="Reading the resume")
    assert [n.name for n in group(same, "Reading the resume", (STEPS,), job_update, label)] == [
        "progress-update"
    ]
    moved = event(6, JobStatus.IN_PROGRESS, Stage.ANALYZING, 70, step="Analysing the resume")
    assert [n.name for n in group(moved, "Reading the resume", (STEPS,), job_update, label)] == [
        "step-change",
        "progress-update",
    ]


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_every_event_of_a_traced_job_carries_its_trace_id_in_both_vocabularies() -> None:
    from function_app.entrypoints.sse import job_update_payload

    traced = [
        event(1, JobStatus.QUEUED, Stage.QUEUED, trace_id=TRACE_ID),
        event(2, JobStatus.STARTED, Stage.INITIALIZING, 5, trace_id=TRACE_ID),
        event(3, JobStatus.IN_PROGRESS, Stage.PARSING, 40, log=True, trace_id=TRACE_ID),
        event(4, JobStatus.COMPLETED, Stage.DONE, 100, result={"ok": 1}, trace_id=TRACE_ID),
    ]
    previous: str | None = None
    named: list[NamedEvent] = []
    for e in traced:
        named += group(e, previous, VOCABULARIES, job_update_payload, label)
        previous = e.stage
    assert {n.name for n in named} >= {"job_update", "step-change", "scrape-phase", "complete"}
    assert all(n.payload["traceId"] == TRACE_ID for n in named), named


def test_an_event_stored_before_traces_were_kept_has_no_trace_id_field() -> None:
    from function_app.entrypoints.sse import job_update_payload

    old = event(2, JobStatus.STARTED, Stage.INITIALIZING, 5)
    named = group(old, None, VOCABULARIES, job_update_payload, label)
    assert all("traceId" not in n.payload for n in named)


@pytest.mark.parametrize(
    "status", [JobStatus.QUEUED, JobStatus.STARTED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED]
)
def test_the_feed_and_catalogue_vocabularies_carry_the_trace_id_too(status: JobStatus) -> None:
    from function_app.domain.feed import FeedEntry
    from function_app.entrypoints import feed_vocabulary, queue_vocabulary

    traced = FeedEntry(1, "analyze-document", "document-analysis", event(2, status, Stage.PARSING))
    traced = FeedEntry(
        1, traced.job_name, traced.queue_name, replace(traced.event, trace_id=TRACE_ID)
    )
    assert feed_vocabulary.job_payload(traced)["traceId"] == TRACE_ID
    if status is JobStatus.QUEUED:
        assert queue_vocabulary.job_queued(traced, None, None)["traceId"] == TRACE_ID
    else:
        assert queue_vocabulary.job_event(traced)[1]["traceId"] == TRACE_ID
    untraced = replace(traced, event=replace(traced.event, trace_id=None))
    assert "traceId" not in feed_vocabulary.job_payload(untraced)
    assert "traceId" not in queue_vocabulary.job_queued(untraced, None, None)
