"""Subscriptions: one poller per key, started by its first viewer, cancelled by its last."""

import asyncio
from dataclasses import dataclass, field

from function_app.services.streaming.pollers import Subscriptions


@dataclass(eq=False)
class Watcher:
    connection_id: str


@dataclass(eq=False)
class Poller:
    key: str
    viewers: set[Watcher] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    polls: int = 0


async def test_viewers_of_one_key_share_one_poller_and_the_last_to_leave_cancels_it() -> None:
    subscriptions: Subscriptions[Watcher, Poller] = Subscriptions()
    started: list[str] = []

    async def poll(poller: Poller) -> None:
        started.append(poller.key)
        await asyncio.Event().wait()

    first, second, other = Watcher("c1"), Watcher("c2"), Watcher("c3")
    shared = subscriptions.join("job-a", first, lambda: Poller("job-a"), poll, "poller:a")
    assert subscriptions.join("job-a", second, lambda: Poller("job-a"), poll, "poller:a") is shared
    subscriptions.join("job-b", other, lambda: Poller("job-b"), poll, "poller:b")
    await asyncio.sleep(0)
    assert started == ["job-a", "job-b"]
    assert (subscriptions.connections, subscriptions.pollers) == (3, 2)
    assert set(subscriptions.viewers()) == {first, second, other}

    subscriptions.leave("job-a", first)
    assert shared.task is not None
    assert not shared.task.cancelling()
    assert subscriptions.poller("job-a") is shared
    subscriptions.leave("job-a", second)
    await asyncio.sleep(0)
    assert shared.task.cancelled()
    assert subscriptions.poller("job-a") is None
    assert (subscriptions.connections, subscriptions.pollers) == (1, 1)
    subscriptions.leave("job-a", second)  # leaving twice changes nothing
    assert (subscriptions.connections, subscriptions.pollers) == (1, 1)
    subscriptions.leave("job-b", other)
