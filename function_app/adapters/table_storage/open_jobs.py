"""`OpenJobs` on the jobs table: the jobs that may not have ended, for the sweeper.

| PartitionKey         | RowKey     | what                          |
|----------------------|------------|-------------------------------|
| `open-<00..15>`      | `<job id>` | queueName, recordedAt, sent   |

Sixteen partitions (the shard is the job id's hash) spread the writes of many enqueues;
`entries` reads the sixteen at once. A job's entry lives from just before its record is
written until the sweeper sees it ended, so the index holds the open jobs plus those ended
since the last sweep, never the whole history.
"""

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any

from function_app.adapters.table_storage.entity_fields import FlatCodec
from function_app.adapters.table_storage.rows import TableRows
from function_app.domain.sweeping import OpenJob

SHARDS = 16


def open_partition(job_id: str) -> str:
    shard = int(hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:4], 16) % SHARDS
    return f"open-{shard:02d}"


# queueName, recordedAt, sent; the job id is the RowKey
ENTRIES = FlatCodec(OpenJob, keyed=("job_id",))


def entry_to_entity(entry: OpenJob) -> dict[str, Any]:
    return ENTRIES.to_entity(open_partition(entry.job_id), entry.job_id, entry)


def entry_from_entity(entity: Mapping[str, Any]) -> OpenJob:
    return ENTRIES.from_entity(entity, job_id=str(entity["RowKey"]))


class TableOpenJobs:
    def __init__(self, rows: TableRows) -> None:
        self._rows = rows

    async def put(self, entry: OpenJob) -> None:
        await self._rows.upsert(entry_to_entity(entry), "open-jobs index")

    async def remove(self, job_id: str) -> None:
        await self._rows.delete(open_partition(job_id), job_id, "open-jobs index")

    async def entries(self, limit: int) -> list[OpenJob]:
        shards = await asyncio.gather(
            *(
                self._rows.query("PartitionKey eq @p", {"p": f"open-{n:02d}"}, limit)
                for n in range(SHARDS)
            )
        )
        found = [entry_from_entity(e) for shard in shards for e in shard]
        return sorted(found, key=lambda e: e.recorded_at)[:limit]
