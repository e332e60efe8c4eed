"""Subscriptions: one poller per key, started by its first viewer, cancelled by its last."""

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest

from function_app.services.streaming.pollers import Subscriptions


@dataclass(eq=False)
class Watcher:
    connection_id: str


@dataclass(eq=False)
class Poller:
    key: str
    viewers: set[Watcher] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


async def forever(poller: Poller) -> None:
    await asyncio.Event().wait()


async def test_viewers_of_one_key_share_one_poller_and_the_last_to_leave_cancels_it() -> None:
    subscriptions: Subscriptions[Watcher, Poller] = Subscriptions()
    started: list[str] = []

    async def poll(poller: Poller) -> None:
        started.append(poller.key)
        await forever(poller)

    first, second, other = Watcher("c1"), Watcher("c2"), Watcher("c3")
    with ExitStack() as first_leaves, ExitStack() as second_leaves:
        shared = first_leaves.enter_context(
            subscriptions.watching("job-a", first, lambda: Poller("job-a"), poll, "poller:a")
        )
        again = second_leaves.enter_context(
            subscriptions.watching("job-a", second, lambda: Poller("job-a"), poll, "poller:a")
        )
        assert again is shared
        with subscriptions.watching("job-b", other, lambda: Poller("job-b"), poll, "poller:b"):
            await asyncio.sleep(0)
            assert started == ["job-a", "job-b"]
            assert (subscriptions.connections, subscriptions.pollers) == (3, 2)
            assert set(subscriptions.viewers()) == {first, second, other}
        first_leaves.close()
        assert shared.task is not None
        await asyncio.sleep(0)
        assert not shared.task.done()
        assert subscriptions.poller("job-a") is shared
        second_leaves.close()
        await asyncio.sleep(0)
        assert shared.task.cancelled()
        assert subscriptions.poller("job-a") is None
        assert (subscriptions.connections, subscriptions.pollers) == (0, 0)


async def test_a_viewer_leaves_when_its_block_ends_by_an_error() -> None:
    subscriptions: Subscriptions[Watcher, Poller] = Subscriptions()
    watcher = Watcher("c1")
    seen: list[Poller] = []

    def view() -> None:
        with subscriptions.watching("a", watcher, lambda: Poller("a"), forever, "p") as shared:
            seen.append(shared)
            raise RuntimeError("the viewer went away")

    with pytest.raises(RuntimeError):
        view()
    [shared] = seen
    await asyncio.sleep(0)
    assert (subscriptions.connections, subscriptions.pollers) == (0, 0)
    assert shared.task is not None
    assert shared.task.cancelled()


async def test_join_and_leave_do_what_the_with_block_does_without_a_context_manager() -> None:
    subscriptions: Subscriptions[Watcher, Poller] = Subscriptions()
    first, second = Watcher("c1"), Watcher("c2")
    shared = subscriptions.join("job-a", first, lambda: Poller("job-a"), forever, "poller:a")
    again = subscriptions.join("job-a", second, lambda: Poller("other"), forever, "poller:a")
    assert again is shared
    assert (subscriptions.pollers, subscriptions.connections) == (1, 2)
    task = shared.task
    assert task is not None
    subscriptions.leave("job-a", first)
    assert not task.cancelled()
    assert subscriptions.poller("job-a") is shared
    subscriptions.leave("job-a", second)
    assert (subscriptions.pollers, subscriptions.connections) == (0, 0)
    await asyncio.sleep(0)
    assert task.cancelled()
