"""The worker's steps and learned ETAs: what each progress event names (step, phase,
detail), log lines, what a completed run teaches, and the ETAs that follow from it."""

from collections.abc import Mapping
from typing import Any

from function_app.domain.durations import MIN_SAMPLES
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, JobEvent, JobStatus, Stage
from function_app.jobtypes.base import JobContext, JobType
from function_app.jobtypes.registry import build_registry
from function_app.jobtypes.steps import READ_STEP, Phase, Step, Steps
from function_app.services.worker import JobDelivery
from tests.fakes import FakeWorld, fake_world, test_settings

STEPS = Steps(
    (
        READ_STEP,
        Step(Stage.ANALYZING, "Thinking", (Phase("ponder", "Pondering"),)),
        Step(Stage.STORING, "Writing it down", sized=False),
    )
)


class TimedJob:
    """Reads the upload taking `read_seconds_per_kb`, then thinks 2 s and stores 1 s, on the
    world's clock (which only moves when told to)."""

    name = "analyze-document"
    steps = STEPS

    def __init__(self, world: "Box", read_seconds_per_kb: float = 1.0) -> None:
        self._box = world
        self.read_seconds_per_kb = read_seconds_per_kb

    async def run(self, ctx: JobContext) -> Mapping[str, Any]:
        clock = self._box.world.clock
        async for chunk in ctx.read(chunk_size=1000):
            clock.advance(self.read_seconds_per_kb * len(chunk) / 1000)
        await ctx.progress(Stage.ANALYZING, 60, "Thinking", phase="ponder", detail="3 ideas")
        await ctx.log("idea", "The first idea")
        clock.advance(2.0)
        await ctx.progress(Stage.STORING, 90, "Storing")
        clock.advance(1.0)
        return {}


class Box:
    world: FakeWorld


def timed_world() -> tuple[FakeWorld, TimedJob]:
    box = Box()
    job = TimedJob(box)
    types: dict[str, JobType] = {"analyze-document": job}
    box.world = fake_world(test_settings(), types)
    return box.world, job


async def run_job(world: FakeWorld, size: int) -> list[JobEvent]:
    blob = world.upload("alice", "a.txt", b"x" * size)
    request = EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob})
    job_id = (await world.services.jobs.enqueue(Caller("alice"), request)).job_id
    await world.services.worker.handle(JobDelivery(job_id, {"jobId": job_id}, 1))
    return world.log.events[job_id]


def progress_events(events: list[JobEvent]) -> list[JobEvent]:
    return [e for e in events if e.status is JobStatus.IN_PROGRESS and not e.log]


async def test_events_name_the_step_its_phase_and_detail() -> None:
    world, _ = timed_world()
    events = await run_job(world, 4000)
    started = events[1]
    assert (started.status, started.step) == (JobStatus.STARTED, "Starting")
    steps = [e.step for e in progress_events(events)]
    assert steps == ["Reading the file"] * 5 + ["Thinking", "Writing it down"]
    thinking = next(e for e in events if e.step == "Thinking" and not e.log)
    assert (thinking.phase, thinking.detail) == ("Pondering", "3 ideas")
    reading = progress_events(events)[0]
    assert (reading.phase, reading.detail) == ("Downloading the file", "0 of 4,000 bytes")
    job = world.log.jobs[events[0].job_id]
    assert job.status is JobStatus.COMPLETED


async def test_a_log_line_changes_nothing_but_adds_an_event() -> None:
    world, _ = timed_world()
    events = await run_job(world, 1000)
    index = next(i for i, e in enumerate(events) if e.log)
    line, before = events[index], events[index - 1]
    assert (line.phase, line.message) == ("idea", "The first idea")
    assert (line.progress, line.stage, line.step) == (before.progress, before.stage, before.step)
    assert line.eta_seconds is None
    assert line.sequence == before.sequence + 1


async def test_a_log_line_leaves_the_jobs_state_as_the_last_progress_said() -> None:
    seen: list[Any] = []

    class Peek(TimedJob):
        async def run(self, ctx: JobContext) -> Mapping[str, Any]:
            await ctx.progress(Stage.ANALYZING, 60, "Thinking", phase="ponder", detail="3 ideas")
            await ctx.log("idea", "An idea")
            seen.append(self._box.world.log.jobs[ctx.job_id])
            return {}

    box = Box()
    box.world = fake_world(test_settings(), {"analyze-document": Peek(box)})
    await run_job(box.world, 1000)
    job = seen[0]
    assert (job.status, job.progress, job.step, job.phase, job.detail, job.message) == (
        JobStatus.IN_PROGRESS,
        60,
        "Thinking",
        "Pondering",
        "3 ideas",
        "Thinking",
    )


async def test_no_eta_until_enough_runs_are_known() -> None:
    world, _ = timed_world()
    for _ in range(MIN_SAMPLES):
        events = await run_job(world, 2000)
        assert all(e.eta_seconds is None for e in events)
    assert len(world.durations.samples) == MIN_SAMPLES


async def test_a_completed_run_teaches_each_steps_duration() -> None:
    world, _ = timed_world()
    await run_job(world, 3000)
    [(job_name, sample)] = world.durations.samples
    assert job_name == "analyze-document"
    assert sample.size == 3000
    assert sample.steps == {"fetching": 3.0, "analyzing": 2.0, "storing": 1.0}
    assert sample.total_seconds == 6.0


async def test_learned_etas_scale_with_size_and_count_down() -> None:
    world, _ = timed_world()
    for size in (1000, 2000, 3000):
        await run_job(world, size)
    events = progress_events(await run_job(world, 10_000))
    # Learned per byte: reading 1 s/kB -> 10 s; thinking 2 s at 1, 2 and 3 kB -> a mean of
    # 1.22 s/kB -> 12.2 s; storing (unsized) 1 s.
    etas = [e.eta_seconds for e in events]
    assert etas[0] == 23
    assert all(eta is not None for eta in etas)
    assert etas == sorted(etas, reverse=True)  # type: ignore[type-var]
    assert etas[-1] == 1


async def test_the_first_eta_matches_a_steady_workload() -> None:
    world, _ = timed_world()
    for _ in range(5):
        await run_job(world, 5000)
    events = await run_job(world, 5000)
    first = progress_events(events)[0]
    assert first.eta_seconds == 5 + 2 + 1


async def test_a_failing_durations_store_costs_only_the_eta() -> None:
    world, _ = timed_world()
    world.durations.fail_with = ConnectionError("table down")
    events = await run_job(world, 1000)
    assert events[-1].status is JobStatus.COMPLETED
    assert all(e.eta_seconds is None for e in events)


async def test_failed_runs_teach_nothing() -> None:
    class Broken(TimedJob):
        async def run(self, ctx: JobContext) -> Mapping[str, Any]:
            await ctx.progress(Stage.ANALYZING, 60, "Thinking")
            raise ValueError("boom")

    world = fake_world(
        test_settings(SERVICEBUS_MAX_DELIVERY_COUNT=1), {"analyze-document": Broken(Box())}
    )
    events = await run_job(world, 1000)
    assert events[-1].status is JobStatus.FAILED
    assert world.durations.samples == []


async def test_shipped_job_types_report_only_declared_steps_and_phases() -> None:
    world = fake_world(test_settings(ALLOW_FAULT_INJECTION=True), build_registry(test_types=True))
    for queue, job_name, data in [
        ("document-analysis", "analyze-document", b"Hello.\nA text document.\n"),
        ("resume-analysis", "analyze-resume", b"Jane Doe\nSkills\nPython, SQL\nExperience\nx\n"),
        ("document-analysis", "paced-read", b"a\nb\n" * 10_000),
    ]:
        blob = world.upload("alice", "a.txt", data)
        request = EnqueueRequest(queue, job_name, {"blobName": blob})
        job_id = (await world.services.jobs.enqueue(Caller("alice"), request)).job_id
        await world.services.worker.handle(JobDelivery(job_id, {"jobId": job_id}, 1))
        events = world.log.events[job_id]
        assert events[-1].status is JobStatus.COMPLETED, (job_name, events[-1].error)
        plan = build_registry(test_types=True)[job_name].steps
        labels = {s.label: s for s in plan.steps}
        for event in progress_events(events):
            assert event.step in labels, (job_name, event.step)
            phases = {p.label for p in labels[event.step].phases}
            assert event.phase is None or event.phase in phases, (job_name, event.phase)
        assert list(dict.fromkeys(e.step for e in progress_events(events))) == [
            s.label for s in plan.steps
        ]
