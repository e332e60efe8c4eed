"""What every open stream waits on: its `Wakeup`, and `wait_for_wakeup` on the real clock
(timer handles, no task per waiting viewer) and on an injected one."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from function_app.services.streaming.waiting import Wakeup, wait_for_wakeup
from tests.fakes import VirtualClock


async def test_a_wakeup_set_before_the_wait_returns_at_once() -> None:
    wakeup = Wakeup()
    wakeup.set()
    await asyncio.wait_for(wakeup.wait(), timeout=5)
    assert wakeup.is_set()
    wakeup.clear()
    assert not wakeup.is_set()


async def test_a_wakeup_set_while_waiting_wakes_the_waiter() -> None:
    wakeup = Wakeup()
    waiter = asyncio.create_task(wakeup.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    wakeup.set()
    await asyncio.wait_for(waiter, timeout=5)


async def test_with_the_real_clock_a_waiting_viewer_holds_no_task_beside_its_own() -> None:
    wakeup = Wakeup()
    before = len(asyncio.all_tasks())
    waiter = asyncio.create_task(wait_for_wakeup(wakeup, 60.0, asyncio.sleep))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before + 1  # the waiter alone: its timer is a handle
    wakeup.set()
    await asyncio.wait_for(waiter, timeout=5)


async def test_with_the_real_clock_the_interval_ending_wakes_the_viewer() -> None:
    wakeup = Wakeup()
    await asyncio.wait_for(wait_for_wakeup(wakeup, 0.01, asyncio.sleep), timeout=5)
    assert wakeup.is_set()


async def test_a_timer_cancelled_by_an_early_wakeup_never_sets_a_later_one() -> None:
    wakeup = Wakeup()
    waiter = asyncio.create_task(wait_for_wakeup(wakeup, 0.02, asyncio.sleep))
    await asyncio.sleep(0)
    wakeup.set()
    await waiter
    wakeup.clear()
    await asyncio.sleep(0.05)  # past the first interval: its timer was cancelled
    assert not wakeup.is_set()


async def test_an_injected_clock_still_measures_the_interval() -> None:
    clock = VirtualClock()
    wakeup = Wakeup()
    start = clock.monotonic()
    await asyncio.wait_for(wait_for_wakeup(wakeup, 15.0, clock.sleep), timeout=5)
    assert clock.monotonic() - start == 15.0


async def test_with_the_real_clock_a_waiting_viewer_is_one_coroutine_deep() -> None:
    # Every idle stream waits here: with the real clock the wait is `Wakeup.wait` itself
    # (its timer handle given to it), not a coroutine around it.
    wakeup = Wakeup()
    waiting = wait_for_wakeup(wakeup, 60, asyncio.sleep)
    assert getattr(waiting, "cr_code", None) is Wakeup.wait.__code__
    task = asyncio.ensure_future(waiting)
    await asyncio.sleep(0)
    wakeup.set()
    await asyncio.wait_for(task, timeout=5)
    timers = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    assert not [t for t in timers if not t.cancelled() and t._callback == wakeup.set]


def armed(wakeup: Wakeup) -> list[asyncio.TimerHandle]:
    """The loop's live timers that would set `wakeup`."""
    timers = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    return [
        t for t in timers if not t.cancelled() and getattr(t._callback, "__self__", None) is wakeup
    ]


async def woken_early(wakeup: Wakeup, seconds: float) -> None:
    """A `wait_at_most(seconds)` that an event ends at once, as a viewer's wait does."""
    task = asyncio.ensure_future(wakeup.wait_at_most(seconds))
    await asyncio.sleep(0)
    wakeup.set()
    await asyncio.wait_for(task, timeout=5)
    wakeup.clear()


async def test_a_viewer_woken_by_every_event_arms_one_timer_not_one_per_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    arming = loop.call_at
    calls: list[float] = []

    def counted(
        when: float, callback: Callable[..., object], *args: object, **kw: Any
    ) -> asyncio.TimerHandle:
        if getattr(callback, "__self__", None) is wakeup:
            calls.append(when)
        return arming(when, callback, *args, **kw)

    wakeup = Wakeup()
    monkeypatch.setattr(loop, "call_at", counted)
    for _ in range(100):  # 100 events, each followed by a wait for the next heartbeat
        await woken_early(wakeup, 15.0)
    assert len(calls) == 1
    assert len(armed(wakeup)) == 1
    wakeup.disarm()
    assert armed(wakeup) == []


async def test_a_sooner_moment_replaces_the_armed_timer() -> None:
    wakeup = Wakeup()
    await woken_early(wakeup, 60.0)
    await asyncio.wait_for(wakeup.wait_at_most(0.01), timeout=5)  # rings by itself
    assert wakeup.is_set()
    assert armed(wakeup) == []


async def test_an_armed_timer_earlier_than_needed_is_a_spurious_wakeup_once() -> None:
    # The caller looks at its clock after every wake-up: ringing early is allowed, and
    # then the next wait arms a timer of its own.
    wakeup = Wakeup()
    await woken_early(wakeup, 0.01)
    await asyncio.wait_for(wakeup.wait_at_most(60.0), timeout=5)
    wakeup.clear()
    waiting = asyncio.ensure_future(wakeup.wait_at_most(60.0))
    await asyncio.sleep(0.03)
    assert not waiting.done()
    wakeup.set()
    await waiting
    wakeup.disarm()


async def test_disarmed_the_timer_never_sets_the_wakeup() -> None:
    wakeup = Wakeup()
    await woken_early(wakeup, 0.02)
    wakeup.disarm()
    await asyncio.sleep(0.05)  # past the moment the timer was armed for
    assert not wakeup.is_set()
