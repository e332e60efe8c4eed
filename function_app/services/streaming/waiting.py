"""Waiting for whichever comes first: a viewer's wakeup, or the end of an interval; and the
moments one viewer waits for (`Deadlines`).

Every open stream waits here, so it is kept small: a `Wakeup` is two slots (an
`asyncio.Event` carries a deque of waiters, ~750 bytes), and with the real clock the interval
is a timer handle on the loop (`call_later`), not a task sleeping beside the viewer.
"""

import asyncio
from collections.abc import Awaitable, Callable

from function_app.services.streaming.pollers import Polling


class Wakeup:
    """A flag one waiter (its viewer) awaits: `asyncio.Event`'s `set/clear/is_set/wait` for a
    single waiter, without the Event's waiter deque."""

    __slots__ = ("_flag", "_waiter")

    def __init__(self) -> None:
        self._flag = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._flag = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    async def wait(self, timer: asyncio.TimerHandle | None = None) -> None:
        """Until set; `timer` (one that sets this wakeup) is cancelled when the wait ends."""
        try:
            if self._flag:
                return
            if self._waiter is not None:
                raise RuntimeError("a Wakeup has one waiter")
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        finally:
            if timer is not None:
                timer.cancel()


def wait_for_wakeup(
    wakeup: Wakeup, seconds: float, sleep: Callable[[float], Awaitable[None]]
) -> Awaitable[None]:
    """Until `wakeup` is set or `seconds` pass (measured by `sleep`), whichever is first.

    With the real clock this is `wakeup.wait` itself with a timer handle (cancelled, never
    run, if the viewer woke first): every idle stream waits here, and one coroutine frame
    fewer is a part of what each holds."""
    if sleep is asyncio.sleep:
        handle = asyncio.get_running_loop().call_later(max(seconds, 0.0), wakeup.set)
        return wakeup.wait(handle)
    return _wait_with_sleep(wakeup, seconds, sleep)


async def _wait_with_sleep(
    wakeup: Wakeup, seconds: float, sleep: Callable[[float], Awaitable[None]]
) -> None:
    """An injected clock (tests' virtual time): a task sleeping beside the viewer."""
    timer = asyncio.ensure_future(sleep(seconds))

    def ran_out(done: asyncio.Future[None]) -> None:
        # The viewer then looks at the time. A cancelled timer (the viewer woke first) must
        # not set a wakeup meant for a later event.
        if not done.cancelled():
            wakeup.set()

    timer.add_done_callback(ran_out)
    try:
        await wakeup.wait()
    finally:
        timer.cancel()


class Deadlines:
    """One viewer's moments on the monotonic clock of `polling`: the end of its stream (max
    age), its next heartbeat (pushed back by whatever it is sent), and its next periodic extra
    (queue statistics, a tick) every `every` seconds from the start (None: never)."""

    __slots__ = (
        "_every",
        "_expires_at",
        "_extra_at",
        "_heartbeat_at",
        "_heartbeat_seconds",
        "_polling",
    )

    def __init__(self, polling: Polling, heartbeat_seconds: float, every: float | None) -> None:
        self._polling = polling
        self._heartbeat_seconds = heartbeat_seconds
        self._every = every
        now = polling.monotonic()
        self._expires_at = now + polling.config.max_age_seconds
        self._heartbeat_at = now + heartbeat_seconds
        self._extra_at = now if every else float("inf")

    def expired(self) -> bool:
        return self._polling.monotonic() >= self._expires_at

    def sent(self) -> None:
        """Something went out: the next heartbeat is a full interval from now."""
        self._heartbeat_at = self._polling.monotonic() + self._heartbeat_seconds

    def extra_due(self, now: float) -> bool:
        """Whether the periodic extra is due at `now`; if so, the next is `every` on."""
        if not self._every or now < self._extra_at:
            return False
        self._extra_at = now + self._every
        return True

    async def heartbeat_or_wait(self, wakeup: Wakeup, now: float) -> bool:
        """True when a heartbeat is due at `now`; otherwise waits until `wakeup` or the first
        of the three moments, and returns False."""
        if now >= self._heartbeat_at:
            return True
        soonest = min(self._expires_at, self._heartbeat_at, self._extra_at)
        await wait_for_wakeup(wakeup, soonest - now, self._polling.sleep)
        return False
