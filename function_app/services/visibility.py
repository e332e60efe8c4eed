"""Which job a caller may see: one rule for status, cancel and streams.

A job is visible to its owner; a stream token sees only its one job. Anything else, an id
that cannot be a job id included, is "not found": the same answer on purpose, so a caller
cannot tell someone else's job from one that does not exist. A stream token reads its job
for as long as its window (`JobTokenWindow`) allows.
"""

from datetime import datetime

from function_app.domain.errors import NotFound, Unauthenticated
from function_app.domain.identity import Caller
from function_app.domain.jobs import Job, is_job_id
from function_app.ports import EventLog


async def visible_job(log: EventLog, caller: Caller, job_id: str, now: datetime) -> Job:
    """The job, as the caller may see it at `now`; NotFound otherwise. A one-job stream token
    whose window closed (the job ended and the token is past its expiry and the grace) is
    refused: 401 `token_expired`."""
    if not is_job_id(job_id):
        raise NotFound("job not found")
    job = await log.get(job_id)
    if job is None or not caller.may_read(job.job_id, job.owner):
        raise NotFound("job not found")
    window = caller.token_window
    if window is not None and not window.admits(now, job.completed_at):
        raise Unauthenticated(
            "stream token expired: the job has ended; read it with your own credential",
            code="token_expired",
        )
    return job
