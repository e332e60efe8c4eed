"""The one timestamp format and the one queue-counts payload, as both wires carry them."""

import json
from datetime import UTC, datetime

from function_app.entrypoints.schemas import iso, queue_counts_out
from function_app.entrypoints.sse import frame
from function_app.ports import QueueCounts
from function_app.services.streaming import QueueSnapshot


def test_timestamps_are_iso_8601_utc_with_a_z() -> None:
    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC)) == "2026-01-02T03:04:05.000120Z"
    assert iso(None) is None


def test_the_stream_event_carries_the_queue_stats_payload_and_a_timestamp() -> None:
    counts = QueueCounts("resume-analysis", active=4, dead_letter=2, scheduled=1)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    wire = frame(QueueSnapshot(counts, at)).decode()
    event, data = wire.split("\n")[:2]
    assert event == "event: queue_stats"
    assert json.loads(data.removeprefix("data: ")) == {
        **queue_counts_out(counts),
        "timestamp": iso(at),
    }
    assert queue_counts_out(counts) == {
        "queueName": "resume-analysis",
        "activeMessages": 4,
        "deadLetterMessages": 2,
        "scheduledMessages": 1,
    }
