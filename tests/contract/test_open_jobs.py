"""OpenJobs: the Table adapter (Azurite) and the fake, same rules."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from function_app.domain.sweeping import OpenJob


async def test_put_replace_remove_and_list_oldest_first(open_jobs: Any) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3650)  # before any other
    ids = [f"job-{uuid.uuid4().hex}" for _ in range(20)]
    for n, job_id in enumerate(ids):
        await open_jobs.put(OpenJob(job_id, "q", base + timedelta(seconds=20 - n)))
    await open_jobs.put(OpenJob(ids[0], "q", base + timedelta(seconds=20), sent=True))
    await open_jobs.remove(ids[1])
    await open_jobs.remove("job-never-listed")  # nothing to remove: no error
    listed = [e for e in await open_jobs.entries(10_000) if e.job_id in ids]
    assert [e.job_id for e in listed] == [*reversed(ids[2:]), ids[0]]
    assert listed[-1].sent is True
    assert listed[0] == OpenJob(ids[-1], "q", base + timedelta(seconds=1), sent=False)
    assert len(await open_jobs.entries(3)) == 3
