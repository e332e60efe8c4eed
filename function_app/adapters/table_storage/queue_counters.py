"""`QueueCounters` on the jobs table: how many jobs the workers ended, and how long they ran.

| PartitionKey | RowKey                     | what                                                |
|--------------|----------------------------|-----------------------------------------------------|
| `counters`   | `<queue name>.<worker id>` | completed, failed, cancelled, seconds, timed (ints) |

One row per (queue, worker instance), so instances never contend for a row; within one
instance, writers to a row take turns (a lock) and a write lost to anything else is redone on
a fresh read (`rows.decide_and_write`). `totals` sums the partition in one query. Rows of
instances long gone stay (their counts are history); the partition grows by one row per
queue per instance ever started. Nothing here names an owner or a job.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from function_app.adapters.table_storage.entity_fields import FlatCodec, is_valid_key
from function_app.adapters.table_storage.rows import Decision, Entity, TableRows, decide_and_write
from function_app.domain.jobs import JobStatus
from function_app.domain.queue_overview import QueueTally

COUNTERS_PARTITION = "counters"
MAX_COUNT_ATTEMPTS = 16
MAX_COUNTER_ROWS = 10_000


# completed, failed, cancelled, seconds, timed
TALLIES = FlatCodec(QueueTally)


def tally_to_entity(row: str, tally: QueueTally) -> dict[str, Any]:
    return TALLIES.to_entity(COUNTERS_PARTITION, row, tally)


def tally_from_entity(entity: Mapping[str, Any] | None) -> QueueTally:
    return QueueTally() if entity is None else TALLIES.from_entity(entity)


class TableQueueCounters:
    """`QueueCounters` on the jobs table, this instance's rows named for `worker_id`."""

    def __init__(self, rows: TableRows, worker_id: str) -> None:
        self._rows = rows
        self._worker_id = worker_id
        self._locks: dict[str, asyncio.Lock] = {}

    async def count(self, queue_name: str, status: JobStatus, seconds: float | None) -> None:
        row = f"{queue_name}.{self._worker_id}"
        if not is_valid_key(row):
            raise ValueError(f"not a queue name a table key can hold: {queue_name[:64]!r}")

        def add(current: Entity | None) -> Decision[None]:
            entity = tally_to_entity(row, tally_from_entity(current).counting(status, seconds))
            if current is None:
                return Decision(None, lambda: self._rows.insert_if_absent(entity, "counters"))
            etag = current.metadata["etag"]
            return Decision(None, lambda: self._rows.replace_if_unchanged(entity, etag, "counters"))

        async with self._locks.setdefault(row, asyncio.Lock()):
            await decide_and_write(
                lambda: self._rows.get(COUNTERS_PARTITION, row),
                add,
                attempts=MAX_COUNT_ATTEMPTS,
                what=f"counters of {queue_name}",
            )

    async def totals(self) -> QueueTally:
        rows = await self._rows.query(
            "PartitionKey eq @p", {"p": COUNTERS_PARTITION}, MAX_COUNTER_ROWS
        )
        total = QueueTally()
        for entity in rows:
            total = total + tally_from_entity(entity)
        return total
