"""Shared pollers and their viewers, as both hubs keep them.

A hub runs one poller per key (the stream hub per job, the feed hub per owner) however many
viewers watch it: `Subscriptions.watching` starts the key's poller for its first viewer, and
the last one to leave its `with` block cancels it. `Polling` is what every poller of a hub
is given: the stream settings, the hub's query counts, and the monotonic clock and sleep
that time it. `PollingHub` is what both hubs are built on: those, the wall clock their
items are stamped with, and their `Subscriptions`.
"""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from function_app.ports import Clock
from function_app.services.streaming.config import StreamConfig


@dataclass
class LogQueries:
    """Event-log queries made since the hub started: by pollers, and by viewers re-reading."""

    polls: int = 0
    rereads: int = 0


@dataclass(frozen=True)
class Polling:
    """What a hub's pollers share. `monotonic` and `sleep` measure and wait out every
    interval (seconds), injectable so tests run on virtual time."""

    config: StreamConfig
    queries: LogQueries
    monotonic: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]


class Connection(Protocol):
    @property
    def connection_id(self) -> str: ...


class Shared[V](Protocol):
    """A poller's state its viewers share (a `JobFeed`, an `OwnerFeed`)."""

    viewers: set[V]
    task: asyncio.Task[None] | None


class Subscriptions[V: Connection, F: Shared[Any]]:
    """The pollers by key and the viewers by connection id, of one hub on this instance."""

    def __init__(self) -> None:
        self._pollers: dict[str, F] = {}
        self._viewers: dict[str, V] = {}

    @contextmanager
    def watching(
        self,
        key: str,
        viewer: V,
        new: Callable[[], F],
        poll: Callable[[F], Coroutine[Any, Any, None]],
        task_name: str,
    ) -> Iterator[F]:
        """`viewer` watches the poller of `key` for the `with` block: the first viewer creates
        it (`new`) and starts its task (`poll`); the last to leave the block cancels it."""
        shared = self._pollers.get(key)
        if shared is None:
            shared = new()
            self._pollers[key] = shared
            shared.task = asyncio.get_running_loop().create_task(poll(shared), name=task_name)
        shared.viewers.add(viewer)
        self._viewers[viewer.connection_id] = viewer
        try:
            yield shared
        finally:
            self._leave(key, viewer)

    def _leave(self, key: str, viewer: V) -> None:
        self._viewers.pop(viewer.connection_id, None)
        shared = self._pollers.get(key)
        if shared is None:
            return
        shared.viewers.discard(viewer)
        if not shared.viewers:
            del self._pollers[key]
            if shared.task is not None:
                shared.task.cancel()

    def poller(self, key: str) -> F | None:
        return self._pollers.get(key)

    def viewers(self) -> Iterable[V]:
        return self._viewers.values()

    @property
    def connections(self) -> int:
        return len(self._viewers)

    @property
    def pollers(self) -> int:
        return len(self._pollers)


class PollingHub[V: Connection, F: Shared[Any]]:
    """The part both hubs share: the wall `clock` items are stamped with, the `Polling` all
    their pollers are given (`config` or the defaults; `monotonic` and `sleep` measure and
    wait out every interval, in seconds), and their pollers and viewers on this instance."""

    def __init__(
        self,
        clock: Clock,
        config: StreamConfig | None,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._clock = clock
        self._polling = Polling(config or StreamConfig(), LogQueries(), monotonic, sleep)
        self._config = self._polling.config
        self._subscriptions: Subscriptions[V, F] = Subscriptions()

    @property
    def config(self) -> StreamConfig:
        return self._config
