"""The sweeper over fakes: an unsent job is sent once, a silent one ends worker_lost once,
ended and never-recorded ones leave the index."""

import asyncio
from datetime import timedelta

from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, EventDraft, JobStatus, Stage
from function_app.domain.sweeping import OpenJob, SweepAction
from tests.fakes import FakeWorld, fake_world, test_settings
from tests.unit.services.test_worker import delivery


def world() -> FakeWorld:
    return fake_world(test_settings(ALLOW_FAULT_INJECTION=True))


async def enqueue(w: FakeWorld, **extra: object) -> str:
    blob = w.upload("alice", "a.txt", b"x" * 100)
    request = EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob, **extra})
    return (await w.services.jobs.enqueue(Caller("alice"), request)).job_id


def sent_ids(w: FakeWorld) -> list[str]:
    return [m.message_id for m in w.queue.sent]


async def test_enqueue_lists_the_job_and_marks_it_sent() -> None:
    w = world()
    job_id = await enqueue(w)
    assert w.open_jobs.by_job[job_id].sent is True
    assert sent_ids(w) == [job_id]


async def test_a_job_recorded_but_never_sent_is_sent_once_after_the_grace() -> None:
    w = world()
    job_id = await enqueue(w, simulateLostSend=True)  # enqueue "died" between record and send
    assert sent_ids(w) == []
    assert w.open_jobs.by_job[job_id].sent is False
    report = await w.services.sweeper.sweep()
    assert (report.seen, report.count(SweepAction.RESEND)) == (1, 0)  # still in its grace period
    w.clock.advance(61)
    report = await w.services.sweeper.sweep()
    assert report.count(SweepAction.RESEND) == 1
    assert sent_ids(w) == [job_id]
    assert w.queue.sent[0].body["jobId"] == job_id
    assert w.open_jobs.by_job[job_id].sent is True
    await w.services.sweeper.sweep()
    assert w.queue.send_calls == 1, "sent twice"
    await w.services.worker.handle(delivery(job_id))
    job = await w.log.get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


async def test_a_job_no_worker_reports_on_ends_worker_lost_once() -> None:
    w = world()
    job_id = await enqueue(w)
    started = EventDraft(JobStatus.STARTED, 0, Stage.INITIALIZING, "Started")
    await w.log.append(job_id, lambda _j: started)  # a worker took it, then died
    w.clock.advance(899)
    assert (await w.services.sweeper.sweep()).count(SweepAction.END_LOST) == 0
    w.clock.advance(2)
    assert (await w.services.sweeper.sweep()).count(SweepAction.END_LOST) == 1
    job = await w.log.get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("worker_lost", True)
    report = await w.services.sweeper.sweep()
    assert (report.count(SweepAction.END_LOST), report.count(SweepAction.FORGET)) == (0, 1)
    assert job_id not in w.open_jobs.by_job
    terminal = [e for e in w.log.events[job_id] if e.is_terminal]
    assert len(terminal) == 1


async def test_ended_and_never_recorded_jobs_leave_the_index() -> None:
    w = world()
    done = await enqueue(w)
    await w.services.worker.handle(delivery(done))
    ghost = OpenJob("ghost", "document-analysis", w.clock.now())
    await w.open_jobs.put(ghost)
    report = await w.services.sweeper.sweep()
    assert report.count(SweepAction.FORGET) == 1
    assert set(w.open_jobs.by_job) == {"ghost"}  # recorded maybe in a moment: kept
    w.clock.advance(601)
    await w.services.sweeper.sweep()
    assert w.open_jobs.by_job == {}


async def test_a_failing_job_read_is_left_for_the_next_sweep() -> None:
    w = world()
    job_id = await enqueue(w, simulateLostSend=True)
    w.clock.advance(61)
    w.queue.fail_with = RuntimeError("broker down")
    report = await w.services.sweeper.sweep()
    assert (report.count(SweepAction.RESEND), report.failed) == (0, 1)
    w.queue.fail_with = None
    assert (await w.services.sweeper.sweep()).count(SweepAction.RESEND) == 1
    assert timedelta(seconds=61) <= w.clock.now() - w.open_jobs.by_job[job_id].recorded_at


async def test_a_sweep_visits_a_bounded_number_at_once_and_a_failure_stops_only_its_own() -> None:
    from function_app.services.sweeps import visit_each

    running, most = 0, 0

    async def visit(item: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        if item == 3:
            raise OSError("the store said no")
        return item * 10

    answers = await visit_each(list(range(8)), visit, at_once=2, name=lambda i: f"item {i}")
    assert answers == [0, 10, 20, None, 40, 50, 60, 70]
    assert most == 2


def test_a_sweep_report_reads_as_one_line_for_the_timer_log() -> None:
    from function_app.services.sweeper import SWEEP_WORDING
    from function_app.services.sweeps import SweepReport

    done = {SweepAction.RESEND: 1, SweepAction.END_LOST: 2, SweepAction.FORGET: 3}
    report = SweepReport(seen=7, done=done, failed=0, wording=SWEEP_WORDING)
    assert report.summary() == "7 listed, 1 resent, 2 ended worker_lost, 3 forgotten, 0 failed"
