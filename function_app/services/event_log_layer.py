"""A layer over the app's `EventLog` that adds something to some of its calls.

`EventLogLayer` answers every `EventLog` call from the log beneath it, unchanged; a layer
overrides only the calls it adds to: `FeedingEventLog` copies what `create` and `append`
record into the owner's feed (`services.caller_feed`), `TracedEventLog` opens a span
around each write (`services.traced_log`), `NudgingEventLog` (here) tells this instance's
stream pollers a job's log changed. `bootstrap.wire_services` stacks them.
"""

from collections.abc import Callable

from function_app.domain.jobs import EventDraft, Job, JobEvent
from function_app.ports import EventLog


class EventLogLayer:
    """An `EventLog` that passes every call to `log`; subclasses add to the ones they override."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        return await self._log.create(job, first)

    async def get(self, job_id: str) -> Job | None:
        return await self._log.get(job_id)

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        return await self._log.append(job_id, decide)

    async def request_cancel(self, job_id: str) -> Job:
        return await self._log.request_cancel(job_id)

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        return await self._log.events_after(job_id, after, limit)


class NudgingEventLog(EventLogLayer):
    """Calls `nudge(job_id)` after each `append` that stored an event of the job: the stream
    hub's poller of that job, if this instance has one, reads at once (`StreamHub.nudge`).
    Reads, the cancel flag (no event) and an append that stored nothing nudge no one."""

    def __init__(self, log: EventLog, nudge: Callable[[str], None]) -> None:
        super().__init__(log)
        self._nudge = nudge

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        job, event = await self._log.append(job_id, decide)
        if event is not None:
            self._nudge(job_id)
        return job, event
