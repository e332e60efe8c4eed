"""Per-caller limits (docs/limits.md): open streams, presigns and enqueues per minute, and
running jobs. Over a limit the caller gets `Throttled` (429 `throttled`, `Retry-After`).

A caller is an owner: a stream or feed token counts as its owner. Requests a stream token
may not make at all (presign, enqueue) are not counted: their service refuses them (401).

Where each limit holds:
- streams and the two rate windows are counted in this process (`domain.limits`): exact
  per instance, and N instances allow N times as much;
- running jobs are counted from stored state, the owner's unfinished jobs in their feed
  (`CallerFeed.unfinished`: one query), plus this instance's enqueues in flight that
  arrived first. That holds across instances, up to the enqueues racing on other
  instances at the same moment.
"""

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from function_app.domain.errors import Throttled
from function_app.domain.identity import Caller
from function_app.domain.limits import (
    RateWindow,
    Refusal,
    Reservations,
    Slots,
    running_refusal,
)
from function_app.ports import CallerFeed

logger = logging.getLogger(__name__)

# A stream's slot lapses this long after its maximum age, should its holder never give it
# back (the stream itself has ended by then: the hub closes it at its maximum age).
STREAM_SLOT_GRACE_SECONDS = 15.0
# When a caller is at the running-jobs limit: look again after this long. When a job ends
# cannot be known beforehand; this is a polling interval, not a promise.
RUNNING_RETRY_AFTER_SECONDS = 5
# At the running-jobs limit, the owner's unfinished marks are checked against the jobs'
# logs (a writer that died between its two writes leaves a mark behind), at most this
# often per owner and instance.
REPAIR_EVERY_SECONDS = 30.0
WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class LimitPolicy:
    """Each maximum is its app setting's value; 0 turns that limit off."""

    streams_per_caller: int = 100
    enqueues_per_minute: int = 120
    presigns_per_minute: int = 240
    running_jobs_per_caller: int = 50
    stream_max_age_seconds: float = 600.0


class StreamSlot:
    """One open stream's place in its caller's count; `release` gives it back (once)."""

    def __init__(self, slots: Slots, owner: str, slot: int) -> None:
        self._slots = slots
        self._owner = owner
        self._slot = slot
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots.give_back(self._owner, self._slot)


def throttled(refusal: Refusal, what: str) -> Throttled:
    return Throttled(
        f"too many {what}: at most {refusal.maximum}; try again in {refusal.retry_after} s",
        retry_after=refusal.retry_after,
        details=[
            {
                "limit": refusal.name,
                "maximum": refusal.maximum,
                "retryAfterSeconds": refusal.retry_after,
            }
        ],
    )


class CallerLimits:
    def __init__(
        self,
        policy: LimitPolicy,
        feed: CallerFeed,
        repair: Callable[[str], Awaitable[int]],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`feed` counts an owner's unfinished jobs; `repair(owner)` brings marks a crashed
        writer left behind up to date (`FeedWriter.repair`); `monotonic` is the clock of
        every window and slot (seconds)."""
        self.policy = policy
        self._feed = feed
        self._repair = repair
        self._monotonic = monotonic
        self._presigns = RateWindow("LIMIT_PRESIGNS_PER_MINUTE", policy.presigns_per_minute)
        self._enqueues = RateWindow("LIMIT_ENQUEUES_PER_MINUTE", policy.enqueues_per_minute)
        self._streams = Slots(
            "LIMIT_STREAMS_PER_CALLER",
            policy.streams_per_caller,
            policy.stream_max_age_seconds + STREAM_SLOT_GRACE_SECONDS,
        )
        self._enqueuing = Reservations()
        self._repaired_at: dict[str, float] = {}

    def presign(self, caller: Caller) -> None:
        """Count a presign, or raise Throttled."""
        if caller.may_write:
            self._take(self._presigns, caller.owner, "upload URLs per minute")

    def enqueue(self, caller: Caller) -> None:
        """Count an enqueue request, or raise Throttled."""
        if caller.may_write:
            self._take(self._enqueues, caller.owner, "enqueues per minute")

    def stream(self, caller: Caller) -> StreamSlot:
        """A slot for one more open stream (a job's or the feed), or raise Throttled. Give it
        back with `release()` when the stream ends."""
        taken = self._streams.take(caller.owner, self._monotonic())
        if isinstance(taken, Refusal):
            raise throttled(taken, "open streams")
        return StreamSlot(self._streams, caller.owner, taken)

    def open_streams(self, owner: str) -> int:
        return self._streams.held(owner, self._monotonic())

    @asynccontextmanager
    async def running_job(self, owner: str, job_id: str) -> AsyncIterator[None]:
        """Hold a place for `owner`'s new job `job_id` while it is recorded, or raise
        Throttled when the owner has as many unfinished jobs as allowed."""
        maximum = self.policy.running_jobs_per_caller
        if maximum <= 0:
            yield
            return
        ticket = self._enqueuing.open(owner, job_id)
        try:
            refusal = await self._running_refusal(owner, ticket)
            if refusal is not None and await self._repaired(owner):
                refusal = await self._running_refusal(owner, ticket)
            if refusal is not None:
                raise throttled(refusal, "running jobs")
            yield
        finally:
            self._enqueuing.close(owner, ticket)

    async def _running_refusal(self, owner: str, ticket: int) -> Refusal | None:
        stored = {mark.job_id for mark in await self._feed.unfinished(owner)}
        return running_refusal(
            "LIMIT_RUNNING_JOBS_PER_CALLER",
            self.policy.running_jobs_per_caller,
            stored,
            self._enqueuing.ahead(owner, ticket),
            RUNNING_RETRY_AFTER_SECONDS,
        )

    async def _repaired(self, owner: str) -> bool:
        """Repair the owner's marks (at most every REPAIR_EVERY_SECONDS): whether any was."""
        now = self._monotonic()
        last = self._repaired_at.get(owner)
        if last is not None and now - last < REPAIR_EVERY_SECONDS:
            return False
        self._repaired_at[owner] = now
        if len(self._repaired_at) > 4096:  # forget the oldest owners
            for key in sorted(self._repaired_at, key=self._repaired_at.__getitem__)[:1024]:
                del self._repaired_at[key]
        try:
            return await self._repair(owner) > 0
        except Exception as exc:  # the count stands as read
            logger.warning("running-jobs limit: feed repair failed: %r", exc)
            return False

    def _take(self, window: RateWindow, owner: str, what: str) -> None:
        refusal = window.take(owner, self._monotonic())
        if refusal is not None:
            raise throttled(refusal, what)
