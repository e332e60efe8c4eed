"""The local host's timer triggers: schedules from settings, runs on time, no overlap (as in
Azure, an occurrence missed while a run overran is skipped, not run late)."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from devstack.host.servicebus_trigger import TriggerConfigError
from devstack.host.timer_trigger import (
    TimerTrigger,
    TimerTriggerRunner,
    next_run,
    timer_triggers,
)


def app_with_timer(schedule: str) -> list[func.Function]:
    app = func.FunctionApp()

    @app.timer_trigger(schedule=schedule, arg_name="timer", run_on_startup=False)
    async def tick(timer: func.TimerRequest) -> None:
        return None

    return app.get_functions()


def test_the_schedule_comes_from_its_setting() -> None:
    [trigger] = timer_triggers(app_with_timer("%EVERY%"), {"EVERY": "*/5 * * * * *"})
    assert (trigger.function_name, trigger.schedule, trigger.arg_name) == (
        "tick",
        "*/5 * * * * *",
        "timer",
    )


@pytest.mark.parametrize("schedule", ["* * * * *", "every minute", "61 * * * * *"])
def test_a_schedule_that_is_not_ncrontab_is_refused(schedule: str) -> None:
    with pytest.raises(TriggerConfigError):
        timer_triggers(app_with_timer("%S%"), {"S": schedule})


def test_a_missing_setting_is_refused() -> None:
    with pytest.raises(TriggerConfigError):
        timer_triggers(app_with_timer("%NOPE%"), {})


def test_ncrontab_has_seconds_first() -> None:
    start = datetime(2026, 12, 7, 12, 0, 5, tzinfo=UTC)
    assert next_run("0 * * * * *", start) == datetime(2026, 12, 7, 12, 1, tzinfo=UTC)
    assert next_run("*/10 * * * * *", start) == datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)


async def test_runs_follow_the_schedule_and_never_overlap() -> None:
    running = 0
    most = 0
    calls: list[Any] = []

    async def slow(timer: func.TimerRequest) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        calls.append(timer)
        await asyncio.sleep(1.2)  # longer than the interval
        running -= 1

    runner = TimerTriggerRunner(TimerTrigger("slow", "timer", "* * * * * *", False, slow))
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(3.5)
    runner.stop()
    await asyncio.wait_for(task, 3)
    assert 2 <= len(calls) <= 3
    assert most == 1
    assert not any(c.past_due for c in calls)  # occurrences an overrun missed are skipped


async def test_a_failing_run_does_not_stop_the_schedule() -> None:
    calls = 0

    def fails(timer: func.TimerRequest) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    runner = TimerTriggerRunner(TimerTrigger("fails", "timer", "* * * * * *", True, fails))
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(2.3)
    runner.stop()
    await asyncio.wait_for(task, 3)
    assert calls >= 3  # on start-up, then every second
