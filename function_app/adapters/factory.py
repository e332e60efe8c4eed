"""Builds every adapter from `Settings`, lazily and once: what the composition root calls.

Local (Azurite + the Service Bus emulator): connection strings. Azure: endpoints and the
app's managed identity (`AZURE_CLIENT_ID` for a user-assigned one, else
`DefaultAzureCredential`), one credential shared by all clients. Creating an SDK client
does no I/O, so building is cheap; the first call to an adapter connects.
"""

from functools import cached_property
from typing import Protocol

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

from function_app.adapters.blob_uploads import BlobUploads
from function_app.adapters.otel_tracing import OpenTelemetryTracer
from function_app.adapters.queue_stats import ClosableQueueStats, queue_stats_for
from function_app.adapters.servicebus_queue import ServiceBusJobQueue
from function_app.adapters.table_storage import TableStorage
from function_app.ports import HealthProbe
from function_app.settings import Settings


class StorageAdapter[A](Protocol):
    """How a storage adapter is built: locally from a connection string, in Azure from its
    service endpoint and a credential; `resource` is its container or table."""

    def from_connection_string(
        self, connection_string: str, resource: str, /, *, env_proxies: bool
    ) -> A: ...

    def from_endpoint(
        self,
        endpoint: str,
        credential: AsyncTokenCredential,
        resource: str,
        /,
        *,
        env_proxies: bool,
    ) -> A: ...


class Adapters:
    """The app's adapters for one `Settings`. Each is built on first access; `close()` all."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Storage clients look proxies up in the environment only when some are set: aiohttp
        # does it on every request otherwise (a thread hop and a ~/.netrc read; a fifth of a
        # status read's CPU, profiled).
        self._env_proxies = settings.proxies_from_environment

    @cached_property
    def credential(self) -> AsyncTokenCredential:
        """The managed identity (Azure). Only built when an endpoint setting needs it."""
        if self._settings.AZURE_CLIENT_ID:
            return ManagedIdentityCredential(client_id=self._settings.AZURE_CLIENT_ID)
        return DefaultAzureCredential()

    @cached_property
    def uploads(self) -> BlobUploads:
        """`UploadSigner` + `UploadStore`."""
        return self._storage(
            BlobUploads, self._settings.STORAGE_BLOB_ENDPOINT, self._settings.UPLOADS_CONTAINER
        )

    @cached_property
    def table_storage(self) -> TableStorage:
        """The jobs table: `EventLog`, `IdempotencyKeys`, `SecretStore`."""
        return self._storage(
            TableStorage, self._settings.STORAGE_TABLE_ENDPOINT, self._settings.JOBS_TABLE
        )

    def _storage[A](self, adapter: StorageAdapter[A], endpoint: str | None, resource: str) -> A:
        """A storage adapter on the connection string when one is set (local), else on its
        service endpoint with the managed identity (Azure)."""
        connection_string = self._settings.STORAGE_CONNECTION_STRING
        if connection_string:
            return adapter.from_connection_string(
                connection_string, resource, env_proxies=self._env_proxies
            )
        assert endpoint  # guaranteed by Settings' validator
        return adapter.from_endpoint(
            endpoint, self.credential, resource, env_proxies=self._env_proxies
        )

    @cached_property
    def job_queue(self) -> ServiceBusJobQueue:
        s = self._settings
        queues = list(s.queues)
        if s.ServiceBusConnection:
            return ServiceBusJobQueue.from_connection_string(
                s.ServiceBusConnection, known_queues=queues
            )
        assert s.ServiceBusConnection__fullyQualifiedNamespace
        return ServiceBusJobQueue.from_namespace(
            s.ServiceBusConnection__fullyQualifiedNamespace, self.credential, known_queues=queues
        )

    @cached_property
    def queue_stats(self) -> ClosableQueueStats:
        s = self._settings
        needs_identity = not s.ServiceBusConnection
        return queue_stats_for(s, self.credential if needs_identity else None)

    @cached_property
    def tracer(self) -> OpenTelemetryTracer:
        """`Tracer` on the process's OpenTelemetry provider (`entrypoints/telemetry.py`)."""
        return OpenTelemetryTracer()

    @property
    def probes(self) -> list[HealthProbe]:
        """Health probes, named "storage" (blob, table) and "servicebus"."""
        return [self.uploads, self.table_storage, self.job_queue]

    async def close(self) -> None:
        """Close whatever was built (clients first, then the shared credential)."""
        built = self.__dict__
        for name in ("uploads", "table_storage", "job_queue", "queue_stats"):
            adapter = built.pop(name, None)
            if adapter is not None:
                await adapter.close()
        credential = built.pop("credential", None)
        if credential is not None:
            await credential.close()


def build_adapters(settings: Settings) -> Adapters:
    return Adapters(settings)
