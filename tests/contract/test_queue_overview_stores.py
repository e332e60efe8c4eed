"""QueueCounters and WorkerPresence: the Table adapters (Azurite) and the fakes, same rules."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from function_app.domain.jobs import JobStatus
from function_app.domain.queue_overview import RunningJob, WorkerBeat


async def test_counts_add_up_by_outcome_even_when_concurrent(queue_counters: Any) -> None:
    before = await queue_counters.totals()
    queue = f"q{uuid.uuid4().hex[:8]}"
    outcomes = [JobStatus.COMPLETED] * 12 + [JobStatus.FAILED] * 4 + [JobStatus.CANCELLED] * 2
    await asyncio.gather(*(queue_counters.count(queue, s, 2.0) for s in outcomes))
    await queue_counters.count(queue, JobStatus.FAILED, None)  # never started: untimed
    after = await queue_counters.totals()
    assert after.completed - before.completed == 12
    assert after.failed - before.failed == 5
    assert after.cancelled - before.cancelled == 2
    assert after.timed - before.timed == 16
    assert round(after.seconds - before.seconds, 6) == 32.0


async def test_a_beat_replaces_the_last_and_recent_filters_by_time(worker_presence: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    worker, old = f"worker-{uuid.uuid4().hex[:8]}", f"worker-{uuid.uuid4().hex[:8]}"
    running = (RunningJob("job-1", "k" * 32, "document-analysis"),)
    await worker_presence.beat(WorkerBeat(worker, now, now, running))
    await worker_presence.beat(WorkerBeat(worker, now, now + timedelta(seconds=5)))
    await worker_presence.beat(WorkerBeat(old, now, now - timedelta(hours=2), running))
    recent = {b.worker_id: b for b in await worker_presence.recent(now - timedelta(minutes=1))}
    assert old not in recent
    assert recent[worker] == WorkerBeat(worker, now, now + timedelta(seconds=5))
    older = {b.worker_id: b for b in await worker_presence.recent(now - timedelta(hours=3))}
    assert older[old].running == running
