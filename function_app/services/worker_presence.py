"""This worker instance's heartbeat (`domain.queue_overview`: how beats are read).

`PresenceReporter.running(job)` wraps one run: the job joins the instance's running set and
a beat is due. One writer task per instance writes the beats, in order: at once when the
set changed, else every `heartbeat_seconds` while any job runs, and a last one when the set
empties (then the task ends; the next job starts another). Writes are off the job's path
and best effort: a store that fails costs a beat (logged), never a job.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from function_app.domain.feed import owner_key
from function_app.domain.jobs import Job
from function_app.domain.queue_overview import RunningJob, WorkerBeat
from function_app.ports import Clock, WorkerPresence

logger = logging.getLogger(__name__)


class PresenceReporter:
    def __init__(
        self,
        presence: WorkerPresence,
        worker_id: str,
        clock: Clock,
        heartbeat_seconds: float,
    ) -> None:
        self._presence = presence
        self.worker_id = worker_id
        self._clock = clock
        self._heartbeat_seconds = heartbeat_seconds
        self._started_at = clock.now()
        self._running: dict[str, RunningJob] = {}
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def running(self, job: Job) -> AsyncIterator[None]:
        """While the block runs, `job` is among this instance's running jobs."""
        self._running[job.job_id] = RunningJob(job.job_id, owner_key(job.owner), job.queue_name)
        self._changed()
        try:
            yield
        finally:
            self._running.pop(job.job_id, None)
            self._changed()

    def beat(self) -> WorkerBeat:
        """The beat as of now."""
        return WorkerBeat(
            self.worker_id, self._started_at, self._clock.now(), tuple(self._running.values())
        )

    async def settled(self) -> None:
        """Wait until the writer task has written its last beat (tests, shutdown)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def _changed(self) -> None:
        self._due.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write(), name="heartbeat")

    async def _write(self) -> None:
        while True:
            self._due.clear()
            try:
                await self._presence.beat(self.beat())
            except Exception as exc:
                logger.warning("worker %s heartbeat not written: %r", self.worker_id, exc)
            if not self._running and not self._due.is_set():
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self._heartbeat_seconds)
