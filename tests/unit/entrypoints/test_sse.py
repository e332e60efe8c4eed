"""SSE framing is pure: fields in, exact bytes out."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import cast

import pytest

from function_app.domain.jobs import JobError, JobEvent, JobStatus
from function_app.entrypoints.sse import (
    GroupFrames,
    Groups,
    ServerSentEvent,
    event_stream,
    frame,
    job_update_payload,
    json_event,
    parse_last_event_id,
    retry_hint,
)
from function_app.entrypoints.stream_vocabularies import VOCABULARIES, Position
from function_app.ports import QueueCounts
from function_app.services.streaming import (
    Connected,
    Heartbeat,
    JobStream,
    QueueSnapshot,
    StreamItem,
    TimedOut,
    Update,
)
from tests.support.held import held_by_frame


def test_named_event_with_id_and_data() -> None:
    frame = ServerSentEvent(data="hello", event="job_update", id="7").encode()
    assert frame == b"id: 7\nevent: job_update\ndata: hello\n\n"


def test_multiline_data_becomes_one_data_line_per_line_whatever_the_line_break() -> None:
    frame = ServerSentEvent(data="a\nb\r\nc\rd").encode()
    assert frame == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_retry_hint_alone() -> None:
    assert retry_hint(2000) == b"retry: 2000\n\n"


def test_comment_frame() -> None:
    assert ServerSentEvent(comment="ping").encode() == b": ping\n\n"


def test_json_event_is_compact_utf8_without_id_unless_given() -> None:
    assert json_event("heartbeat", {"timestamp": "t"}) == (
        b'event: heartbeat\ndata: {"timestamp":"t"}\n\n'
    )
    assert json_event("job_update", {"m": "café"}, event_id=3) == (
        'id: 3\nevent: job_update\ndata: {"m":"café"}\n\n'.encode()
    )


def test_json_payload_with_newlines_stays_on_one_data_line() -> None:
    frame = json_event("job_update", {"message": "line1\nline2"})
    assert frame == b'event: job_update\ndata: {"message":"line1\\nline2"}\n\n'


@pytest.mark.parametrize(
    "bad",
    [
        ServerSentEvent(data="x", event="a\nb"),
        ServerSentEvent(data="x", id="1\r2"),
        ServerSentEvent(data="x", id="1\x002"),
        ServerSentEvent(retry_ms=-1),
        ServerSentEvent(),
    ],
)
def test_fields_the_format_cannot_carry_are_refused(bad: ServerSentEvent) -> None:
    with pytest.raises(ValueError):
        bad.encode()


@pytest.mark.parametrize(
    ("header", "since", "expected"),
    [
        (None, None, Position(0)),
        ("", None, Position(0)),
        ("5", None, Position(5)),
        (None, "9", Position(9)),
        ("4", "9", Position(4)),
        (" 12 ", None, Position(12)),
        ("12.2", None, Position(12, 2)),
    ],
)
def test_resume_point_prefers_the_header(
    header: str | None, since: str | None, expected: Position
) -> None:
    assert parse_last_event_id(header, since) == expected


@pytest.mark.parametrize("raw", ["-1", "abc", "1.", "1.2.3", "²", "9" * 19])
def test_resume_point_must_be_a_small_non_negative_integer(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_last_event_id(raw, None)


# --- the contract's events ---------------------------------------------------------------------

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_job_update_frame_carries_the_sequence_as_id() -> None:
    event = JobEvent("job-1", 3, T0, JobStatus.IN_PROGRESS, 40, "parsing", "reading", attempt=1)
    assert frame(Update(event)) == (
        b"id: 3\nevent: job_update\n"
        b'data: {"type":"job_update","jobId":"job-1","sequence":3,"status":"in_progress",'
        b'"progress":40,"stage":"parsing","message":"reading","attempt":1,'
        b'"timestamp":"2026-01-02T03:04:05Z"}\n\n'
    )


def test_a_failure_reads_as_text_with_its_code_and_retryable_beside_it() -> None:
    event = JobEvent(
        "job-1",
        4,
        T0,
        JobStatus.FAILED,
        40,
        "parsing",
        "cannot read",
        attempt=1,
        error=JobError("unreadable_file", "not a PDF", retryable=False),
    )
    payload = job_update_payload(event)
    assert (payload["error"], payload["errorCode"], payload["retryable"]) == (
        "not a PDF",
        "unreadable_file",
        False,
    )
    done = JobEvent("job-1", 5, T0, JobStatus.COMPLETED, 100, "done", "ok", result={"score": 7})
    assert job_update_payload(done)["result"] == {"score": 7}
    assert "error" not in job_update_payload(done)


def test_control_events_carry_no_id() -> None:
    counts = QueueCounts("resume-analysis", active=2, dead_letter=1, scheduled=0)
    assert frame(Connected("c1", "job-1", T0)) == (
        b'event: connected\ndata: {"connectionId":"c1","jobId":"job-1",'
        b'"timestamp":1767323045000,"connectedAt":"2026-01-02T03:04:05Z",'
        b'"message":"SSE connection established"}\n\n'
    )
    assert frame(Heartbeat(T0)) == (
        b'event: heartbeat\ndata: {"timestamp":"2026-01-02T03:04:05Z"}\n\n'
    )
    assert frame(QueueSnapshot(counts, T0)) == (
        b'event: queue_stats\ndata: {"queueName":"resume-analysis","activeMessages":2,'
        b'"deadLetterMessages":1,"scheduledMessages":0,"timestamp":"2026-01-02T03:04:05Z"}\n\n'
    )
    assert frame(TimedOut("job-1", 9)) == (
        b'event: timeout\ndata: {"jobId":"job-1","lastEventId":9}\n\n'
    )


class _Items:
    """Stands in for a hub `JobStream`: iterating it yields the given items."""

    def __init__(self, *items: StreamItem) -> None:
        self.items = items

    async def __aiter__(self) -> AsyncIterator[StreamItem]:
        for item in self.items:
            yield item


async def test_the_retry_hint_rides_in_the_connected_block_not_a_block_of_its_own() -> None:
    # A `retry:`-only block is a data-less event: some libraries (fetch-event-source) hand it
    # to `onmessage` as an empty message. One block: event, retry, data; then the job's events.
    done = JobEvent("job-1", 1, T0, JobStatus.COMPLETED, 100, "done", "ok")
    items = _Items(Connected("c1", "job-1", T0), Update(done))
    sent = [
        b async for b in event_stream(cast(JobStream, items), 1500, vocabularies=("jobstream",))
    ]
    assert sent[0] == (
        b'event: connected\nretry: 1500\ndata: {"connectionId":"c1","jobId":"job-1",'
        b'"timestamp":1767323045000,"connectedAt":"2026-01-02T03:04:05Z",'
        b'"message":"SSE connection established"}\n\n'
    )
    assert len(sent) == 2
    assert sent[1].startswith(b"id: 1\nevent: job_update\ndata: ")
    assert all(b"retry:" not in b for b in sent[1:])


def _running(sequence: int, percent: int, at: datetime = T0) -> JobEvent:
    return JobEvent("job-1", sequence, at, JobStatus.IN_PROGRESS, percent, "analyzing", "tick")


async def _sent(*items: StreamItem, vocabularies: tuple[str, ...] = VOCABULARIES) -> list[bytes]:
    stream = cast(JobStream, _Items(*items))
    return [b async for b in event_stream(stream, 1500, vocabularies=vocabularies)]


async def test_a_stored_event_goes_out_as_one_chunk_holding_its_whole_group() -> None:
    # Both vocabularies: `progress-update` (id N.1) and `job_update` (id N) in one write.
    sent = await _sent(Connected("c1", "job-1", T0), Update(_running(2, 40)))
    assert len(sent) == 2
    group = sent[1]
    assert group.count(b"\n\n") == 2  # two SSE events
    assert group.index(b"id: 2.1\n") < group.index(b"id: 2\nevent: job_update\n")
    assert b"event: progress-update\n" in group


async def test_every_viewer_of_one_event_is_sent_the_same_bytes_built_once() -> None:
    event = _running(3, 50)
    first = await _sent(Connected("c1", "job-1", T0), Update(event))
    second = await _sent(Connected("c2", "job-1", T0), Update(event))
    assert first[1] is second[1]


async def test_an_event_that_differs_under_the_same_sequence_is_encoded_anew() -> None:
    # A cached group is reused only for an equal event (a re-read may return a new object).
    first = await _sent(Connected("c1", "job-1", T0), Update(_running(4, 60)))
    later = await _sent(Connected("c2", "job-1", T0), Update(_running(4, 61)))
    assert b'"progress":60' in first[1]
    assert b'"progress":61' in later[1]
    equal = await _sent(Connected("c3", "job-1", T0), Update(_running(4, 61)))
    assert equal[1] == later[1]


def test_the_group_cache_forgets_its_oldest_entries_beyond_its_size() -> None:
    cache = GroupFrames(size=2)
    events = [_running(n, n) for n in (1, 2, 3)]
    chunks = [cache.encoded(e, None, VOCABULARIES) for e in events]
    assert cache.encoded(events[2], None, VOCABULARIES) is chunks[2]
    again = cache.encoded(_running(1, 1), None, VOCABULARIES)
    assert again == chunks[0]
    assert again is not chunks[0]  # gone from the cache: built anew


class _Waiting:
    """A `JobStream` that sends `connected` (then nothing); notes whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[StreamItem]:
        try:
            yield Connected("c1", "job-1", T0)
            yield Connected("c1", "job-1", T0)
        finally:
            self.closed = True


async def test_an_open_stream_holds_no_closing_wrapper_and_closing_it_closes_the_hubs() -> None:
    # Every open stream waits in this generator: it keeps the hub's iterator and its
    # `Groups`, not an `aclosing` object per stream; closing it still closes the hub's one.
    hub = _Waiting()
    stream = event_stream(cast(JobStream, hub), 1500)
    assert (await anext(stream)).startswith(b"event: connected\n")
    held = held_by_frame(stream)
    assert not [o for o in held if isinstance(o, AbstractAsyncContextManager)]
    groups = [o for o in held if isinstance(o, Groups)]
    assert groups
    assert not hasattr(groups[0], "__dict__")  # slots: one per open stream
    await stream.aclose()  # type: ignore[attr-defined]
    assert hub.closed
