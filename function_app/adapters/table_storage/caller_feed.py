"""`CallerFeed` on the jobs table: one partition per owner, time-ordered event rows.

| PartitionKey        | RowKey                 | what                                         |
|---------------------|------------------------|----------------------------------------------|
| `feed-<owner key>`  | `e-0001733560000123456`| one event of one of the owner's jobs         |
| `feed-<owner key>`  | `m-<job id>`           | the job's mark: how far its events are in    |

The RowKey of an event is its position (microseconds since the epoch, zero-padded), so one
range query reads an owner's events in order. `extend` writes the mark and the new event rows
in one entity-group transaction (same partition), conditional on the mark's ETag (or on its
absence); the event rows are inserts, so a position another job took makes the transaction
fail too. After a failure the mark is read again: moved means another writer copied these
events (the caller re-reads and decides again); unchanged means a position was taken, and
the events are tried at later positions.
"""

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from function_app.adapters.table_storage.entity_fields import (
    as_datetime,
    is_valid_key,
    without_none,
)
from function_app.adapters.table_storage.event_log import event_from_entity, event_to_entity
from function_app.adapters.table_storage.rows import (
    Entity,
    TableRows,
    create_operation,
    replace_operation,
)
from function_app.domain.feed import (
    MAX_POSITION,
    POSITION_DIGITS,
    FeedEntry,
    FeedMark,
    mark_moved,
    owner_key,
    position_at,
)
from function_app.domain.jobs import Job, JobEvent
from function_app.ports import MAX_FEED_BATCH, ConcurrencyExhausted

FEED_PREFIX = "feed-"
ENTRY_PREFIX = "e-"
MARK_PREFIX = "m-"
MAX_POSITION_ATTEMPTS = 32


def feed_partition(owner: str) -> str:
    return FEED_PREFIX + owner_key(owner)


def entry_row_key(position: int) -> str:
    return f"{ENTRY_PREFIX}{max(0, min(position, MAX_POSITION)):0{POSITION_DIGITS}d}"


def _prefix_end(prefix: str) -> str:
    """The smallest key after every key that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def entry_to_entity(owner: str, position: int, job: Job, event: JobEvent) -> dict[str, Any]:
    entity = event_to_entity(event)
    entity.update(
        PartitionKey=feed_partition(owner),
        RowKey=entry_row_key(position),
        jobId=event.job_id,
        jobName=job.job_name,
        queueName=job.queue_name,
    )
    return entity


def entry_from_entity(entity: Mapping[str, Any]) -> FeedEntry:
    fields = dict(entity)
    fields["PartitionKey"] = entity["jobId"]
    return FeedEntry(
        position=int(str(entity["RowKey"])[len(ENTRY_PREFIX) :]),
        job_name=str(entity["jobName"]),
        queue_name=str(entity["queueName"]),
        event=event_from_entity(fields),
    )


def mark_to_entity(owner: str, mark: FeedMark) -> dict[str, Any]:
    return without_none(
        {
            "PartitionKey": feed_partition(owner),
            "RowKey": MARK_PREFIX + mark.job_id,
            "through": mark.through,
            # As text: Table integers past 2**31 need an explicit Edm.Int64 type.
            "lastPosition": str(mark.last_position),
            "ended": mark.ended,
            "updatedAt": mark.updated_at,
        }
    )


def mark_from_entity(entity: Entity) -> FeedMark:
    return FeedMark(
        job_id=str(entity["RowKey"])[len(MARK_PREFIX) :],
        through=int(entity["through"]),
        last_position=int(entity["lastPosition"]),
        ended=bool(entity.get("ended", False)),
        version=str(entity.metadata["etag"]),
        updated_at=as_datetime(entity.get("updatedAt")),
    )


class TableCallerFeed:
    """`CallerFeed` on the jobs table (see the module docstring for the layout)."""

    def __init__(self, rows: TableRows, clock: Callable[[], datetime]) -> None:
        self._rows = rows
        self._clock = clock

    async def mark(self, owner: str, job_id: str) -> FeedMark | None:
        entity = await self._rows.get(feed_partition(owner), MARK_PREFIX + job_id)
        return None if entity is None else mark_from_entity(entity)

    async def extend(
        self, owner: str, mark: FeedMark | None, job: Job, events: Sequence[JobEvent]
    ) -> FeedMark | None:
        if not events:
            return mark
        if len(events) > MAX_FEED_BATCH:
            raise ValueError(f"at most {MAX_FEED_BATCH} events per extend, got {len(events)}")
        if not is_valid_key(MARK_PREFIX + job.job_id):
            raise ValueError(f"not a job id a table key can hold: {job.job_id[:64]!r}")
        now = self._clock()
        base = max(position_at(now), (mark.last_position if mark else 0) + 1)
        for _ in range(MAX_POSITION_ATTEMPTS):
            written = FeedMark(
                job_id=job.job_id,
                through=events[-1].sequence,
                last_position=base + len(events) - 1,
                ended=events[-1].is_terminal,
                updated_at=now,
            )
            mark_entity = mark_to_entity(owner, written)
            operations = [
                create_operation(mark_entity)
                if mark is None or mark.version is None
                else replace_operation(mark_entity, mark.version)
            ]
            operations.extend(
                create_operation(entry_to_entity(owner, base + i, job, event))
                for i, event in enumerate(events)
            )
            versions = await self._rows.transact_versions(operations, "extend feed")
            if versions is not None:
                return replace(written, version=versions[0])
            if mark_moved(await self.mark(owner, job.job_id), mark):
                return None  # another writer moved the mark: the caller decides again
            # A position was taken (another job's event): try later ones.
            base = max(base + len(events), position_at(self._clock())) + random.randint(0, 7)
        raise ConcurrencyExhausted(f"feed of job {job.job_id}: no free position found")

    async def after(self, owner: str, position: int, limit: int) -> list[FeedEntry]:
        if limit <= 0:
            return []
        query = "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi"
        params = {
            "pk": feed_partition(owner),
            "lo": entry_row_key(position),
            "hi": _prefix_end(ENTRY_PREFIX),
        }
        return [entry_from_entity(e) for e in await self._rows.query(query, params, limit)]

    async def positions(self, owner: str, low: int, high: int) -> list[int]:
        if high <= low:
            return []
        query = "PartitionKey eq @pk and RowKey gt @lo and RowKey le @hi"
        params = {"pk": feed_partition(owner), "lo": entry_row_key(low), "hi": entry_row_key(high)}
        rows = await self._rows.query(query, params, 10_000, select=["RowKey"])
        return [int(str(e["RowKey"])[len(ENTRY_PREFIX) :]) for e in rows]

    async def unfinished(self, owner: str) -> list[FeedMark]:
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and ended eq false"
        params = {"pk": feed_partition(owner), "lo": MARK_PREFIX, "hi": _prefix_end(MARK_PREFIX)}
        return [mark_from_entity(e) for e in await self._rows.query(query, params, 1000)]
