"""QueueStats contract, the emulator-backed adapter and the fake alike: sends to a known
queue show up as active messages; a queue the namespace lacks is `NotFound(unknown_queue)`."""

import uuid

import pytest

from function_app.domain.errors import NotFound

from .conftest import StatsUnderTest


async def test_sends_to_a_known_queue_count_as_active_messages(
    stats_under_test: StatsUnderTest,
) -> None:
    queue_name = "document-analysis"
    before = await stats_under_test.stats.counts(queue_name)
    job_ids = [f"job-{uuid.uuid4().hex}" for _ in range(3)]
    for job_id in job_ids:
        await stats_under_test.queue.send(queue_name, job_id, {"jobId": job_id})
    # a repeated message id is dropped by duplicate detection: not counted again
    await stats_under_test.queue.send(queue_name, job_ids[0], {"jobId": job_ids[0]})
    after = await stats_under_test.stats.counts(queue_name)
    assert after.queue_name == queue_name
    assert after.active - before.active == len(job_ids)
    assert (after.dead_letter, after.scheduled) == (before.dead_letter, before.scheduled)


async def test_other_queues_are_counted_apart(stats_under_test: StatsUnderTest) -> None:
    before = await stats_under_test.stats.counts("resume-analysis")
    job_id = f"job-{uuid.uuid4().hex}"
    await stats_under_test.queue.send("document-analysis", job_id, {"jobId": job_id})
    assert await stats_under_test.stats.counts("resume-analysis") == before


@pytest.mark.parametrize("queue_name", ["no-such-queue", "document-analysis-archive"])
async def test_unknown_queue_is_not_found(
    stats_under_test: StatsUnderTest, queue_name: str
) -> None:
    with pytest.raises(NotFound) as missing:
        await stats_under_test.stats.counts(queue_name)
    assert missing.value.code == "unknown_queue"
