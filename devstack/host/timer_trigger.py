"""Timer triggers for the local host: each timer function runs on its NCRONTAB schedule.

As in Azure: the schedule may be a `%SETTING%` expression; NCRONTAB has six fields, seconds
first (`0 * * * * *`: every minute); runs never overlap (occurrences missed while a run
overran are skipped; a run that starts late anyway is `past_due`); `run_on_startup` runs it
once at start. An exception is logged and the schedule goes on. Schedules follow UTC.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest
from croniter import croniter

from devstack.host.loader import IndexedFunction
from devstack.host.servicebus_trigger import TriggerConfigError, resolve_setting_expressions

log = logging.getLogger("devstack.host.timer")

# A run that starts this much after its scheduled time is `past_due` (the loop was busy).
PAST_DUE_SECONDS = 1.0


@dataclass(frozen=True)
class TimerTrigger:
    function_name: str
    arg_name: str
    schedule: str
    run_on_startup: bool
    user_function: Callable[..., Any]


def timer_triggers(
    functions: Sequence[IndexedFunction], environ: Mapping[str, str]
) -> list[TimerTrigger]:
    found = []
    for function in functions:
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "timerTrigger":
            continue
        spec = trigger.get_dict_repr()
        name = str(function.get_function_name())
        schedule = resolve_setting_expressions(str(spec["schedule"]), environ)
        if len(schedule.split()) != 6 or not croniter.is_valid(schedule, second_at_beginning=True):
            raise TriggerConfigError(
                f"{name}: schedule {schedule!r} is not an NCRONTAB expression "
                "(six fields, seconds first, e.g. '0 */5 * * * *')"
            )
        found.append(
            TimerTrigger(
                function_name=name,
                arg_name=str(spec["name"]),
                schedule=schedule,
                run_on_startup=bool(spec.get("runOnStartup", False)),
                user_function=function.get_user_function(),
            )
        )
    return found


def next_run(schedule: str, after: datetime) -> datetime:
    return croniter(schedule, after, second_at_beginning=True).get_next(datetime)


# Runs the timer function once (`past_due` as given); an exception means it failed.
TimerInvoker = Callable[[TimerTrigger, bool], Awaitable[None]]


async def invoke_here(trigger: TimerTrigger, past_due: bool) -> None:
    """In this process: the function gets a `TimerRequest` built here."""
    result = trigger.user_function(**{trigger.arg_name: TimerRequest(past_due=past_due)})
    if asyncio.iscoroutine(result):
        await result


class TimerTriggerRunner:
    def __init__(
        self,
        trigger: TimerTrigger,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        invoke: TimerInvoker = invoke_here,
    ) -> None:
        self.trigger = trigger
        self._run = invoke
        self._clock = clock
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        if self.trigger.run_on_startup:
            await self._invoke(past_due=False)
        due = next_run(self.trigger.schedule, self._clock())
        while not self._stopping.is_set():
            wait = (due - self._clock()).total_seconds()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._stopping.wait(), wait)
                    return
                except TimeoutError:
                    pass
            late = (self._clock() - due) > timedelta(seconds=PAST_DUE_SECONDS)
            await self._invoke(past_due=late)
            due = next_run(self.trigger.schedule, max(due, self._clock()))

    async def _invoke(self, *, past_due: bool) -> None:
        name = self.trigger.function_name
        try:
            await self._run(self.trigger, past_due)
        except Exception:
            log.exception("timer function %s failed", name)
