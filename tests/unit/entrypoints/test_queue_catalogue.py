"""Seed 000's queue catalogue (`GET /api/v1/queue/events`), its bytes over fakes in virtual
time: queue-status first, the caller's job events in seed 000's shapes, queue-stats from the
counters, worker-status when an instance goes, system-alert on the backlog, heartbeats; and
nothing of another caller's jobs."""

import asyncio
import json
from datetime import timedelta
from typing import Any

from function_app.domain.feed import owner_key
from function_app.domain.identity import Caller
from function_app.domain.jobs import EventDraft, Job, JobError, JobStatus, Stage
from function_app.domain.queue_overview import RunningJob, WorkerBeat
from function_app.entrypoints.http_feeds import catalogue_events
from function_app.ports import QueueCounts
from function_app.services.caller_feed import FeedingEventLog, FeedWriter
from function_app.services.queue_overview import OverviewConfig, QueueCatalogue, QueueOverviews
from function_app.services.streaming import FeedHub, StreamConfig
from jobstream_client.sse import SseParser
from tests.fakes import (
    FakeCallerFeed,
    FakeEventLog,
    FakeQueueCounters,
    FakeQueueStats,
    FakeStepDurations,
    FakeWorkerPresence,
    VirtualClock,
)

QUEUE = "document-analysis"
Event = tuple[str, dict[str, Any]]


class Catalogue:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        raw = FakeEventLog(clock.now)
        self.feed = FakeCallerFeed(clock.now)
        writer = FeedWriter(raw, self.feed, clock.now)
        self.log = FeedingEventLog(raw, writer)
        self.counters = FakeQueueCounters()
        self.presence = FakeWorkerPresence()
        self.stats = FakeQueueStats([QUEUE])
        self.hub = FeedHub(
            self.feed, writer, clock, StreamConfig(), monotonic=clock.monotonic, sleep=clock.sleep
        )
        overviews = QueueOverviews(
            self.counters,
            self.presence,
            self.stats,
            [QUEUE],
            clock,
            OverviewConfig(refresh_seconds=5, offline_seconds=60, backlog_threshold=15),
            monotonic=clock.monotonic,
        )
        self.catalogue = QueueCatalogue(overviews, self.log, FakeStepDurations())

    def waiting(self, active: int) -> None:
        self.stats.counts_by_queue[QUEUE] = QueueCounts(QUEUE, active, 0, 0)

    async def read(self, owner: str, until: Any, seconds: float) -> list[Event]:
        """(event, data) of the owner's catalogue until `until(events)` or `seconds` pass."""
        stream = self.hub.open(Caller(owner), None, heartbeat_seconds=30, tick_seconds=10)
        viewer = self.catalogue.viewer(Caller(owner))
        parser, got = SseParser(), []
        deadline = self.clock.monotonic() + seconds
        async for chunk in catalogue_events(stream, viewer, 1000, 15):
            for line in chunk.decode().splitlines():
                event = parser.feed(line)
                if event is not None and event.data:
                    got.append((event.event or "message", json.loads(event.data)))
            if until(got) or self.clock.monotonic() > deadline:
                break
        return got


def job(job_id: str, owner: str) -> Job:
    return Job(job_id, owner, QUEUE, "analyze-document", {}, VirtualClock().start)


def draft(status: JobStatus, progress: int, **extra: Any) -> EventDraft:
    return EventDraft(status, progress, Stage.PARSING, f"{status} {progress}", **extra)


async def test_a_job_from_enqueue_to_completion_in_seed_000s_catalogue() -> None:
    clock = VirtualClock()
    world = Catalogue(clock)
    world.waiting(18)  # 18 active, 2 of them running: 16 waiting, over the threshold of 15
    await world.counters.count(QUEUE, JobStatus.COMPLETED, 10.0)
    await world.counters.count(QUEUE, JobStatus.FAILED, 30.0)
    started = clock.now()
    running = (
        RunningJob("a1", owner_key("alice"), QUEUE),
        RunningJob("b1", owner_key("bob"), QUEUE),
    )
    await world.presence.beat(WorkerBeat("w1", started, started, running))

    async def run_jobs() -> None:
        await clock.sleep(1)
        await world.log.create(job("b1", "bob"), draft(JobStatus.QUEUED, 0))
        await world.log.create(job("a1", "alice"), draft(JobStatus.QUEUED, 0))
        await clock.sleep(1)
        await world.log.append("a1", lambda _j: draft(JobStatus.STARTED, 0, worker="w1"))
        await world.log.append("b1", lambda _j: draft(JobStatus.STARTED, 0, worker="w1"))
        await clock.sleep(2)
        await world.log.append("a1", lambda _j: draft(JobStatus.RETRYING, 10))
        await world.log.append("a1", lambda _j: draft(JobStatus.IN_PROGRESS, 60))
        await clock.sleep(3)
        await world.log.append("a1", lambda _j: draft(JobStatus.COMPLETED, 100, result={"x": 1}))
        error = JobError("unreadable", "cannot read it")
        await world.log.append("b1", lambda _j: draft(JobStatus.FAILED, 0, error=error))
        world.waiting(3)  # the backlog drains; w1 stops beating (it died)

    def offline_seen(events: list[Event]) -> bool:
        return any(name == "worker-status" for name, _ in events)

    writer = asyncio.create_task(run_jobs())
    events = await world.read("alice", offline_seen, seconds=300)
    await writer
    names = [name for name, _ in events]
    assert names[:3] == ["queue-status", "system-alert", "queue-stats"]
    by_name = dict(reversed(events))  # the first of each name
    assert by_name["queue-status"]["queuedJobs"] == 16
    assert by_name["queue-status"]["activeJobs"] == 2
    assert by_name["queue-status"]["totalJobs"] == 18
    assert by_name["system-alert"]["level"] == "warning"
    assert by_name["system-alert"]["action"] == "consider_scaling"
    stats = by_name["queue-stats"]
    assert stats == {**stats, "totalProcessed": 2, "successRate": 50.0, "activeWorkers": 1}
    assert stats["averageProcessingTime"] == 20.0

    jobs = [(n, d) for n, d in events if n.startswith("job-")]
    assert [n for n, _ in jobs] == [
        "job-queued",
        "job-started",
        "job-progress",
        "job-progress",
        "job-completed",
    ]
    assert {d["jobId"] for _, d in jobs} == {"a1"}
    queued, started_event, retry, progress, completed = (d for _, d in jobs)
    assert queued["type"] == "analyze-document"
    assert queued["priority"] == "normal"
    assert queued["queuePosition"] == 16
    assert started_event["workerId"] == "w1"
    assert (retry["stage"], retry["retrying"]) == ("retrying", True)
    assert (progress["progress"], progress["stage"]) == (60, "parsing")
    assert completed["status"] == "success"
    assert completed["duration"] == 5  # started at 2 s, completed at 7 s
    assert completed["resultId"] == "a1"

    alerts = [d for n, d in events if n == "system-alert"]
    assert [a["level"] for a in alerts] == ["warning", "info"]
    [gone] = [d for n, d in events if n == "worker-status"]
    assert gone["workerId"] == "w1"
    assert gone["status"] == "offline"
    assert gone["reason"] == "heartbeat_missed"
    assert gone["affectedJobs"] == ["a1"]  # bob's b1 ran there too: not alice's to see
    assert "b1" not in json.dumps(events)
    heartbeats = [d for n, d in events if n == "heartbeat"]
    assert heartbeats, names
    assert heartbeats[0]["serverTime"].endswith("Z")
    assert "." in heartbeats[0]["serverTime"]


async def test_a_failed_job_is_job_failed_with_its_code_and_retryable() -> None:
    clock = VirtualClock()
    world = Catalogue(clock)

    async def run() -> None:
        await clock.sleep(1)
        await world.log.create(job("a2", "alice"), draft(JobStatus.QUEUED, 0))
        await world.log.append("a2", lambda _j: draft(JobStatus.STARTED, 0, worker="w9"))
        error = JobError("max_deliveries_exceeded", "gave up", retryable=True)
        await world.log.append("a2", lambda _j: draft(JobStatus.FAILED, 0, error=error))

    def failed(events: list[Event]) -> bool:
        return any(name == "job-failed" for name, _ in events)

    writer = asyncio.create_task(run())
    events = await world.read("alice", failed, seconds=60)
    await writer
    [data] = [d for n, d in events if n == "job-failed"]
    assert data["status"] == "failed"
    assert data["error"] == "max_deliveries_exceeded"
    assert data["retryable"] is True
    assert data["message"] == "gave up"
    queue_status = events[0][1]
    assert events[0][0] == "queue-status"
    assert queue_status["queuedJobs"] == 0  # nothing active: no alert, no backlog


async def test_figures_that_cannot_be_read_are_null_and_the_stream_goes_on() -> None:
    clock = VirtualClock()
    world = Catalogue(clock)
    down = RuntimeError("storage down")
    world.counters.fail_with = down
    world.presence.fail_with = down
    events = await world.read("alice", lambda e: len(e) >= 2, seconds=60)
    assert [n for n, _ in events] == ["queue-status", "queue-stats"]
    assert events[0][1]["activeJobs"] is None
    assert events[1][1]["totalProcessed"] is None
    assert events[1][1]["activeWorkers"] is None
    assert clock.now() - clock.start < timedelta(seconds=60)
