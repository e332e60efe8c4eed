"""follow-all's pure parts: the feed's URL, one line per event, dedupe and the limits."""

import io
import json
import time

from jobstream_client.feed import Follower, describe_event, feed_url


def event(job_id: str, sequence: int, kind: str, **extra: object) -> dict[str, object]:
    return {
        "type": kind,
        "jobId": job_id,
        "jobName": "analyze-resume",
        "sequence": sequence,
        "progress": {"current": 40, "total": 100, "percent": 40},
        "message": "Read 10 of 10 bytes",
        "timestamp": "2026-01-02T03:04:05.000006Z",
        **extra,
    }


def test_the_feed_is_beside_the_versioned_api() -> None:
    assert feed_url("http://127.0.0.1:7071/api/v1") == "http://127.0.0.1:7071/api/events"
    assert feed_url("https://app.example/api/v1/") == "https://app.example/api/events"


def test_an_event_is_one_line_with_its_error_and_code() -> None:
    line = describe_event(event("j1", 3, "progress"))
    assert line == "2026-01-02T03:04:05.000006Z j1 analyze-resume progress  40% Read 10 of 10 bytes"
    failed = describe_event(event("j1", 4, "failed", error="bad PDF", errorCode="corrupt_file"))
    assert failed.endswith("failed  40% Read 10 of 10 bytes · error: bad PDF (corrupt_file)")


def test_the_follower_prints_each_event_once_and_stops_at_its_count() -> None:
    out = io.StringIO()
    follower = Follower(out, as_json=True, count=3)
    for e in (event("a", 1, "queued"), event("a", 1, "queued"), event("b", 1, "queued")):
        follower.job(e)
    assert not follower.done()
    follower.job(event("a", 2, "started"))
    assert follower.done()
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["jobId"], e["sequence"]) for e in printed] == [("a", 1), ("b", 1), ("a", 2)]


def test_idle_waits_for_every_job_seen_to_end() -> None:
    follower = Follower(io.StringIO(), until_idle=0.0001)
    follower.job(event("a", 1, "started"))
    assert follower.running == {"a"}
    assert not follower.done()
    follower.job(event("a", 2, "completed"))
    assert follower.running == set()
    time.sleep(0.01)  # the quiet time counts from the last event
    assert follower.done()
