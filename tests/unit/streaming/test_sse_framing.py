"""SSE framing is pure: fields in, exact bytes out."""

import pytest

from function_app.entrypoints.sse import (
    ServerSentEvent,
    json_event,
    parse_last_event_id,
    retry_hint,
)


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
        (None, None, 0),
        ("", None, 0),
        ("5", None, 5),
        (None, "9", 9),
        ("4", "9", 4),
        (" 12 ", None, 12),
    ],
)
def test_resume_point_prefers_the_header(
    header: str | None, since: str | None, expected: int
) -> None:
    assert parse_last_event_id(header, since) == expected


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", "²", "9" * 19])
def test_resume_point_must_be_a_small_non_negative_integer(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_last_event_id(raw, None)
