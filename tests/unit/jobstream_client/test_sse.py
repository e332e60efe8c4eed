"""The terminal client's SSE parser reads what the server frames (its HTTP flow runs in
tests/e2e/test_stream_terminal_client.py)."""

from function_app.entrypoints.sse import ServerSentEvent, json_event, retry_hint
from jobstream_client.sse import Event, SseParser


def lines(raw: bytes) -> list[str]:
    return raw.decode().split("\n")


def test_parses_what_the_server_frames() -> None:
    wire = (
        retry_hint(1500)
        + json_event("connected", {"jobId": "j"})
        + json_event("job_update", {"progress": 5}, event_id=1)
        + ServerSentEvent(comment="keep-alive").encode()
        + json_event("job_update", {"progress": 9}, event_id=2)
    )
    parser = SseParser()
    events = list(parser.events(lines(wire)))
    assert events == [
        Event("connected", '{"jobId":"j"}', None),
        Event("job_update", '{"progress":5}', "1"),
        Event("job_update", '{"progress":9}', "2"),
    ]
    assert parser.retry_ms == 1500
    assert parser.last_event_id == "2"


def test_multiline_data_and_default_event_name() -> None:
    parser = SseParser()
    events = list(parser.events(["data: a", "data:b", "", "event: x", ""]))
    assert events == [Event("message", "a\nb", None)]


def test_the_last_event_id_persists_across_control_events() -> None:
    parser = SseParser()
    wire = json_event("job_update", {}, event_id=7) + json_event("timeout", {})
    events = list(parser.events(lines(wire)))
    assert [e.id for e in events] == ["7", None]
    assert parser.last_event_id == "7"
