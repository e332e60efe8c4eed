"""The hub's long-poll answer (`StreamHub.poll`) over the fake event log, on virtual time:
at once when events are there or the job has ended, waiting up to its bound otherwise,
resumed from any position with nothing lost or repeated, the stream's visibility rule, and
one shared poller for any number of long-pollers and streams of a job."""

import asyncio

import pytest

from function_app.domain.errors import InvalidRequest, NotFound
from function_app.domain.identity import Caller
from function_app.domain.jobs import Job
from function_app.services.streaming import EventPage, StreamConfig
from tests.fakes import VirtualClock
from tests.unit.services.streaming.test_hub import (
    ALICE,
    DEFAULTS,
    TimedEventLog,
    collect,
    complete,
    hub_over,
    new_id,
    open_stream,
    progress,
    sequences,
)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def log(clock: VirtualClock) -> TimedEventLog:
    return TimedEventLog(clock)


@pytest.fixture
def job_id(log: TimedEventLog) -> str:
    job_id = new_id()
    log.add_job(job_id)
    return job_id


def seqs(page: EventPage) -> list[int]:
    return [e.sequence for e in page.events]


async def test_events_already_there_are_answered_at_once(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    progress(log, job_id, 10)
    progress(log, job_id, 20)
    hub = hub_over(log)
    page = await hub.poll(ALICE, job_id, 1)
    assert seqs(page) == [2, 3]
    assert (page.after, page.finished, page.more, page.last_sequence) == (1, False, False, 3)
    assert clock.monotonic() == 0  # no waiting, not even for the feed's first poll
    assert hub.stats().total_connections == 0


async def test_with_nothing_new_it_waits_for_the_next_event(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)

    async def worker() -> None:
        await clock.sleep(3)
        progress(log, job_id, 50)

    page, _ = await asyncio.gather(hub.poll(ALICE, job_id, 1), worker())
    assert seqs(page) == [2]
    # Seen at the feed's next fast poll after the write, not at the end of the wait.
    assert 3 <= clock.monotonic() <= 3 + DEFAULTS.idle_poll_seconds + 1e-9


async def test_with_nothing_new_it_answers_empty_at_the_end_of_its_wait(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log, StreamConfig(long_poll_wait_seconds=25))
    page = await hub.poll(ALICE, job_id, 1)
    assert (seqs(page), page.after, page.finished, page.last_sequence) == ([], 1, False, 1)
    assert clock.monotonic() == pytest.approx(25)
    assert hub.stats().total_connections == 0
    assert hub.stats().total_job_subscriptions == 0


@pytest.mark.parametrize(("asked", "waited"), [(5, 5), (0, 0), (99, 25), (-3, 0)])
async def test_the_wait_asked_for_is_bounded_by_the_setting(
    clock: VirtualClock, log: TimedEventLog, job_id: str, asked: float, waited: float
) -> None:
    hub = hub_over(log, StreamConfig(long_poll_wait_seconds=25))
    page = await hub.poll(ALICE, job_id, 1, wait_seconds=asked)
    assert seqs(page) == []
    assert clock.monotonic() == pytest.approx(waited)


async def test_a_finished_job_is_answered_at_once_and_says_so(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    progress(log, job_id, 10)
    complete(log, job_id)
    hub = hub_over(log)
    page = await hub.poll(ALICE, job_id, 1)
    assert (seqs(page), page.finished) == ([2, 3], True)
    for after in (3, 99):  # all seen: nothing, finished, no waiting
        page = await hub.poll(ALICE, job_id, after)
        assert (seqs(page), page.after, page.finished) == ([], 3, True)
    assert clock.monotonic() == 0


async def test_a_job_ending_during_the_wait_answers_with_its_terminal_event(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)

    async def worker() -> None:
        await clock.sleep(2)
        complete(log, job_id)

    page, _ = await asyncio.gather(hub.poll(ALICE, job_id, 1), worker())
    assert (seqs(page), page.finished) == ([2], True)


async def test_pages_are_capped_and_say_there_is_more(log: TimedEventLog, job_id: str) -> None:
    for percent in range(1, 8):
        progress(log, job_id, percent)
    complete(log, job_id)
    hub = hub_over(log, StreamConfig(page_size=3))
    seen: list[int] = []
    after = 0
    while True:
        page = await hub.poll(ALICE, job_id, after, limit=50)  # asked for more than the cap
        assert len(page.events) <= 3
        seen += seqs(page)
        after = page.last_sequence
        if page.finished:
            break
        assert page.more
    assert seen == list(range(1, 10))
    assert (await hub.poll(ALICE, job_id, 0, limit=2)).events[-1].sequence == 2


async def test_polling_from_each_answer_sees_every_event_once_while_the_job_runs(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)

    async def worker() -> None:
        for percent in range(5, 100, 5):
            await clock.sleep(0.07 * (percent % 3 + 1))
            progress(log, job_id, percent)
        complete(log, job_id)

    async def client() -> list[int]:
        seen: list[int] = []
        after = 0
        while True:
            page = await hub.poll(ALICE, job_id, after, limit=2)
            seen += seqs(page)
            after = page.last_sequence
            if page.finished:
                return seen

    seen, _ = await asyncio.gather(client(), worker())
    assert seen == list(range(1, 22))


async def test_the_event_before_the_page_is_given_for_context_when_asked(
    log: TimedEventLog, job_id: str
) -> None:
    progress(log, job_id, 10)
    progress(log, job_id, 20)
    hub = hub_over(log)
    page = await hub.poll(ALICE, job_id, 2, context=True)
    assert page.previous is not None
    assert page.previous.sequence == 2
    assert seqs(page) == [3]
    assert (await hub.poll(ALICE, job_id, 2)).previous is None
    assert (await hub.poll(ALICE, job_id, 0, context=True)).previous is None


@pytest.mark.parametrize(
    "caller",
    [Caller("mallory"), Caller("alice", job_scope="another-job")],
    ids=["other-owner", "token-for-another-job"],
)
async def test_foreign_jobs_are_not_found(caller: Caller, log: TimedEventLog) -> None:
    job_id = new_id()
    log.add_job(job_id, owner="alice")
    hub = hub_over(log)
    with pytest.raises(NotFound):
        await hub.poll(caller, job_id, wait_seconds=0)
    page = await hub.poll(Caller("alice", job_scope=job_id), job_id, wait_seconds=0)
    assert seqs(page) == [1]


async def test_a_negative_position_is_a_bad_request(log: TimedEventLog, job_id: str) -> None:
    with pytest.raises(InvalidRequest):
        await hub_over(log).poll(ALICE, job_id, -1)


async def test_long_pollers_and_a_stream_of_one_job_share_one_poller(
    clock: VirtualClock, log: TimedEventLog, job_id: str
) -> None:
    hub = hub_over(log)
    stream_task = asyncio.create_task(collect(await open_stream(hub, job_id)))

    async def long_poller() -> list[int]:
        seen: list[int] = []
        after = 1
        while True:
            page = await hub.poll(ALICE, job_id, after)
            seen += seqs(page)
            after = page.last_sequence
            if page.finished:
                return seen

    pollers = [asyncio.create_task(long_poller()) for _ in range(20)]
    await clock.sleep(0)
    assert hub.stats().total_connections == 21
    assert hub.stats().total_job_subscriptions == 1
    for percent in (30, 60):
        await clock.sleep(1)
        progress(log, job_id, percent)
    await clock.sleep(1)
    complete(log, job_id)
    results = await asyncio.gather(*pollers)
    assert all(r == [2, 3, 4] for r in results)
    assert sequences(await stream_task) == [1, 2, 3, 4]
    stats = hub.stats()
    # What one stream alone costs: its poller's reads (one per fast-poll interval over the
    # job's 3 s) and nothing per long-poller, who are all served from the shared ring.
    assert stats.reread_queries == 0
    assert stats.poll_queries == 31
    assert stats.total_job_subscriptions == 0


class CountedLog(TimedEventLog):
    """The timed fake log, counting its job reads (`get`)."""

    gets = 0

    async def get(self, job_id: str) -> Job | None:
        self.gets += 1
        return await super().get(job_id)


async def test_long_polls_of_a_job_this_instance_watches_do_not_read_the_job_again(
    clock: VirtualClock,
) -> None:
    log = CountedLog(clock)
    job_id = new_id()
    log.add_job(job_id, owner="alice")
    hub = hub_over(log)
    stream_task = asyncio.create_task(collect(await open_stream(hub, job_id)))
    await clock.sleep(0.5)  # the stream's feed is up and has the job's first event
    gets_before = log.gets

    async def long_poller() -> list[int]:
        seen: list[int] = []
        after = 1
        while True:
            page = await hub.poll(ALICE, job_id, after)
            seen += seqs(page)
            after = page.last_sequence
            if page.finished:
                return seen

    pollers = [asyncio.create_task(long_poller()) for _ in range(10)]
    for percent in (20, 40, 60, 80):
        await clock.sleep(0.5)
        progress(log, job_id, percent)
    await clock.sleep(0.5)
    complete(log, job_id)
    assert all(r == [2, 3, 4, 5, 6] for r in await asyncio.gather(*pollers))
    assert sequences(await stream_task) == [1, 2, 3, 4, 5, 6]
    assert log.gets == gets_before  # 10 pollers x 5 rounds, and not one job read


@pytest.mark.parametrize(
    "caller",
    [Caller("mallory"), Caller("alice", job_scope="another-job")],
    ids=["other-owner", "token-for-another-job"],
)
async def test_a_watched_job_is_still_not_found_for_others(
    clock: VirtualClock, log: TimedEventLog, job_id: str, caller: Caller
) -> None:
    hub = hub_over(log)
    stream = aiter(await open_stream(hub, job_id))
    await anext(stream)  # connected: the job's feed is live
    with pytest.raises(NotFound):
        await hub.poll(caller, job_id, 0, wait_seconds=0)
    page = await hub.poll(Caller("alice", job_scope=job_id), job_id, 0, wait_seconds=0)
    assert seqs(page) == [1]
    await stream.aclose()  # type: ignore[attr-defined]
