"""Seed 000's queue-wide figures, read once per instance however many viewers watch.

`QueueOverviews.current()` answers the latest `QueueOverview` (`domain.queue_overview`):
the outcome tally (`QueueCounters`), the workers' beats (`WorkerPresence`) and the queues'
active messages (`QueueStats`), read together at most once every `refresh_seconds` and
shared by every viewer on the instance (one read in flight at a time). A part that fails to
read is None in that overview (logged), so a storage hiccup skips a figure, not a stream.

`QueueCatalogue.viewer(caller)` gives one viewer its own memory (which workers it saw
online, whether it was told of a backlog) and what its job events need: the run time of an
ended job (from the job's record) and a queued job's place and wait.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from function_app.domain.durations import WORKER_CONCURRENCY, queue_wait_seconds
from function_app.domain.feed import FeedEntry, owner_key
from function_app.domain.identity import Caller
from function_app.domain.queue_overview import (
    BacklogWatch,
    QueueOverview,
    WorkerChange,
    WorkerWatch,
)
from function_app.ports import (
    Clock,
    EventLog,
    QueueCounters,
    QueueStats,
    StepDurations,
    WorkerPresence,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OverviewConfig:
    refresh_seconds: float = 5.0
    offline_seconds: float = 60.0
    backlog_threshold: int = 15


class QueueOverviews:
    def __init__(
        self,
        counters: QueueCounters,
        presence: WorkerPresence,
        queue_stats: QueueStats,
        queue_names: Sequence[str],
        clock: Clock,
        config: OverviewConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counters = counters
        self._presence = presence
        self._queue_stats = queue_stats
        self._queue_names = tuple(queue_names)
        self._clock = clock
        self.config = config
        self._monotonic = monotonic
        self._latest: QueueOverview | None = None
        self._read_at = float("-inf")
        self._reading: asyncio.Task[QueueOverview] | None = None
        self.reads = 0

    async def current(self) -> QueueOverview:
        if self._latest is not None and self._monotonic() - self._read_at < (
            self.config.refresh_seconds
        ):
            return self._latest
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._read())
        return await asyncio.shield(self._reading)

    async def _read(self) -> QueueOverview:
        self.reads += 1
        now = self._clock.now()
        since = now - timedelta(seconds=2 * self.config.offline_seconds)
        tally, beats, active = await asyncio.gather(
            _or_none(self._counters.totals(), "queue counters"),
            _or_none(self._presence.recent(since), "worker heartbeats"),
            _or_none(self._active(), "queue statistics"),
        )
        overview = QueueOverview(
            at=now,
            tally=tally,
            beats=None if beats is None else tuple(beats),
            active=active,
            offline_seconds=self.config.offline_seconds,
        )
        self._latest, self._read_at = overview, self._monotonic()
        return overview

    async def _active(self) -> dict[str, int]:
        counts = await asyncio.gather(*(self._queue_stats.counts(q) for q in self._queue_names))
        return {c.queue_name: c.active for c in counts}


async def _or_none[T](read: Awaitable[T], what: str) -> T | None:
    try:
        return await read
    except Exception as exc:
        logger.warning("%s not read: %r", what, exc)
        return None


@dataclass(frozen=True)
class QueuedEstimate:
    position: int | None
    wait_seconds: int | None


@dataclass
class CatalogueViewer:
    """What one viewer of seed 000's catalogue remembers and asks."""

    catalogue: "QueueCatalogue"
    owner: str
    workers: WorkerWatch
    backlog: BacklogWatch
    _runs: dict[str, float | None] = field(default_factory=dict)

    async def overview(self) -> QueueOverview:
        return await self.catalogue.overviews.current()

    def worker_changes(self, overview: QueueOverview) -> list[WorkerChange]:
        if overview.beats is None:
            return []
        return self.workers.changes(overview.beats, overview.at)

    def backlog_level(self, overview: QueueOverview) -> str | None:
        return self.backlog.level(overview.waiting())

    async def run_seconds(self, entry: FeedEntry) -> float | None:
        """How long the ended job ran, started -> ended (its record); None if unknown."""
        job_id = entry.event.job_id
        if job_id not in self._runs:
            self._runs[job_id] = await self.catalogue.run_seconds(self.owner, job_id)
        return self._runs[job_id]

    async def queued_estimate(self, entry: FeedEntry) -> QueuedEstimate:
        overview = await self.overview()
        waiting = overview.waiting(entry.queue_name)
        position = None if waiting is None else max(waiting, 1)
        return QueuedEstimate(
            position, await self.catalogue.wait_seconds(entry, overview, position)
        )


@dataclass(frozen=True, eq=False)
class QueueCatalogue:
    overviews: QueueOverviews
    log: EventLog
    durations: StepDurations

    def viewer(self, caller: Caller) -> CatalogueViewer:
        config = self.overviews.config
        return CatalogueViewer(
            catalogue=self,
            owner=caller.owner,
            workers=WorkerWatch(owner_key(caller.owner), config.offline_seconds),
            backlog=BacklogWatch(config.backlog_threshold),
        )

    async def run_seconds(self, owner: str, job_id: str) -> float | None:
        job = await _or_none(self.log.get(job_id), "job record")
        if job is None or job.owner != owner or job.started_at is None:
            return None
        if job.completed_at is None:
            return None
        return max((job.completed_at - job.started_at).total_seconds(), 0.0)

    async def wait_seconds(
        self, entry: FeedEntry, overview: QueueOverview, position: int | None
    ) -> int | None:
        durations = await _or_none(self.durations.get(entry.job_name), "durations")
        if durations is None:
            return None
        workers = len(overview.online) if overview.beats is not None else 0
        return queue_wait_seconds(position, durations, WORKER_CONCURRENCY * max(workers, 1))
