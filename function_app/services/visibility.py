"""Which job a caller may see: one rule for status, cancel and streams.

A job is visible to its owner; a stream token sees only its one job. Anything else, an id
that cannot be a job id included, is "not found": the same answer on purpose, so a caller
cannot tell someone else's job from one that does not exist.
"""

from function_app.domain.errors import NotFound
from function_app.domain.identity import Caller
from function_app.domain.jobs import Job, is_job_id
from function_app.ports import EventLog


async def visible_job(log: EventLog, caller: Caller, job_id: str) -> Job:
    """The job, as the caller may see it; NotFound otherwise."""
    if not is_job_id(job_id):
        raise NotFound("job not found")
    job = await log.get(job_id)
    if job is None or not caller.may_read(job.job_id, job.owner):
        raise NotFound("job not found")
    return job
