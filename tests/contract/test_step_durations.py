"""StepDurations contract: nothing known at first, each completed run folded in with the
domain's rule, no sample lost to concurrent learners, one job type's durations its own.

Runs against the Table Storage adapter on Azurite and against the in-memory fake."""

import asyncio
import uuid

import pytest

from function_app.domain.durations import Durations, RunSample
from function_app.ports import StepDurations


def job_name() -> str:
    return f"job-type-{uuid.uuid4().hex[:12]}"


def sample(read: float, size: int = 1000) -> RunSample:
    return RunSample(size=size, steps={"fetching": read, "storing": 0.5}, total_seconds=read + 1)


async def test_nothing_is_known_about_a_new_job_type(step_durations: StepDurations) -> None:
    assert await step_durations.get(job_name()) == Durations()


async def test_learned_runs_are_read_back_as_the_rule_folds_them(
    step_durations: StepDurations,
) -> None:
    name = job_name()
    expected = Durations()
    for read in (1.0, 2.0, 4.5):
        expected = expected.learn(sample(read))
        stored = await step_durations.learn(name, sample(read))
        assert stored == expected
    again = await step_durations.get(name)
    assert again == expected
    assert again.step("fetching").samples == 3
    assert again.step("fetching").estimate(2000, sized=True) == pytest.approx(
        expected.step("fetching").seconds_per_byte * 2000
    )
    assert again.run.seconds == pytest.approx(expected.run.seconds)


async def test_job_types_are_learned_apart(step_durations: StepDurations) -> None:
    first, second = job_name(), job_name()
    await step_durations.learn(first, sample(3.0))
    assert await step_durations.get(second) == Durations()
    assert (await step_durations.get(first)).step("fetching").samples == 1


async def test_concurrent_learners_lose_no_sample(step_durations: StepDurations) -> None:
    name = job_name()
    await asyncio.gather(*(step_durations.learn(name, sample(2.0)) for _ in range(8)))
    learned = await step_durations.get(name)
    assert learned.run.samples == 8
    assert learned.step("fetching").samples == 8
    assert learned.step("fetching").seconds == pytest.approx(2.0)
