"""Enqueue's `queuePosition` and `estimatedWait`, best effort and off the critical path.

`begin(queue, job name)` starts reading the queue's active count (`QueueStats`) and the job
type's learned durations (`StepDurations`) at once, while enqueue records and sends the job.
`result()` then waits at most `wait_seconds` more; whatever is missing, late or failed
answers None (an enqueue never fails, and never waits long, for an estimate).

- `position` = active messages when the enqueue began + 1 (1 = the next to run). Service
  Bus counts a message being processed as active, so running jobs count as ahead. The
  count is read concurrently with the send, so it may already include this job: the
  position is an estimate, off by at most one.
- `wait` = `domain.durations.queue_wait_seconds`: floor((position - 1) / concurrency) x the
  job type's mean run duration (concurrency = deliveries a worker runs at once per queue).
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from function_app.domain.durations import WORKER_CONCURRENCY, Durations, queue_wait_seconds
from function_app.ports import QueueStats, StepDurations

logger = logging.getLogger(__name__)

ESTIMATE_WAIT_SECONDS = 0.5


@dataclass(frozen=True)
class QueueEstimate:
    position: int | None = None
    wait_seconds: int | None = None


class PendingEstimate:
    """The reads `QueueEstimates.begin` started; `result()` collects them."""

    def __init__(
        self,
        count: asyncio.Task[int],
        durations: asyncio.Task[Durations],
        concurrency: int,
        wait_seconds: float,
    ) -> None:
        self._tasks = (count, durations)
        self._count = count
        self._durations = durations
        self._concurrency = concurrency
        self._wait = wait_seconds

    async def result(self) -> QueueEstimate:
        """What arrived within `wait_seconds` from now; None for the rest."""
        await asyncio.wait(self._tasks, timeout=self._wait)
        active = _value(self._count)
        durations = _value(self._durations) or Durations()
        position = None if active is None else active + 1
        return QueueEstimate(position, queue_wait_seconds(position, durations, self._concurrency))

    def close(self) -> None:
        """Cancel what still runs; outcomes are retrieved so none is logged as unretrieved."""
        for task in self._tasks:
            task.cancel()
            task.add_done_callback(_retrieve)


def _value[T](task: asyncio.Task[T]) -> T | None:
    if not task.done() or task.cancelled():
        return None
    error = task.exception()
    if error is not None:
        logger.info("queue estimate unavailable: %r", error)
        return None
    return task.result()


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        _ = task.exception()


class QueueEstimates:
    def __init__(
        self,
        stats: QueueStats,
        durations: StepDurations,
        *,
        concurrency: int = WORKER_CONCURRENCY,
        wait_seconds: float = ESTIMATE_WAIT_SECONDS,
    ) -> None:
        self._stats = stats
        self._durations = durations
        self._concurrency = concurrency
        self._wait = wait_seconds

    async def _active(self, queue_name: str) -> int:
        return (await self._stats.counts(queue_name)).active

    @asynccontextmanager
    async def begin(self, queue_name: str, job_name: str) -> AsyncIterator[PendingEstimate]:
        """Start both reads; on leaving, whatever still runs is cancelled."""
        pending = PendingEstimate(
            asyncio.ensure_future(self._active(queue_name)),
            asyncio.ensure_future(self._durations.get(job_name)),
            self._concurrency,
            self._wait,
        )
        try:
            yield pending
        finally:
            pending.close()
