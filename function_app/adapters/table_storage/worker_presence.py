"""`WorkerPresence` on the jobs table: each worker instance's latest heartbeat.

| PartitionKey | RowKey        | what                                                       |
|--------------|---------------|------------------------------------------------------------|
| `workers`    | `<worker id>` | startedAt, seenAt, running: `[[job id, owner key, queue]]` |

A beat replaces the instance's row (one writer per row: the instance itself). `recent`
finds the rows seen since an instant with one partition query filtered on `seenAt`. Owners
appear only as their feed key (a hash), never as themselves. Rows of instances long gone
stay, outside every `recent` window.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from function_app.adapters.table_storage.entity_fields import get_json, put_json, required_datetime
from function_app.adapters.table_storage.rows import TableRows
from function_app.domain.queue_overview import RunningJob, WorkerBeat

WORKERS_PARTITION = "workers"
MAX_WORKER_ROWS = 1_000


def beat_to_entity(beat: WorkerBeat) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": WORKERS_PARTITION,
        "RowKey": beat.worker_id,
        "startedAt": beat.started_at,
        "seenAt": beat.seen_at,
    }
    put_json(entity, "running", [[r.job_id, r.owner_key, r.queue_name] for r in beat.running])
    return entity


def beat_from_entity(entity: Mapping[str, Any]) -> WorkerBeat:
    running = get_json(entity, "running") or []
    return WorkerBeat(
        worker_id=str(entity["RowKey"]),
        started_at=required_datetime(entity, "startedAt"),
        seen_at=required_datetime(entity, "seenAt"),
        running=tuple(RunningJob(str(j), str(o), str(q)) for j, o, q in running),
    )


class TableWorkerPresence:
    def __init__(self, rows: TableRows) -> None:
        self._rows = rows

    async def beat(self, beat: WorkerBeat) -> None:
        await self._rows.upsert(beat_to_entity(beat), "worker heartbeat")

    async def recent(self, since: datetime) -> list[WorkerBeat]:
        rows = await self._rows.query(
            "PartitionKey eq @p and seenAt ge @since",
            {"p": WORKERS_PARTITION, "since": since},
            MAX_WORKER_ROWS,
        )
        return [beat_from_entity(entity) for entity in rows]
