"""Copying job events into the owner's feed: gaps repaired, nothing twice (fakes)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from function_app.domain.errors import Unauthenticated
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, Job, JobStatus, Stage
from function_app.services.caller_feed import REPAIR_AFTER, FeedingEventLog, FeedWriter
from function_app.services.streaming import FeedHub, FeedStream, FeedUpdate, StreamConfig
from tests.fakes import FakeCallerFeed, FakeEventLog, VirtualClock


def new_job(job_id: str, owner: str) -> Job:
    return Job(job_id, owner, "document-analysis", "analyze-document", {}, datetime.now(UTC))


def draft(status: JobStatus, progress: int = 50) -> EventDraft:
    return EventDraft(status, progress, Stage.PARSING, f"{status} {progress}")


def world(clock: VirtualClock) -> tuple[FakeEventLog, FakeCallerFeed, FeedWriter, FeedingEventLog]:
    log = FakeEventLog(clock.now)
    feed = FakeCallerFeed(clock.now)
    writer = FeedWriter(log, feed, clock.now)
    return log, feed, writer, FeedingEventLog(log, writer)


async def test_every_event_lands_in_the_feed_once_in_order() -> None:
    clock = VirtualClock()
    _, feed, _, log = world(clock)
    job = new_job("j1", owner="alice")
    await log.create(job, draft(JobStatus.QUEUED, 0))
    for status in (JobStatus.STARTED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED):
        await log.append("j1", lambda _j, s=status: draft(s))
    assert feed.events_of("alice") == [("j1", 1), ("j1", 2), ("j1", 3), ("j1", 4)]


async def test_a_copy_that_failed_is_made_by_the_next_event_of_the_job() -> None:
    clock = VirtualClock()
    _, feed, _, log = world(clock)
    await log.create(new_job("j1", owner="alice"), draft(JobStatus.QUEUED, 0))
    feed.failing_extends = 1  # the writer "dies" between its two writes
    await log.append("j1", lambda _j: draft(JobStatus.STARTED))
    assert feed.events_of("alice") == [("j1", 1)]
    await log.append("j1", lambda _j: draft(JobStatus.IN_PROGRESS))
    assert feed.events_of("alice") == [("j1", 1), ("j1", 2), ("j1", 3)]


async def test_a_lost_last_event_is_repaired_by_a_reader_and_seen_once() -> None:
    clock = VirtualClock()
    _, feed, writer, log = world(clock)
    await log.create(new_job("j1", owner="alice"), draft(JobStatus.QUEUED, 0))
    await log.append("j1", lambda _j: draft(JobStatus.STARTED))
    feed.failing_extends = 1
    await log.append("j1", lambda _j: draft(JobStatus.COMPLETED, 100))
    assert feed.events_of("alice") == [("j1", 1), ("j1", 2)]
    hub = FeedHub(
        feed,
        writer,
        clock,
        StreamConfig(feed_repair_seconds=1.0),
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    stream = hub.open(Caller("alice"), 0)
    seen: list[tuple[str, int]] = []

    async def watch() -> None:
        async for item in stream:
            if isinstance(item, FeedUpdate):
                seen.append((item.entry.job_id, item.entry.event.sequence))
                if item.entry.event.is_terminal:
                    return

    # The repair waits until the mark is older than REPAIR_AFTER (a writer may be at work).
    await asyncio.wait_for(watch(), 5)
    assert seen == [("j1", 1), ("j1", 2), ("j1", 3)]
    assert feed.events_of("alice") == [("j1", 1), ("j1", 2), ("j1", 3)]
    assert timedelta(0) < REPAIR_AFTER


async def test_resume_at_every_position_sends_the_rest_once() -> None:
    clock = VirtualClock()
    _, feed, writer, log = world(clock)
    for n in range(3):
        await log.create(new_job(f"j{n}", owner="alice"), draft(JobStatus.QUEUED, 0))
    for step in range(3):
        for n in range(3):
            status = JobStatus.COMPLETED if step == 2 else JobStatus.IN_PROGRESS
            await log.append(f"j{n}", lambda _j, s=status, p=step: draft(s, 10 + p))
    await log.create(new_job("b1", owner="bob"), draft(JobStatus.QUEUED, 0))
    everything = sorted(feed.entries["alice"])
    assert len(everything) == 12
    clock.start += timedelta(seconds=5)  # every entry has settled
    hub = FeedHub(feed, writer, clock, monotonic=clock.monotonic, sleep=clock.sleep)
    for k, position in enumerate([0, *everything]):
        want = [
            (feed.entries["alice"][p].job_id, feed.entries["alice"][p].event.sequence)
            for p in everything[k:]
        ]
        got: list[tuple[str, int]] = []
        stream = hub.open(Caller("alice"), position)

        async def collect(stream: FeedStream, got: list[tuple[str, int]], count: int) -> None:
            if count == 0:
                return
            async for item in stream:
                if isinstance(item, FeedUpdate):
                    got.append((item.entry.job_id, item.entry.event.sequence))
                    if len(got) == count:
                        return

        await asyncio.wait_for(collect(stream, got, len(want)), 5)
        assert got == want, f"after position #{k}"


async def test_a_one_job_stream_token_may_not_open_the_feed() -> None:
    clock = VirtualClock()
    _, feed, writer, _ = world(clock)
    hub = FeedHub(feed, writer, clock)
    with pytest.raises(Unauthenticated) as refused:
        hub.open(Caller("alice", job_scope="j1"), None)
    assert refused.value.code == "read_only_token"
    assert hub.open(Caller("alice", feed_scope=True), None).owner == "alice"


async def polls_in(tabs: int, seconds: float) -> tuple[int, int, int]:
    """(poll queries, feeds, viewers at the end) of `tabs` viewers of one owner, `seconds`
    of virtual time, one job writing an event a second."""
    clock = VirtualClock()
    _, feed, writer, log = world(clock)
    hub = FeedHub(feed, writer, clock, monotonic=clock.monotonic, sleep=clock.sleep)
    await log.create(new_job("j1", owner="alice"), draft(JobStatus.QUEUED, 0))
    streams = [hub.open(Caller("alice"), None) for _ in range(tabs)]
    seen = [0] * tabs
    counted: list[tuple[int, int]] = []

    async def watch(k: int) -> None:
        async for item in streams[k]:
            if isinstance(item, FeedUpdate):
                seen[k] += 1

    async def write() -> None:
        for n in range(int(seconds)):
            await clock.sleep(1)
            await log.append("j1", lambda _j, p=n: draft(JobStatus.IN_PROGRESS, min(p, 99)))
        await clock.sleep(2)
        counted.append((hub.stats().total_feeds, hub.stats().total_connections))

    watchers = [asyncio.create_task(watch(k)) for k in range(tabs)]
    await write()
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    assert seen == [int(seconds)] * tabs, seen  # every tab saw every event
    feeds, connections = counted[0]
    return hub.stats().poll_queries, feeds, connections


async def test_tabs_of_one_caller_share_one_poller() -> None:
    one, feeds, _ = await polls_in(1, 20)
    many, feeds_many, connections = await polls_in(20, 20)
    assert (feeds, feeds_many, connections) == (1, 1, 20)
    assert abs(many - one) <= 2, (one, many)  # the query rate does not grow with the tabs
