"""QueueOverviews: one read of the queue-wide figures per refresh per instance, however many
viewers ask at once."""

import asyncio

from function_app.domain.jobs import JobStatus
from function_app.services.queue_overview import OverviewConfig, QueueOverviews
from tests.fakes import FakeQueueCounters, FakeQueueStats, FakeWorkerPresence, VirtualClock


async def test_viewers_share_one_read_per_refresh() -> None:
    clock = VirtualClock()
    counters = FakeQueueCounters()
    overviews = QueueOverviews(
        counters,
        FakeWorkerPresence(),
        FakeQueueStats(["q"]),
        ["q"],
        clock,
        OverviewConfig(refresh_seconds=5),
        monotonic=clock.monotonic,
    )
    first = await asyncio.gather(*(overviews.current() for _ in range(50)))
    assert overviews.reads == 1
    assert {id(o) for o in first} == {id(first[0])}
    await counters.count("q", JobStatus.COMPLETED, 1.0)
    await clock.sleep(4)
    cached = await overviews.current()
    assert cached.tally is not None
    assert cached.tally.processed == 0  # still the first read
    await clock.sleep(2)
    fresh = await overviews.current()
    assert overviews.reads == 2
    assert fresh.tally is not None
    assert fresh.tally.processed == 1
