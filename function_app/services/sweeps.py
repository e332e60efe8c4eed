"""What both sweepers share: visiting each listed item, a bounded number at once, and the
report of what the visits did, which the timers log as one line.

A sweeper names what a visit may do in an enum of actions and words the ones worth counting
once (`Wording`); `sweep_each` visits the items and counts how many visits ended in each of
those, and how many failed (logged, and left for the next sweep).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wording[A]:
    """How a sweep's summary names the items it listed, and each counted action, in order."""

    listed: str
    actions: Mapping[A, str]


@dataclass(frozen=True)
class SweepReport[A]:
    """`seen` items listed; `done`: for each worded action, how many visits ended in it;
    `failed` visits raised (each logged)."""

    seen: int
    done: Mapping[A, int]
    failed: int
    wording: Wording[A] = field(compare=False, repr=False)

    def count(self, action: A) -> int:
        return self.done.get(action, 0)

    def summary(self) -> str:
        counted = [f"{self.count(a)} {words}" for a, words in self.wording.actions.items()]
        return ", ".join([f"{self.seen} {self.wording.listed}", *counted, f"{self.failed} failed"])


async def sweep_each[T, A](
    items: Sequence[T],
    visit: Callable[[T], Awaitable[A]],
    *,
    at_once: int,
    name: Callable[[T], str],
    wording: Wording[A],
) -> SweepReport[A]:
    """Visit every item (`visit_each`) and report what the visits did."""
    actions = await visit_each(items, visit, at_once=at_once, name=name)
    done = {action: actions.count(action) for action in wording.actions}
    return SweepReport(len(items), done, actions.count(None), wording)


async def visit_each[T, A](
    items: Sequence[T],
    visit: Callable[[T], Awaitable[A]],
    *,
    at_once: int,
    name: Callable[[T], str],
) -> list[A | None]:
    """What `visit` answered for each item, at most `at_once` visits at a time. A visit that
    fails is logged (as `name(item)`) and answers None; the others go on: a sweep leaves
    what it could not do for the next one."""
    gate = asyncio.Semaphore(at_once)

    async def one(item: T) -> A | None:
        async with gate:
            try:
                return await visit(item)
            except Exception as exc:
                logger.warning("%s failed: %r", name(item), exc)
                return None

    return await asyncio.gather(*(one(item) for item in items))
