"""A writer that stops between a job's two writes, for the crash test to SIGKILL there.

Run as `python -m tests.support.feed_writer_killed <connection string> <table> <owner>
<job id> <last status>`: records the job (queued, copied to the feed as usual), then appends
`<last status>` to the job's log and, before copying it to the feed, prints BETWEEN and
waits to be killed.
"""

import asyncio
import sys
from datetime import UTC, datetime

from function_app.adapters.table_storage import TableStorage
from function_app.domain.jobs import EventDraft, Job, JobEvent, JobStatus, Stage
from function_app.services.caller_feed import FeedingEventLog, FeedWriter


class StopsBeforeCopying(FeedWriter):
    async def copy(self, job: Job, latest: JobEvent | None = None) -> None:
        if latest is not None and latest.sequence >= 2:
            print("BETWEEN", flush=True)
            await asyncio.sleep(3600)
        await super().copy(job, latest)


async def main(connection_string: str, table: str, owner: str, job_id: str, last: str) -> None:
    storage = TableStorage.from_connection_string(connection_string, table)
    writer = StopsBeforeCopying(storage.event_log, storage.caller_feed, lambda: datetime.now(UTC))
    log = FeedingEventLog(storage.event_log, writer)
    job = Job(job_id, owner, "document-analysis", "analyze-document", {}, datetime.now(UTC))
    await log.create(job, EventDraft(JobStatus.QUEUED, 0, Stage.QUEUED, "queued"))
    status = JobStatus(last)
    await log.append(job_id, lambda _j: EventDraft(status, 50, Stage.PARSING, str(status)))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
