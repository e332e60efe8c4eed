"""Clock contracts. The wall clock (`Clock`: SystemClock, FixedClock, VirtualClock) is UTC and
never goes back. The monotonic clock with its sleep (what the stream hub measures intervals
with: time.monotonic with asyncio.sleep, or VirtualClock) lets a sleep end only once its time
has passed, wakes concurrent sleepers in deadline order, and forgets a cancelled sleep.

Real time is only bounded from below here; VirtualClock's exactness is pinned at the end."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.fakes import FixedClock, VirtualClock

from .conftest import TimerUnderTest


async def test_now_is_timezone_aware_utc_and_never_goes_back(clock_under_test: Any) -> None:
    first = clock_under_test.now()
    assert first.utcoffset() == timedelta(0)
    later = [clock_under_test.now() for _ in range(100)]
    assert all(a <= b for a, b in zip([first, *later], later, strict=False))


async def test_a_sleep_ends_once_its_time_has_passed(timer_under_test: TimerUnderTest) -> None:
    start = timer_under_test.monotonic()
    await timer_under_test.sleep(0.05)
    assert timer_under_test.monotonic() - start >= 0.05
    await timer_under_test.sleep(0)
    await timer_under_test.sleep(-1)  # as asyncio.sleep: returns at once
    assert timer_under_test.monotonic() - start >= 0.05


async def test_concurrent_sleepers_wake_in_deadline_order(
    timer_under_test: TimerUnderTest,
) -> None:
    woke: list[float] = []

    async def nap(seconds: float) -> None:
        await timer_under_test.sleep(seconds)
        woke.append(seconds)

    await asyncio.gather(*(nap(s) for s in (0.03, 0.01, 0.02)))
    assert woke == [0.01, 0.02, 0.03]


async def test_a_cancelled_sleep_raises_cancelled_and_others_sleep_on(
    timer_under_test: TimerUnderTest,
) -> None:
    long = asyncio.ensure_future(timer_under_test.sleep(3600))
    await asyncio.sleep(0)
    long.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long
    start = timer_under_test.monotonic()
    await timer_under_test.sleep(0.01)
    assert timer_under_test.monotonic() - start >= 0.01


# --- the fakes' own promises (what makes tests on them exact) ------------------------------


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock()
    at = clock.now()
    assert clock.now() == at
    clock.advance(1.5)
    assert clock.now() - at == timedelta(seconds=1.5)


async def test_virtual_sleeps_take_exactly_what_they_ask_and_no_real_time() -> None:
    clock = VirtualClock()
    loop = asyncio.get_running_loop()
    real_start = loop.time()
    await clock.sleep(3600)
    assert clock.monotonic() == 3600
    assert clock.now() == clock.start + timedelta(hours=1)
    await asyncio.gather(clock.sleep(1), clock.sleep(2))
    assert clock.monotonic() == 3602
    assert loop.time() - real_start < 3600  # an hour of virtual time was not waited for


async def test_virtual_time_never_jumps_to_a_cancelled_sleep() -> None:
    clock = VirtualClock()
    long = asyncio.ensure_future(clock.sleep(3600))
    await asyncio.sleep(0)
    long.cancel()
    await clock.sleep(1)
    assert clock.monotonic() == 1


async def test_virtual_time_waits_while_other_work_can_run() -> None:
    clock = VirtualClock()
    steps: list[tuple[int, float]] = []

    async def busy() -> None:
        for step in range(50):
            steps.append((step, clock.monotonic()))
            await asyncio.sleep(0)

    await asyncio.gather(clock.sleep(10), busy())
    assert all(at == 0 for _, at in steps)
    assert clock.monotonic() == 10
