"""The jobs table in Table Storage: job records, their events, idempotency keys, app secrets.

Implements `EventLog`, `IdempotencyKeys` and `SecretStore` (and a `check()` probe) on the
async Tables SDK. Layout of the one table:

| PartitionKey            | RowKey              | what                                   |
|-------------------------|---------------------|----------------------------------------|
| `<job id>`              | `job`               | the job record (current state, ETag)   |
| `<job id>`              | `evt-0000000001`... | its events, zero-padded sequence       |
| `idem-<sha256(owner)>`  | `<sha256(key)>`     | which job an Idempotency-Key is for    |
| `config`                | `<secret name>`     | app secrets generated at run time      |

Sequence numbers are gapless because each append is one entity-group transaction: replace
the job row *if its ETag is unchanged* and insert the event row. A concurrent writer makes
the transaction fail as a whole (412 on the ETag, or 409 on an existing event row); we
re-read and decide again, a bounded number of times.

Size limits (Table Storage: 64 KiB per string property, 1 MiB per entity, 4 MiB per
transaction). JSON values (`data`, `result`, `error`) are stored ASCII-only and
split over properties of `CHUNK_CHARS` characters (`result`, `result_1`, ...). A JSON value
may take up to `MAX_JSON_CHARS` characters; a bigger one raises `ValueTooLarge`, as does a
`message` or `detail` over `MAX_TEXT_CHARS`. Nothing from `azure.*` leaks out: SDK failures
become the ports' exceptions or `DependencyUnavailable("storage", ...)`.
"""

import asyncio
import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from function_app.domain.errors import DependencyUnavailable
from function_app.domain.idempotency import KeyClaim, new_claim
from function_app.domain.jobs import (
    EventDraft,
    Job,
    JobError,
    JobEvent,
    JobStatus,
)
from function_app.ports import ConcurrencyExhausted, JobAlreadyExists, JobMissing, ValueTooLarge

JOB_ROW = "job"
EVENT_PREFIX = "evt-"
SEQUENCE_DIGITS = 10
CONFIG_PARTITION = "config"
IDEMPOTENCY_PREFIX = "idem-"

CHUNK_CHARS = 30_000  # ASCII characters: 60,000 bytes as UTF-16, under the 64 KiB limit
MAX_JSON_CHARS = 8 * CHUNK_CHARS  # 240,000 characters per JSON value
MAX_TEXT_CHARS = 8_000
MAX_WRITE_ATTEMPTS = 64
MAX_CLAIM_ATTEMPTS = 8
MAX_EVENTS_PAGE = 1000  # Table queries return at most 1000 entities per page

# Fail within seconds when storage is down (the SDK default retries for minutes).
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.4,
    "retry_backoff_max": 2,
    "connection_timeout": 5,
}

_SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# Characters Table Storage refuses in keys: a job id holding one cannot exist.
_BAD_KEY_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def event_row_key(sequence: int) -> str:
    return f"{EVENT_PREFIX}{sequence:0{SEQUENCE_DIGITS}d}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- (de)serialisation --------------------------------------------------------------------------


def _put_json(entity: dict[str, Any], name: str, value: Any) -> None:
    """Store `value` as ASCII JSON split over `name`, `name_1`, ... (absent when None)."""
    if value is None:
        return
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
    if len(text) > MAX_JSON_CHARS:
        raise ValueTooLarge(f"{name} is {len(text)} characters of JSON; limit {MAX_JSON_CHARS}")
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
    entity[name] = chunks[0]
    for index, chunk in enumerate(chunks[1:], start=1):
        entity[f"{name}_{index}"] = chunk


def _get_json(entity: Mapping[str, Any], name: str) -> Any:
    first = entity.get(name)
    if first is None:
        return None
    parts = [str(first)]
    index = 1
    while (more := entity.get(f"{name}_{index}")) is not None:
        parts.append(str(more))
        index += 1
    return json.loads("".join(parts))


def _text(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > MAX_TEXT_CHARS:
        raise ValueTooLarge(f"{name} is {len(value)} characters; limit {MAX_TEXT_CHARS}")
    return value


def _error_to_json(error: JobError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "retryable": error.retryable}


def _error_from_json(value: Any) -> JobError | None:
    if value is None:
        return None
    return JobError(str(value["code"]), str(value["message"]), bool(value.get("retryable")))


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _without_none(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if v is not None}


def job_to_entity(job: Job) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": job.job_id,
        "RowKey": JOB_ROW,
        "owner": job.owner,
        "queueName": job.queue_name,
        "jobName": job.job_name,
        "createdAt": job.created_at,
        "status": job.status.value,
        "progress": job.progress,
        "stage": job.stage,
        "message": _text("message", job.message),
        "startedAt": job.started_at,
        "completedAt": job.completed_at,
        "attempts": job.attempts,
        "lastEventId": job.last_event_id,
        "cancelRequested": job.cancel_requested,
        "idempotencyKey": job.idempotency_key,
        "uploadETag": job.upload_etag,
    }
    _put_json(entity, "data", dict(job.data))
    _put_json(entity, "result", None if job.result is None else dict(job.result))
    _put_json(entity, "error", _error_to_json(job.error))
    return _without_none(entity)


def job_from_entity(entity: Mapping[str, Any]) -> Job:
    created = _dt(entity["createdAt"])
    assert created is not None
    return Job(
        job_id=str(entity["PartitionKey"]),
        owner=str(entity["owner"]),
        queue_name=str(entity["queueName"]),
        job_name=str(entity["jobName"]),
        data=_get_json(entity, "data") or {},
        created_at=created,
        status=JobStatus(entity["status"]),
        progress=int(entity["progress"]),
        stage=str(entity["stage"]),
        message=str(entity.get("message") or ""),
        started_at=_dt(entity.get("startedAt")),
        completed_at=_dt(entity.get("completedAt")),
        attempts=int(entity.get("attempts") or 0),
        last_event_id=int(entity["lastEventId"]),
        result=_get_json(entity, "result"),
        error=_error_from_json(_get_json(entity, "error")),
        cancel_requested=bool(entity.get("cancelRequested", False)),
        idempotency_key=entity.get("idempotencyKey"),
        upload_etag=entity.get("uploadETag"),
    )


def event_to_entity(event: JobEvent) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": event.job_id,
        "RowKey": event_row_key(event.sequence),
        "sequence": event.sequence,
        "timestamp": event.timestamp,
        "status": event.status.value,
        "progress": event.progress,
        "stage": event.stage,
        "message": _text("message", event.message),
        "attempt": event.attempt,
        "phase": event.phase,
        "detail": _text("detail", event.detail),
        "etaSeconds": event.eta_seconds,
    }
    _put_json(entity, "result", None if event.result is None else dict(event.result))
    _put_json(entity, "error", _error_to_json(event.error))
    return _without_none(entity)


def event_from_entity(entity: Mapping[str, Any]) -> JobEvent:
    timestamp = _dt(entity["timestamp"])
    assert timestamp is not None
    eta = entity.get("etaSeconds")
    return JobEvent(
        job_id=str(entity["PartitionKey"]),
        sequence=int(entity["sequence"]),
        timestamp=timestamp,
        status=JobStatus(entity["status"]),
        progress=int(entity["progress"]),
        stage=str(entity["stage"]),
        message=str(entity.get("message") or ""),
        attempt=int(entity.get("attempt") or 0),
        phase=entity.get("phase"),
        detail=entity.get("detail"),
        eta_seconds=None if eta is None else int(eta),
        result=_get_json(entity, "result"),
        error=_error_from_json(_get_json(entity, "error")),
    )


def _claim_to_entity(partition: str, row: str, claim: KeyClaim) -> dict[str, Any]:
    return _without_none(
        {
            "PartitionKey": partition,
            "RowKey": row,
            "jobId": claim.job_id,
            "confirmed": claim.confirmed,
            "leaseUntil": claim.lease_until,
        }
    )


def _claim_from_entity(entity: Mapping[str, Any]) -> KeyClaim:
    lease_until = _dt(entity["leaseUntil"])
    assert lease_until is not None
    return KeyClaim(
        job_id=str(entity["jobId"]),
        confirmed=bool(entity["confirmed"]),
        lease_until=lease_until,
    )


# --- the adapter --------------------------------------------------------------------------------


def _is_write_conflict(exc: HttpResponseError) -> bool:
    """A lost race: the job row's ETag moved (412) or the event row already exists (409)."""
    return exc.status_code in (409, 412) or isinstance(
        exc, ResourceModifiedError | ResourceExistsError
    )


class TableEventLog:
    """`EventLog`, `IdempotencyKeys` and `SecretStore` on one Azure Table."""

    name = "storage"

    def __init__(self, table: TableClient, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._table = table
        self._clock = clock

    @classmethod
    def from_connection_string(
        cls, connection_string: str, table: str, *, env_proxies: bool = True
    ) -> "TableEventLog":
        """`env_proxies`: honour HTTP(S)_PROXY (see `Settings.proxies_from_environment`)."""
        return cls(
            TableClient.from_connection_string(
                connection_string,
                table_name=table,
                use_env_settings=env_proxies,
                **CLIENT_OPTIONS,
            )
        )

    @classmethod
    def from_endpoint(
        cls,
        endpoint: str,
        credential: AsyncTokenCredential,
        table: str,
        *,
        env_proxies: bool = True,
    ) -> "TableEventLog":
        return cls(
            TableClient(
                endpoint,
                table_name=table,
                credential=credential,
                use_env_settings=env_proxies,
                **CLIENT_OPTIONS,
            )
        )

    # --- EventLog -------------------------------------------------------------------------

    async def create(self, job: Job, first: EventDraft) -> tuple[Job, JobEvent]:
        recorded, event = job.record(first, self._clock())
        operations: list[Any] = [
            ("create", job_to_entity(recorded)),
            ("create", event_to_entity(event)),
        ]
        try:
            await self._table.submit_transaction(operations)
        except (TableTransactionError, ResourceExistsError) as exc:
            if _is_write_conflict(exc):
                raise JobAlreadyExists(job.job_id) from exc
            raise _unavailable("create job", exc) from exc
        except AzureError as exc:
            raise _unavailable("create job", exc) from exc
        return recorded, event

    async def get(self, job_id: str) -> Job | None:
        entity = await self._read_job(job_id)
        return None if entity is None else job_from_entity(entity)

    async def append(
        self, job_id: str, decide: Callable[[Job], EventDraft | None]
    ) -> tuple[Job, JobEvent | None]:
        for attempt in range(MAX_WRITE_ATTEMPTS):
            entity = await self._read_job(job_id)
            if entity is None:
                raise JobMissing(job_id)
            job = job_from_entity(entity)
            decided = job.record_decided(decide, self._clock)
            if decided is None:
                return job, None
            recorded, event = decided
            operations: list[Any] = [
                (
                    "update",
                    job_to_entity(recorded),
                    {
                        "mode": UpdateMode.REPLACE,
                        "etag": entity.metadata["etag"],
                        "match_condition": MatchConditions.IfNotModified,
                    },
                ),
                ("create", event_to_entity(event)),
            ]
            try:
                await self._table.submit_transaction(operations)
            except (TableTransactionError, HttpResponseError) as exc:
                if not _is_write_conflict(exc):
                    raise _unavailable("append event", exc) from exc
                await _backoff(attempt)
                continue
            except AzureError as exc:
                raise _unavailable("append event", exc) from exc
            return recorded, event
        raise ConcurrencyExhausted(f"job {job_id}: {MAX_WRITE_ATTEMPTS} lost write races")

    async def request_cancel(self, job_id: str) -> Job:
        for attempt in range(MAX_WRITE_ATTEMPTS):
            entity = await self._read_job(job_id)
            if entity is None:
                raise JobMissing(job_id)
            job = job_from_entity(entity)
            if job.cancel_requested:
                return job
            flagged = replace(job, cancel_requested=True)
            if await self._replace_if_unchanged(
                job_to_entity(flagged), entity.metadata["etag"], "request cancel"
            ):
                return flagged
            await _backoff(attempt)
        raise ConcurrencyExhausted(f"job {job_id}: {MAX_WRITE_ATTEMPTS} lost write races")

    async def events_after(self, job_id: str, after: int, limit: int = 100) -> list[JobEvent]:
        if limit <= 0 or not _is_valid_key(job_id):
            return []
        limit = min(limit, MAX_EVENTS_PAGE)
        query = "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi"
        params = {
            "pk": job_id,
            "lo": event_row_key(max(after, 0)),
            "hi": EVENT_PREFIX[:-1] + chr(ord(EVENT_PREFIX[-1]) + 1),
        }
        events: list[JobEvent] = []
        try:
            # A page may hold fewer rows than asked (the service may cut it short): follow
            # continuation tokens until `limit` rows or the end of the partition.
            entities = self._table.query_entities(query, parameters=params, results_per_page=limit)
            async for entity in entities:
                events.append(event_from_entity(entity))
                if len(events) >= limit:
                    break
        except AzureError as exc:
            raise _unavailable("read events", exc) from exc
        return events

    # --- IdempotencyKeys ------------------------------------------------------------------

    @staticmethod
    def _idempotency_address(owner: str, key: str) -> tuple[str, str]:
        return IDEMPOTENCY_PREFIX + _sha(owner), _sha(key)

    async def claim(self, owner: str, key: str, job_id: str, now: datetime | None = None) -> str:
        """Insert our claim; if one exists, return its job id unless it is abandoned, in which
        case replace it under its ETag (a concurrent taker or confirm makes ours fail: re-read)."""
        now = now or self._clock()
        partition, row = self._idempotency_address(owner, key)
        entity = _claim_to_entity(partition, row, new_claim(job_id, now))
        for attempt in range(MAX_CLAIM_ATTEMPTS):
            try:
                await self._table.create_entity(entity)
                return job_id
            except ResourceExistsError:
                pass
            except AzureError as exc:
                raise _unavailable("claim idempotency key", exc) from exc
            holder = await self._get_entity(partition, row)
            if holder is None:
                continue  # released between our create and our read: try again
            current = _claim_from_entity(holder)
            if current.job_id == job_id or not current.is_abandoned(now):
                return current.job_id
            if await self._replace_if_unchanged(
                entity, holder.metadata["etag"], "take over idempotency key"
            ):
                return job_id
            await _backoff(attempt)  # lost the race: the winner's claim is read next time
        raise ConcurrencyExhausted("idempotency key changed hands too often")

    async def lookup(self, owner: str, key: str) -> KeyClaim | None:
        holder = await self._get_entity(*self._idempotency_address(owner, key))
        return None if holder is None else _claim_from_entity(holder)

    async def confirm(self, owner: str, key: str, job_id: str) -> bool:
        partition, row = self._idempotency_address(owner, key)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            holder = await self._get_entity(partition, row)
            if holder is None:
                return False
            current = _claim_from_entity(holder)
            if current.job_id != job_id:
                return False
            if current.confirmed:
                return True
            confirmed = KeyClaim(job_id, confirmed=True, lease_until=current.lease_until)
            if await self._replace_if_unchanged(
                _claim_to_entity(partition, row, confirmed),
                holder.metadata["etag"],
                "confirm idempotency key",
            ):
                return True
            await _backoff(attempt)
        raise ConcurrencyExhausted("idempotency key changed hands too often")

    async def release(self, owner: str, key: str, job_id: str) -> None:
        partition, row = self._idempotency_address(owner, key)
        holder = await self._get_entity(partition, row)
        if holder is None or holder.get("jobId") != job_id:
            return
        try:
            await self._table.delete_entity(
                partition,
                row,
                etag=holder.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return
        except HttpResponseError as exc:
            if exc.status_code in (404, 412):
                return
            raise _unavailable("release idempotency key", exc) from exc
        except AzureError as exc:
            raise _unavailable("release idempotency key", exc) from exc

    # --- SecretStore ----------------------------------------------------------------------

    async def get_or_create(self, name: str, factory: Callable[[], bytes]) -> bytes:
        """The secret `name`; the first caller's `factory()` value wins for everyone."""
        if not _SECRET_NAME.match(name):
            raise ValueError(f"bad secret name {name!r}")
        existing = await self._get_entity(CONFIG_PARTITION, name)
        if existing is not None:
            return bytes(existing["value"])
        value = factory()
        try:
            await self._table.create_entity(
                {"PartitionKey": CONFIG_PARTITION, "RowKey": name, "value": value}
            )
            return value
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise _unavailable("store secret", exc) from exc
        winner = await self._get_entity(CONFIG_PARTITION, name)
        if winner is None:
            raise DependencyUnavailable("storage", f"secret {name!r} vanished after a conflict")
        return bytes(winner["value"])

    # --- health / lifecycle ---------------------------------------------------------------

    async def check(self) -> None:
        """The table answers (a missing table is a failure, a missing row is not)."""
        try:
            await self._table.get_entity(CONFIG_PARTITION, "health-probe")
        except ResourceNotFoundError as exc:
            code = str(getattr(exc, "error_code", None) or "")
            if code == "TableNotFound" or "TableNotFound" in str(exc):
                raise _unavailable(f"table {self._table.table_name!r}", exc) from exc
        except AzureError as exc:
            raise _unavailable(f"table {self._table.table_name!r}", exc) from exc

    async def close(self) -> None:
        await self._table.close()

    # --- helpers --------------------------------------------------------------------------

    async def _read_job(self, job_id: str) -> Any:
        if not _is_valid_key(job_id):
            return None
        return await self._get_entity(job_id, JOB_ROW)

    async def _replace_if_unchanged(self, entity: Any, etag: str, what: str) -> bool:
        """Replace `entity` only if the stored one still has `etag`. False when another
        writer changed or deleted it first (the caller re-reads and decides again)."""
        try:
            await self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except HttpResponseError as exc:
            if exc.status_code not in (404, 412):
                raise _unavailable(what, exc) from exc
            return False
        except AzureError as exc:
            raise _unavailable(what, exc) from exc
        return True

    async def _get_entity(self, partition: str, row: str) -> Any:
        try:
            return await self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise _unavailable("read", exc) from exc


def _is_valid_key(key: str) -> bool:
    return 0 < len(key) <= 512 and not _BAD_KEY_CHARS.search(key)


async def _backoff(attempt: int) -> None:
    """Jittered, capped back-off after a lost ETag race (spreads contending writers)."""
    await asyncio.sleep(random.uniform(0, min(0.005 * 2 ** min(attempt, 6), 0.2)))


def _unavailable(what: str, exc: AzureError) -> DependencyUnavailable:
    return DependencyUnavailable(
        "storage", f"table storage {what} failed: {exc.__class__.__name__}: {exc.message}"
    )
