"""`EventLog` on the jobs table: one partition per job, the job row and its events.

| PartitionKey | RowKey              | what                                 |
|--------------|---------------------|--------------------------------------|
| `<job id>`   | `job`               | the job record (current state, ETag) |
| `<job id>`   | `evt-0000000001`... | its events, zero-padded sequence     |

Sequence numbers are gapless because each append is one entity-group transaction: replace
the job row *if its ETag is unchanged* and insert the event row. The job row keeps the
enqueue's span as `traceParent`, each event row its trace id as `traceId`; rows written
before traces were kept have neither and read with none. A concurrent writer makes
the transaction fail as a whole (412 on the ETag, or 409 on an existing event row); the
append reads again and decides again (`rows.decide_and_write`).
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from function_app.adapters.table_storage.entity_fields import (
    as_datetime,
    bounded_text,
    get_json,
    is_valid_key,
    put_json,
    required_datetime,
    without_none,
)
from function_app.adapters.table_storage.rows import (
    Decision,
    Entity,
    TableRows,
    create_operation,
    decide_and_write,
    replace_operation,
)
from function_app.domain.jobs import EventDraft, Job, JobError, JobEvent, JobStatus
from function_app.domain.tracing import parse_traceparent
from function_app.ports import JobAlreadyExists, JobMissing

JOB_ROW = "job"
EVENT_PREFIX = "evt-"
SEQUENCE_DIGITS = 10
MAX_WRITE_ATTEMPTS = 64
MAX_EVENTS_PAGE = 1000  # Table queries return at most 1000 entities per page


def event_row_key(sequence: int) -> str:
    return f"{EVENT_PREFIX}{sequence:0{SEQUENCE_DIGITS}d}"


# --- entity codec ---------------------------------------------------------------------------


def _error_to_json(error: JobError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "retryable": error.retryable}


def _error_from_json(value: Any) -> JobError | None:
    if value is None:
        return None
    return JobError(str(value["code"]), str(value["message"]), bool(value.get("retryable")))


def _state_to_entity(entity: dict[str, Any], state: Job | JobEvent) -> dict[str, Any]:
    """The fields a job and its events share: status, progress, stage, message, step, phase,
    detail, outcome."""
    entity["status"] = state.status.value
    entity["progress"] = state.progress
    entity["stage"] = state.stage
    entity["message"] = bounded_text("message", state.message)
    entity["step"] = bounded_text("step", state.step)
    entity["phase"] = bounded_text("phase", state.phase)
    entity["detail"] = bounded_text("detail", state.detail)
    put_json(entity, "result", None if state.result is None else dict(state.result))
    put_json(entity, "error", _error_to_json(state.error))
    return without_none(entity)


def _state_from_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": JobStatus(entity["status"]),
        "progress": int(entity["progress"]),
        "stage": str(entity["stage"]),
        "message": str(entity.get("message") or ""),
        "step": entity.get("step"),
        "phase": entity.get("phase"),
        "detail": entity.get("detail"),
        "result": get_json(entity, "result"),
        "error": _error_from_json(get_json(entity, "error")),
    }


def job_to_entity(job: Job) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": job.job_id,
        "RowKey": JOB_ROW,
        "owner": job.owner,
        "queueName": job.queue_name,
        "jobName": job.job_name,
        "createdAt": job.created_at,
        "startedAt": job.started_at,
        "completedAt": job.completed_at,
        "updatedAt": job.updated_at,
        "attempts": job.attempts,
        "lastEventId": job.last_event_id,
        "cancelRequested": job.cancel_requested,
        "idempotencyKey": job.idempotency_key,
        "uploadETag": job.upload_etag,
        "blobName": job.blob_name,
        "traceParent": None if job.trace is None else job.trace.traceparent,
    }
    put_json(entity, "data", dict(job.data))
    return _state_to_entity(entity, job)


def job_from_entity(entity: Mapping[str, Any]) -> Job:
    return Job(
        job_id=str(entity["PartitionKey"]),
        owner=str(entity["owner"]),
        queue_name=str(entity["queueName"]),
        job_name=str(entity["jobName"]),
        data=get_json(entity, "data") or {},
        created_at=required_datetime(entity, "createdAt"),
        started_at=as_datetime(entity.get("startedAt")),
        completed_at=as_datetime(entity.get("completedAt")),
        updated_at=as_datetime(entity.get("updatedAt")),
        attempts=int(entity.get("attempts") or 0),
        last_event_id=int(entity["lastEventId"]),
        cancel_requested=bool(entity.get("cancelRequested", False)),
        idempotency_key=entity.get("idempotencyKey"),
        upload_etag=entity.get("uploadETag"),
        blob_name=entity.get("blobName"),
        # A row written before traces were kept has none (a malformed one reads as none).
        trace=parse_traceparent(entity.get("traceParent")),
        **_state_from_entity(entity),
    )


def event_to_entity(event: JobEvent) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": event.job_id,
        "RowKey": event_row_key(event.sequence),
        "sequence": event.sequence,
        "timestamp": event.timestamp,
        "attempt": event.attempt,
        "etaSeconds": event.eta_seconds,
        "log": True if event.log else None,
        "workerId": bounded_text("workerId", event.worker),
        "traceId": event.trace_id,
    }
    return _state_to_entity(entity, event)


def event_from_entity(entity: Mapping[str, Any]) -> JobEvent:
    eta = entity.get("etaSeconds")
    return JobEvent(
        job_id=str(entity["PartitionKey"]),
        sequence=int(entity["sequence"]),
        timestamp=required_datetime(entity, "timestamp"),
        attempt=int(entity.get("attempt") or 0),
        eta_seconds=None if eta is None else int(eta),
        log=bool(entity.get("log", False)),
        worker=entity.get("workerId"),
        trace_id=entity.get("traceId"),  # absent on events stored before traces were kept
        **_state_from_entity(entity),
    )


# --- the port -------------------------------------------------------------------------------


class TableEventLog:
    """`EventLog` on the jobs table (see the module docstring for the layout)."""

    def __init__(self, rows: TableRows, clock: Callable[[], datetime]) -> None:
        self._rows = rows
        self._clock = clock

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        recorded, event = job.record(first, self._clock())
        operations = [
            create_operation(job_to_entity(recorded)),
            create_operation(event_to_entity(event)),
        ]
        if not await self._rows.transact(operations, "create job"):
            raise JobAlreadyExists(job.job_id)
        return recorded, event

    async def get(self, job_id: str) -> Job | None:
        entity = await self._rows.get(job_id, JOB_ROW)
        return None if entity is None else job_from_entity(entity)

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        def record(entity: Entity) -> Decision[tuple[Job, JobEvent | None]]:
            job = job_from_entity(entity)
            decided = job.record_decided(decide, self._clock)
            if decided is None:
                return Decision((job, None))
            recorded, event = decided
            operations = [
                replace_operation(job_to_entity(recorded), entity.metadata["etag"]),
                create_operation(event_to_entity(event)),
            ]
            return Decision(
                (recorded, event), lambda: self._rows.transact(operations, "append event")
            )

        return await decide_and_write(
            lambda: self._job_row(job_id), record, attempts=MAX_WRITE_ATTEMPTS, what=f"job {job_id}"
        )

    async def request_cancel(self, job_id: str) -> Job:
        def flag(entity: Entity) -> Decision[Job]:
            job = job_from_entity(entity)
            if job.cancel_requested:
                return Decision(job)
            flagged = replace(job, cancel_requested=True)
            return Decision(
                flagged,
                lambda: self._rows.replace_if_unchanged(
                    job_to_entity(flagged), entity.metadata["etag"], "request cancel"
                ),
            )

        return await decide_and_write(
            lambda: self._job_row(job_id), flag, attempts=MAX_WRITE_ATTEMPTS, what=f"job {job_id}"
        )

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        if limit <= 0 or not is_valid_key(job_id):
            return []
        query = "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi"
        params = {
            "pk": job_id,
            "lo": event_row_key(max(after, 0)),
            "hi": EVENT_PREFIX[:-1] + chr(ord(EVENT_PREFIX[-1]) + 1),
        }
        rows = await self._rows.query(query, params, min(limit, MAX_EVENTS_PAGE))
        return [event_from_entity(entity) for entity in rows]

    async def _job_row(self, job_id: str) -> Entity:
        entity = await self._rows.get(job_id, JOB_ROW)
        if entity is None:
            raise JobMissing(job_id)
        return entity
