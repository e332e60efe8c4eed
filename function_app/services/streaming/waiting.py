"""Waiting for whichever comes first: a viewer's wakeup, or the end of an interval."""

import asyncio
from collections.abc import Awaitable, Callable


async def wait_for_wakeup(
    wakeup: asyncio.Event, seconds: float, sleep: Callable[[float], Awaitable[None]]
) -> None:
    """Until `wakeup` is set or `seconds` pass (measured by `sleep`), whichever is first."""
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
