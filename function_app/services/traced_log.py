"""Every write to the event log in a span of its own (`jobstream.event`).

`TracedEventLog` wraps the app's `EventLog` (`bootstrap.wire_services`), so each event a
writer records (the enqueue's `queued`, the worker's `started` ... `completed`, a cancel) is
a span inside the span that wrote it, with the job id, the sequence and the status as
attributes (`jobstream.recorded` false when nothing was: the job had ended). The last event
of a job is the last span of its trace. Reads are not traced (a stream polls them every
second). The event itself records its job's trace id (`domain.jobs.JobEvent.trace_id`),
which is what streams and answers show.
"""

from collections.abc import Callable

from function_app.domain.jobs import EventDraft, Job, JobEvent
from function_app.ports import EventLog, Span, Tracer
from function_app.services.event_log_layer import EventLogLayer

EVENT_SPAN = "jobstream.event"
CANCEL_SPAN = "jobstream.cancel_request"


def _describe(span: Span, job_id: str, event: JobEvent | None) -> None:
    span.set_attribute("jobstream.job_id", job_id)
    span.set_attribute("jobstream.recorded", event is not None)
    if event is not None:
        span.set_attribute("jobstream.event.sequence", event.sequence)
        span.set_attribute("jobstream.event.status", str(event.status))


class TracedEventLog(EventLogLayer):
    """`EventLog` that opens a span around each write of `log`; reads pass through."""

    def __init__(self, log: EventLog, tracer: Tracer) -> None:
        super().__init__(log)
        self.tracer = tracer

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        with self.tracer.span(EVENT_SPAN) as span:
            recorded, event = await self._log.create(job, first)
            _describe(span, job.job_id, event)
            return recorded, event

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        with self.tracer.span(EVENT_SPAN) as span:
            job, event = await self._log.append(job_id, decide)
            _describe(span, job_id, event)
            return job, event

    async def request_cancel(self, job_id: str) -> Job:
        with self.tracer.span(CANCEL_SPAN) as span:
            span.set_attribute("jobstream.job_id", job_id)
            return await self._log.request_cancel(job_id)
