"""Table Storage, the jobs table: one adapter for the service, one module per port.

`TableStorage` owns the one `TableClient` and offers the ports that live in the table:
`event_log` (`EventLog`: jobs and their events, `event_log.py`), `idempotency_keys`
(`IdempotencyKeys`, `idempotency_keys.py`), `secrets` (`SecretStore`, `secrets.py`),
`upload_claims` (`UploadClaims`, `upload_claims.py`), `step_durations` (`StepDurations`:
learned step times, `step_durations.py`) and `caller_feed` (`CallerFeed`: every event of an
owner's jobs in one ordered partition, `caller_feed.py`), `worker_presence`
(`WorkerPresence`: worker instances' heartbeats, `worker_presence.py`) and
`queue_counters(worker id)` (`QueueCounters`: jobs ended by outcome, `queue_counters.py`),
`open_jobs` (`OpenJobs`: the sweeper's index of jobs that may not have ended, `open_jobs.py`),
plus the "storage" health probe.
`rows.py` is the toolkit they share: field codecs, conditional writes, and the read ->
decide -> conditional-write loop.

Layout of the one table:

| PartitionKey            | RowKey              | what                                   |
|-------------------------|---------------------|----------------------------------------|
| `<job id>`              | `job`               | the job record (current state, ETag)   |
| `<job id>`              | `evt-0000000001`... | its events, zero-padded sequence       |
| `idem-<sha256(owner)>`  | `<sha256(key)>`     | which job an Idempotency-Key is for    |
| `config`                | `<secret name>`     | app secrets generated at run time      |
| `upload-<sha256(blob)>` | `claim`             | the job that first used an upload      |
| `durations`             | `<job name>`        | learned step durations of a job type   |
| `feed-<hash(owner)>`    | `e-<position>`      | one event in its owner's feed          |
| `feed-<hash(owner)>`    | `m-<job id>`        | how far a job's events are in the feed |
| `workers`               | `<worker id>`       | a worker instance's latest heartbeat   |
| `counters`              | `<queue>.<worker>`  | jobs an instance ended, by outcome     |
| `open-<00..15>`         | `<job id>`          | a job that may not have ended (sweeper) |
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables.aio import TableClient

from function_app.adapters.table_storage.caller_feed import TableCallerFeed
from function_app.adapters.table_storage.event_log import TableEventLog
from function_app.adapters.table_storage.idempotency_keys import TableIdempotencyKeys
from function_app.adapters.table_storage.open_jobs import TableOpenJobs
from function_app.adapters.table_storage.queue_counters import TableQueueCounters
from function_app.adapters.table_storage.rows import TableRows, unavailable
from function_app.adapters.table_storage.secrets import CONFIG_PARTITION, TableSecrets
from function_app.adapters.table_storage.step_durations import TableStepDurations
from function_app.adapters.table_storage.upload_claims import TableUploadClaims
from function_app.adapters.table_storage.worker_presence import TableWorkerPresence

__all__ = [
    "TableCallerFeed",
    "TableEventLog",
    "TableIdempotencyKeys",
    "TableOpenJobs",
    "TableQueueCounters",
    "TableSecrets",
    "TableStepDurations",
    "TableStorage",
    "TableUploadClaims",
    "TableWorkerPresence",
]

# Fail within seconds when storage is down (the SDK default retries for minutes).
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.4,
    "retry_backoff_max": 2,
    "connection_timeout": 5,
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TableStorage:
    """The jobs table: its ports over one client, and the "storage" health probe."""

    name = "storage"

    def __init__(self, table: TableClient, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._table = table
        rows = TableRows(table)
        self.event_log = TableEventLog(rows, clock)
        self.idempotency_keys = TableIdempotencyKeys(rows, clock)
        self.secrets = TableSecrets(rows)
        self.upload_claims = TableUploadClaims(rows)
        self.step_durations = TableStepDurations(rows)
        self.caller_feed = TableCallerFeed(rows, clock)
        self.worker_presence = TableWorkerPresence(rows)
        self.open_jobs = TableOpenJobs(rows)
        self._rows = rows

    def queue_counters(self, worker_id: str) -> TableQueueCounters:
        """The outcome counters, this instance's rows named for `worker_id`."""
        return TableQueueCounters(self._rows, worker_id)

    @classmethod
    def from_connection_string(
        cls, connection_string: str, table: str, *, env_proxies: bool = True
    ) -> "TableStorage":
        """`env_proxies`: honour HTTP(S)_PROXY (see `Settings.proxies_from_environment`)."""
        return cls(
            TableClient.from_connection_string(
                connection_string, table_name=table, use_env_settings=env_proxies, **CLIENT_OPTIONS
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
    ) -> "TableStorage":
        return cls(
            TableClient(
                endpoint,
                table_name=table,
                credential=credential,
                use_env_settings=env_proxies,
                **CLIENT_OPTIONS,
            )
        )

    @property
    def client(self) -> TableClient:
        """The SDK client (benchmarks time it bare, with the app's options)."""
        return self._table

    async def check(self) -> None:
        """The table answers (a missing table is a failure, a missing row is not)."""
        try:
            await self._table.get_entity(CONFIG_PARTITION, "health-probe")
        except ResourceNotFoundError as exc:
            code = str(getattr(exc, "error_code", None) or "")
            if code == "TableNotFound" or "TableNotFound" in str(exc):
                raise unavailable(f"table {self._table.table_name!r}", exc) from exc
        except AzureError as exc:
            raise unavailable(f"table {self._table.table_name!r}", exc) from exc

    async def close(self) -> None:
        await self._table.close()
