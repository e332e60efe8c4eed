"""Learned ETAs on the real local stack: a steady workload of `paced-read` jobs (test-only,
ALLOW_FAULT_INJECTION: it reads its upload at a fixed rate, so its duration is set by the
upload's size), then a new job whose first ETA must be within 30 % of how long it then took.

The history uses different sizes and the new job a bigger one than any of them, so the
estimate must scale by bytes to pass. No ETA before MIN_SAMPLES runs are known; enqueue
answers a queue position, and an estimated wait once runs are known."""

from datetime import datetime
from typing import Any

from function_app.domain.durations import MIN_SAMPLES
from tests.e2e.conftest import Api

MIB = 1024 * 1024
RATE = 512 * 1024  # bytes per second: 1 MiB takes 2 s
HISTORY_SIZES = [MIB, 3 * MIB // 2, 2 * MIB, 5 * MIB // 4, 7 * MIB // 4]
NEW_SIZE = 5 * MIB // 2  # bigger than every run known: ~5 s
TOLERANCE = 0.30


def text_of(size: int) -> bytes:
    line = b"a steady line of text for the paced reader\n"
    return (line * (size // len(line) + 1))[:size]


async def run_paced(api: Api, size: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    accepted = await api.submit(
        "document-analysis", "paced-read", "paced.txt", text_of(size), {"bytesPerSecond": RATE}
    )
    job = await api.wait_terminal(accepted["jobId"])
    assert job["status"] == "completed", job
    return accepted, await api.events(accepted["jobId"])


def at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


async def test_a_new_jobs_first_eta_is_within_30_percent_of_its_duration(
    alice: Api, record_property: Any
) -> None:
    accepted_history = []
    for index, size in enumerate(HISTORY_SIZES):
        accepted, events = await run_paced(alice, size)
        accepted_history.append(accepted)
        if index < MIN_SAMPLES:
            assert all("etaSeconds" not in e for e in events), "an ETA before any history"
        assert isinstance(accepted["queuePosition"], int)
        assert accepted["queuePosition"] >= 1
    assert accepted_history[0]["estimatedWait"] is None

    accepted, events = await run_paced(alice, NEW_SIZE)
    assert accepted["estimatedWait"] == 0  # the queue was empty: it starts at once
    first = next(e for e in events if "etaSeconds" in e)
    assert first["currentStep"] == "Reading the file"
    assert first["detail"] == f"0 of {NEW_SIZE:,} bytes"
    completed = events[-1]
    assert completed["status"] == "completed"
    actual = (at(completed) - at(first)).total_seconds()
    started = next(e for e in events if e["status"] == "started")
    whole = (at(completed) - at(started)).total_seconds()
    error = abs(first["etaSeconds"] - actual) / actual
    record_property("first_eta_seconds", first["etaSeconds"])
    record_property("actual_seconds", round(actual, 3))
    record_property("started_to_completed_seconds", round(whole, 3))
    record_property("relative_error", round(error, 3))
    print(
        f"first ETA {first['etaSeconds']} s, actual {actual:.3f} s "
        f"(started->completed {whole:.3f} s), error {error:.1%}"
    )
    assert error <= TOLERANCE, (first["etaSeconds"], actual)
    # The ETA counts down as the job goes on.
    etas = [e["etaSeconds"] for e in events if "etaSeconds" in e]
    assert etas == sorted(etas, reverse=True)
