"""The sweeper on the local stack (its timer runs every 2 s there): a job recorded but never
sent (enqueue "died" between the two, via the simulateLostSend test hook) is sent by the
sweeper and runs to the end, one terminal event, every event once."""

import asyncio
import time

import pytest

from tests.e2e.conftest import Api
from tests.support.chaos import record

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TEXT = b"The quick brown fox jumps over the lazy dog.\n" * 50


async def test_a_job_whose_send_was_lost_is_sent_by_the_sweeper_and_completes(
    alice: Api,
) -> None:
    enqueued_at = time.monotonic()
    job = await alice.submit(
        "document-analysis", "analyze-document", "lost.txt", TEXT, {"simulateLostSend": True}
    )
    await asyncio.sleep(1.5)
    early = (await alice.status(job["jobId"])).json()["data"]
    assert early["status"] == "queued", "ran although its message was never sent"
    final = await asyncio.wait_for(alice.wait_terminal(job["jobId"]), 60)
    recover = time.monotonic() - enqueued_at
    events = await alice.events(job["jobId"])
    sequences = [e["sequence"] for e in events]
    record(
        "a crash between recording a job and sending it (the sweeper sends it)",
        jobs=1,
        clients=[(sequences, list(range(1, len(sequences) + 1)))],
        stuck=0 if final["status"] in {"completed", "failed", "cancelled"} else 1,
        recover_seconds=recover,
    )
    assert final["status"] == "completed"
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert sum(1 for e in events if e["status"] in {"completed", "failed", "cancelled"}) == 1
    logged = alice.stack.log_path.read_text(encoding="utf-8", errors="replace")
    assert f"job {job['jobId']} was recorded but not sent: sending it" in logged
