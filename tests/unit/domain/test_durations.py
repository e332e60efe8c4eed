"""The learning rule: weighted means of step times, estimates after MIN_SAMPLES, ETAs."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from function_app.domain.durations import (
    ALPHA,
    MIN_SAMPLES,
    WORKER_CONCURRENCY,
    Durations,
    RunSample,
    StepStats,
    eta_seconds,
    queue_wait_seconds,
    remaining_seconds,
)

MB = 1_000_000


@dataclass(frozen=True)
class S:
    stage: str
    sized: bool = True


def learned(*runs: tuple[float, int]) -> StepStats:
    stats = StepStats()
    for seconds, size in runs:
        stats = stats.learn(seconds, size)
    return stats


def test_no_estimate_before_the_minimum_number_of_samples() -> None:
    stats = learned(*[(2.0, MB)] * (MIN_SAMPLES - 1))
    assert stats.estimate(MB, sized=True) is None
    assert stats.estimate(MB, sized=False) is None
    assert stats.learn(2.0, MB).estimate(MB, sized=False) == pytest.approx(2.0)


def test_the_first_samples_are_a_plain_mean() -> None:
    stats = learned((1.0, MB), (2.0, MB), (3.0, MB))
    assert stats.seconds == pytest.approx(2.0)
    assert stats.samples == 3


def test_later_samples_move_the_mean_by_alpha() -> None:
    steady = learned(*[(2.0, MB)] * 10)
    moved = steady.learn(12.0, MB)
    assert moved.seconds == pytest.approx(2.0 + ALPHA * 10.0)


def test_a_sized_step_scales_with_the_input() -> None:
    # 1 s per MB whatever the size: a 5 MB input is predicted at 5 s.
    stats = learned((1.0, MB), (2.0, 2 * MB), (3.0, 3 * MB))
    assert stats.estimate(5 * MB, sized=True) == pytest.approx(5.0)
    assert stats.estimate(5 * MB, sized=False) == pytest.approx(2.0)


def test_a_speed_change_is_followed_within_a_few_runs() -> None:
    stats = learned(*[(1.0, MB)] * 20)
    for _ in range(8):
        stats = stats.learn(2.0, MB)
    estimate = stats.estimate(MB, sized=True)
    assert estimate is not None
    assert abs(estimate - 2.0) < 0.1


def test_negative_durations_count_as_zero() -> None:
    assert StepStats().learn(-1.0, MB).seconds == 0.0


def durations(runs: int = MIN_SAMPLES) -> Durations:
    result = Durations()
    for _ in range(runs):
        result = result.learn(
            RunSample(
                size=MB, steps={"fetching": 4.0, "parsing": 2.0, "storing": 1.0}, total_seconds=8.0
            )
        )
    return result


PLAN = [S("fetching"), S("parsing"), S("storing", sized=False)]


def test_eta_is_the_rest_of_the_current_step_plus_the_later_steps() -> None:
    # 2 MB: fetching 8 s, parsing 4 s, storing 1 s (unsized).
    at_start = remaining_seconds(durations(), PLAN, 2 * MB, elapsed=0.0)
    assert at_start == pytest.approx(13.0)
    three_in = remaining_seconds(durations(), PLAN, 2 * MB, elapsed=3.0)
    assert three_in == pytest.approx(10.0)
    half_read = remaining_seconds(durations(), PLAN, 2 * MB, elapsed=9.0, fraction_done=0.5)
    assert half_read == pytest.approx(9.0)
    overdue = remaining_seconds(durations(), PLAN[1:], 2 * MB, elapsed=60.0)
    assert overdue == pytest.approx(1.0)


def test_no_eta_while_any_remaining_step_lacks_history() -> None:
    assert remaining_seconds(durations(MIN_SAMPLES - 1), PLAN, MB, elapsed=0) is None
    assert remaining_seconds(durations(), [*PLAN, S("analyzing")], MB, elapsed=0) is None
    assert remaining_seconds(durations(), [], MB, elapsed=0) is None
    assert remaining_seconds(Durations(), PLAN, MB, elapsed=0) is None


def test_etas_are_whole_seconds() -> None:
    assert eta_seconds(None) is None
    assert eta_seconds(2.4) == 2
    assert eta_seconds(2.6) == 3


def test_queue_wait_counts_full_rounds_of_runs_ahead() -> None:
    known = durations()  # runs take 8 s
    assert queue_wait_seconds(1, known, concurrency=2) == 0
    assert queue_wait_seconds(2, known, concurrency=2) == 0
    assert queue_wait_seconds(3, known, concurrency=2) == 8
    assert queue_wait_seconds(6, known, concurrency=2) == 16
    assert queue_wait_seconds(None, known) is None
    assert queue_wait_seconds(5, Durations()) is None


def test_the_worker_concurrency_is_what_host_json_configures() -> None:
    host = json.loads((Path(__file__).parents[3] / "host.json").read_text())
    assert host["extensions"]["serviceBus"]["maxConcurrentCalls"] == WORKER_CONCURRENCY
