"""Waiting for whichever comes first: a viewer's wakeup, or the end of an interval; and the
moments one viewer waits for (`Deadlines`).

Every open stream waits here, so it is kept small: a `Wakeup` is three slots (an
`asyncio.Event` carries a deque of waiters, ~750 bytes), and with the real clock the interval
is a timer handle on the loop (`call_later`), not a task sleeping beside the viewer.

A stream's viewer waits again after every event it sends, so `Wakeup.wait_at_most` keeps its
timer armed across those waits instead of one `call_later` and one cancel per event and
viewer (a third of the hub's own cost per delivery at 500 viewers of a job, bench in
docs/scaling.md): a timer that rings before the viewer's new deadline is a spurious wake-up,
once per heartbeat interval at most, after which the viewer looks at its clock and waits on.
"""

import asyncio
from collections.abc import Awaitable, Callable

from function_app.services.streaming.pollers import Polling


class Wakeup:
    """A flag one waiter (its viewer) awaits: `asyncio.Event`'s `set/clear/is_set/wait` for a
    single waiter, without the Event's waiter deque."""

    __slots__ = ("_flag", "_timer", "_waiter")

    def __init__(self) -> None:
        self._flag = False
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # armed by `wait_at_most`

    def set(self) -> None:
        self._flag = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def _ring(self) -> None:
        self._timer = None
        self.set()

    def wait_at_most(self, seconds: float) -> Awaitable[None]:
        """Until set, or at the latest `seconds` from now (real clock). The timer stays armed
        when the wait ends early and serves the next wait if it rings no later than that one
        needs: it may then set this wakeup before the waiter's own moment (a spurious wake-up
        the caller must tolerate: it looks at the time and waits again). `disarm` when done."""
        loop = asyncio.get_running_loop()
        at = loop.time() + max(seconds, 0.0)
        timer = self._timer
        if timer is None or timer.when() > at:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(at, self._ring)
        return self.wait()

    def disarm(self) -> None:
        """Cancel the timer `wait_at_most` left armed (the waiter is gone for good)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

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
        of the three moments (or, on the real clock, a spurious wake-up before them: see
        `Wakeup.wait_at_most`; the viewer must `wakeup.disarm()` when it leaves), and returns
        False."""
        if now >= self._heartbeat_at:
            return True
        soonest = min(self._expires_at, self._heartbeat_at, self._extra_at)
        if self._polling.sleep is asyncio.sleep:
            await wakeup.wait_at_most(soonest - now)  # the viewer calls `wakeup.disarm()`
        else:
            await wait_for_wakeup(wakeup, soonest - now, self._polling.sleep)
        return False
