"""Learned durations: how long each step of a job type takes, and what that predicts.

The learning rule (pure; the step-durations store applies it under optimistic concurrency):
- Per (job type, step) keep an exponentially weighted mean of the step's seconds and of its
  seconds per input byte. A new sample weighs `max(ALPHA, 1 / n)` (n counting it), so the
  first samples are a plain mean and later ones move the estimate by ALPHA: a change in
  speed (another machine, a slower dependency) is followed within a few runs.
- An estimate exists once a step has MIN_SAMPLES samples; before that it is None (no ETA is
  better than a wild one).
- A step whose time grows with the input (`sized`: reading, parsing, analysing the upload)
  is estimated as seconds-per-byte x the upload's size; any other step as its mean seconds.
- The ETA of a running job = what is left of the current step (its estimate x the fraction
  not yet done, when the step knows it, else its estimate minus the time spent in it, never
  below 0) + the estimates of the steps after it. None while any of them has no estimate.
- Runs are learned from only when they complete: the whole run (started -> completed) is
  kept like an unsized step, for the queue-wait estimate.

Queue wait (enqueue's `estimatedWait`): a job at `position` (1 = next) waits for the
`position - 1` jobs ahead of it; `concurrency` of them run at once, so it waits about
`floor((position - 1) / concurrency)` mean runs of its job type. None without history.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

ALPHA = 0.3
MIN_SAMPLES = 3
# Deliveries one worker instance runs at once per queue (host.json
# extensions.serviceBus.maxConcurrentCalls; a unit test checks they agree).
WORKER_CONCURRENCY = 8


@dataclass(frozen=True)
class StepStats:
    """What is learned about one step (or a whole run) of one job type."""

    samples: int = 0
    seconds: float = 0.0
    seconds_per_byte: float = 0.0

    def learn(self, seconds: float, size: int) -> "StepStats":
        """These stats with one more observed duration (`seconds` for `size` input bytes)."""
        seconds = max(seconds, 0.0)
        weight = max(ALPHA, 1.0 / (self.samples + 1))
        per_byte = seconds / max(size, 1)
        return StepStats(
            samples=self.samples + 1,
            seconds=self.seconds + weight * (seconds - self.seconds),
            seconds_per_byte=self.seconds_per_byte + weight * (per_byte - self.seconds_per_byte),
        )

    def estimate(self, size: int, *, sized: bool) -> float | None:
        """Predicted seconds for an input of `size` bytes; None before MIN_SAMPLES runs."""
        if self.samples < MIN_SAMPLES:
            return None
        return self.seconds_per_byte * max(size, 1) if sized else self.seconds


@dataclass(frozen=True)
class RunSample:
    """One completed run: its input size, each step's seconds, and the whole run's."""

    size: int
    steps: Mapping[str, float]
    total_seconds: float


@dataclass(frozen=True)
class Durations:
    """One job type's learned durations: per step (keyed by stage), and per whole run."""

    steps: Mapping[str, StepStats] = field(default_factory=dict)
    run: StepStats = StepStats()

    def step(self, stage: str) -> StepStats:
        return self.steps.get(stage, StepStats())

    def learn(self, sample: RunSample) -> "Durations":
        steps = dict(self.steps)
        for stage, seconds in sample.steps.items():
            steps[stage] = self.step(stage).learn(seconds, sample.size)
        return Durations(steps, self.run.learn(sample.total_seconds, sample.size))


class TimedStep(Protocol):
    """A step as the ETA needs it: its stage, and whether its time grows with the input."""

    @property
    def stage(self) -> str: ...

    @property
    def sized(self) -> bool: ...


def remaining_seconds(
    durations: Durations,
    steps: Sequence[TimedStep],
    size: int,
    *,
    elapsed: float,
    fraction_done: float | None = None,
) -> float | None:
    """Seconds left for a job now in `steps[0]` (then the rest, in order): what is left of
    the current step + the later steps' estimates. None without an estimate for each."""
    if not steps:
        return None
    estimates = [durations.step(s.stage).estimate(size, sized=s.sized) for s in steps]
    if any(estimate is None for estimate in estimates):
        return None
    current, *later = (e for e in estimates if e is not None)
    if fraction_done is not None:
        left = current * (1.0 - min(max(fraction_done, 0.0), 1.0))
    else:
        left = max(current - elapsed, 0.0)
    return left + sum(later)


def eta_seconds(seconds: float | None) -> int | None:
    """An ETA as events carry it: whole seconds, rounded to the nearest."""
    return None if seconds is None else round(seconds)


def queue_wait_seconds(
    position: int | None, durations: Durations, concurrency: int = WORKER_CONCURRENCY
) -> int | None:
    """Seconds a job at `position` (1 = next to run) waits before it starts; None without
    a position or a learned run duration (see the module docstring)."""
    mean = durations.run.estimate(0, sized=False)
    if position is None or mean is None:
        return None
    ahead_rounds = (max(position, 1) - 1) // max(concurrency, 1)
    return round(ahead_rounds * mean)
