"""visible_job: the one "may this caller see this job" rule for status, cancel and streams."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from function_app.domain.errors import NotFound, Unauthenticated
from function_app.domain.identity import Caller, JobTokenWindow
from function_app.domain.jobs import EventDraft, Job, JobStatus, Stage, is_job_id, new_job_id
from function_app.services.visibility import visible_job
from tests.fakes import FakeEventLog

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


async def stored_job(log: FakeEventLog, owner: str) -> Job:
    job = Job(
        job_id=new_job_id(),
        owner=owner,
        queue_name="document-analysis",
        job_name="analyze-document",
        data={"blobName": "b"},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    recorded, _ = await log.create(job, EventDraft(JobStatus.QUEUED, 0, Stage.QUEUED, "queued"))
    return recorded


def test_new_job_ids_have_the_job_id_shape() -> None:
    assert is_job_id(new_job_id())
    assert not is_job_id("")
    assert not is_job_id("-leading-dash")
    assert not is_job_id("a" * 65)
    assert not is_job_id("a/b")


async def test_the_owner_and_the_jobs_stream_token_see_it() -> None:
    log = FakeEventLog()
    job = await stored_job(log, "alice")
    assert (await visible_job(log, Caller("alice"), job.job_id, NOW)).job_id == job.job_id
    scoped = Caller("alice", job_scope=job.job_id)
    assert (await visible_job(log, scoped, job.job_id, NOW)).job_id == job.job_id


@pytest.mark.parametrize(
    "caller", [Caller("bob"), Caller("alice", job_scope="someotherjob")], ids=["other", "scope"]
)
async def test_anyone_else_gets_not_found(caller: Caller) -> None:
    log = FakeEventLog()
    job = await stored_job(log, "alice")
    with pytest.raises(NotFound):
        await visible_job(log, caller, job.job_id, NOW)


async def test_an_id_that_cannot_be_a_job_is_not_looked_up() -> None:
    class CountingLog(FakeEventLog):
        gets = 0

        async def get(self, job_id: str) -> Job | None:
            CountingLog.gets += 1
            return await super().get(job_id)

    log = CountingLog()
    with pytest.raises(NotFound):
        await visible_job(log, Caller("alice"), "../etc", NOW)
    assert CountingLog.gets == 0


def token_of(job: Job, expires_at: datetime, grace_seconds: int = 60) -> Caller:
    window = JobTokenWindow(expires_at, timedelta(seconds=grace_seconds))
    return Caller(job.owner, job_scope=job.job_id, token_window=window)


async def test_a_stream_token_past_its_expiry_reads_its_job_while_the_job_runs() -> None:
    log = FakeEventLog()
    job = await stored_job(log, "alice")
    expired_long_ago = token_of(job, NOW - timedelta(hours=5))
    assert (await visible_job(log, expired_long_ago, job.job_id, NOW)).job_id == job.job_id


async def test_a_stream_token_of_an_ended_job_works_until_expiry_or_the_grace() -> None:
    log = FakeEventLog()
    job = await stored_job(log, "alice")
    ended_at = NOW - timedelta(seconds=30)
    log.jobs[job.job_id] = replace(job, status=JobStatus.COMPLETED, completed_at=ended_at)
    # Within the grace after the end (30 s < 60 s), though past its own expiry:
    assert await visible_job(log, token_of(job, NOW - timedelta(hours=1)), job.job_id, NOW)
    # Past the grace, but not past its own expiry:
    assert await visible_job(log, token_of(job, NOW + timedelta(seconds=1), 10), job.job_id, NOW)
    # Past both: the token no longer reads the finished job.
    with pytest.raises(Unauthenticated) as refused:
        await visible_job(log, token_of(job, NOW - timedelta(seconds=1), 10), job.job_id, NOW)
    assert refused.value.code == "token_expired"
    # The owner's own credential still reads it.
    assert await visible_job(log, Caller("alice"), job.job_id, NOW)
