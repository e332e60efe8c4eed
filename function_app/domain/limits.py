"""Per-caller limits: the counting rules, on a clock the caller passes in. Pure.

Every time here is a reading of a monotonic clock in seconds (`now`): the rules never read
the time themselves, so tests run them on virtual time. Each rule answers with a
`Refusal` (which limit, its maximum, and in how many whole seconds asking again can
succeed) or takes what was asked for. A maximum of 0 turns a rule off.

- `RateWindow`: at most `maximum` requests per key in any `window` seconds (an exact log
  of each key's recent times). Refused until the oldest time leaves the window.
- `Slots`: at most `maximum` held at once per key. A slot is given back by its holder, and
  lapses by itself at its deadline (a holder that never gives it back, e.g. a stream whose
  response was never sent, cannot keep it). Refused until the earliest deadline, the
  latest moment a slot is certain to be free.
- `Reservations`: the requests of one key in flight, in arrival order, so each one counts
  the jobs of those that arrived before it (`ahead`) beside what is stored.
"""

import itertools
import math
from collections import deque
from dataclasses import dataclass

# How many calls between two sweeps of keys that hold nothing any more.
SWEEP_EVERY = 1024


@dataclass(frozen=True)
class Refusal:
    """Over the limit `name` (its app setting) of `maximum`; try again in `retry_after` s."""

    name: str
    maximum: int
    retry_after: int


def whole_seconds(seconds: float) -> int:
    """A wait as the whole seconds of a `Retry-After` header: rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))


class RateWindow:
    """At most `maximum` requests per key in any `window` seconds."""

    def __init__(self, name: str, maximum: int, window: float = 60.0) -> None:
        self.name = name
        self.maximum = maximum
        self.window = window
        self._times: dict[str, deque[float]] = {}
        self._calls = 0

    def take(self, key: str, now: float) -> Refusal | None:
        """Count one request of `key` at `now`, or refuse it (a refused one is not counted)."""
        if self.maximum <= 0:
            return None
        self._sweep(now)
        times = self._times.setdefault(key, deque())
        self._forget_old(times, now)
        if len(times) >= self.maximum:
            return Refusal(self.name, self.maximum, whole_seconds(times[0] + self.window - now))
        times.append(now)
        return None

    def used(self, key: str, now: float) -> int:
        times = self._times.get(key)
        if times is None:
            return 0
        self._forget_old(times, now)
        return len(times)

    @property
    def keys(self) -> int:
        """How many keys are remembered (for tests of the sweep)."""
        return len(self._times)

    def _forget_old(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def _sweep(self, now: float) -> None:
        self._calls += 1
        if self._calls % SWEEP_EVERY:
            return
        for key in [
            k for k, times in self._times.items() if not times or times[-1] <= now - self.window
        ]:
            del self._times[key]


def _discard[V](numbered: dict[str, dict[int, V]], key: str, number: int) -> None:
    """Drop `key`'s entry `number` (if still there), and `key` with its last entry."""
    entries = numbered.get(key)
    if entries is None:
        return
    entries.pop(number, None)
    if not entries:
        del numbered[key]


class Slots:
    """At most `maximum` slots held at once per key; each lapses `lifetime` s after it was
    taken unless given back before."""

    def __init__(self, name: str, maximum: int, lifetime: float) -> None:
        self.name = name
        self.maximum = maximum
        self.lifetime = lifetime
        self._held: dict[str, dict[int, float]] = {}
        self._ids = itertools.count(1)

    def take(self, key: str, now: float) -> int | Refusal:
        """A slot id for `key`, or the refusal (nothing taken)."""
        if key in self._held:
            self._lapse(key, self._held[key], now)
        held = self._held.setdefault(key, {})
        if self.maximum > 0 and len(held) >= self.maximum:
            return Refusal(self.name, self.maximum, whole_seconds(min(held.values()) - now))
        slot = next(self._ids)
        held[slot] = now + self.lifetime
        return slot

    def give_back(self, key: str, slot: int) -> None:
        """Free the slot (nothing when it was given back or lapsed already)."""
        _discard(self._held, key, slot)

    def held(self, key: str, now: float) -> int:
        held = self._held.get(key)
        if held is None:
            return 0
        self._lapse(key, held, now)
        return len(held)

    def _lapse(self, key: str, held: dict[int, float], now: float) -> None:
        for slot in [s for s, deadline in held.items() if deadline <= now]:
            del held[slot]
        if not held:
            self._held.pop(key, None)


class Reservations:
    """Each key's requests in flight, in arrival order, each holding an item (a job id)."""

    def __init__(self) -> None:
        self._open: dict[str, dict[int, str]] = {}
        self._ids = itertools.count(1)

    def open(self, key: str, item: str) -> int:
        ticket = next(self._ids)
        self._open.setdefault(key, {})[ticket] = item
        return ticket

    def ahead(self, key: str, ticket: int) -> set[str]:
        """The items of the key's requests in flight that arrived before `ticket`."""
        return {item for other, item in self._open.get(key, {}).items() if other < ticket}

    def close(self, key: str, ticket: int) -> None:
        _discard(self._open, key, ticket)

    def in_flight(self, key: str) -> int:
        return len(self._open.get(key, {}))


def running_refusal(
    name: str, maximum: int, stored: set[str], ahead: set[str], retry_after: int
) -> Refusal | None:
    """Whether one more job fits beside the `stored` unfinished ones and those `ahead` of
    it in flight (a job in both, recorded while its request is still in flight, is one)."""
    if maximum <= 0 or len(stored | ahead) < maximum:
        return None
    return Refusal(name, maximum, retry_after)
