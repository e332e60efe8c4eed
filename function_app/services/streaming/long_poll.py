"""What a long poll (`StreamHub.poll`) does as a viewer of its job's feed: whether the job
need be read at all, waiting for the events after its position, and the one event before
them it may need for context.
"""

from collections.abc import Awaitable, Callable

from function_app.domain.identity import Caller
from function_app.domain.jobs import JobEvent
from function_app.ports import EventLog
from function_app.services.streaming.feed import JobFeed, Viewer
from function_app.services.streaming.pollers import LogQueries, Polling
from function_app.services.streaming.waiting import wait_for_wakeup


def watched_owner(feed: JobFeed | None, caller: Caller, job_id: str, after: int) -> str | None:
    """The job's owner when this instance's `feed` follows it, the caller may read it and
    `after` is within what the feed has: then the job need not be read again (a running job's
    owner and visibility do not change; a one-job stream token reads its job for as long as
    it runs, `JobTokenWindow`). None otherwise: the log read decides, and answers as for any
    other job."""
    if feed is None or feed.finished or not feed.owner or after > feed.cursor:
        return None
    return feed.owner if caller.may_read(job_id, feed.owner) else None


async def next_events(
    viewer: Viewer,
    feed: JobFeed,
    polling: Polling,
    wait: float,
    known: int | None,
    reread: Callable[[Viewer], Awaitable[list[JobEvent]]],
) -> list[JobEvent]:
    """The events after the viewer's position, waiting up to `wait` s for one. `known`: the
    job's last sequence as read, so events already stored are read (`reread`) at once rather
    than after the feed's next poll; None (not read): the log is read only when there is no
    time to wait for that poll."""
    expires = polling.monotonic() + wait
    first = True
    while True:
        viewer.wakeup.clear()  # before looking, so a notify in between is not lost
        batch = feed.take(viewer)
        behind = wait <= 0 if known is None else known > viewer.position
        if batch is None or (first and not batch and behind):
            batch = await reread(viewer)
        first = False
        fresh = [e for e in batch if e.sequence > viewer.position]
        if fresh:
            return fresh
        if feed.finished and viewer.position >= feed.cursor:
            return []  # the job ended while we were looking
        left = expires - polling.monotonic()
        if left <= 0:
            return []
        await wait_for_wakeup(viewer.wakeup, left, polling.sleep)


async def event_at(
    feed: JobFeed, log: EventLog, queries: LogQueries, sequence: int
) -> JobEvent | None:
    """One event of the feed's job by its sequence: from the feed's ring, else from the log."""
    for event in feed.ring:
        if event.sequence == sequence:
            return event
    queries.rereads += 1
    found = await log.events_after(feed.job_id, sequence - 1, limit=1)
    return found[0] if found and found[0].sequence == sequence else None
