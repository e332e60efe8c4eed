"""Queue statistics (active, dead-lettered, scheduled messages): `QueueStats`, two ways.

- Azure: the Service Bus administration API (`get_queue_runtime_properties`), with the
  same connection string or managed identity as the sender. Reading runtime counts needs
  the Manage right under SAS; with an identity, both stacks grant a custom role holding
  only `Microsoft.ServiceBus/namespaces/queues/read` on each queue (docs/deploy.md). If
  the call is refused, it is reported as `servicebus` unavailable (503).
- The local emulator: its HTTP admin endpoint,
  `GET {SERVICEBUS_EMULATOR_ADMIN_URL}/queues/{name}/runtime` ->
  `{"name", "activeMessageCount", "deadLetterMessageCount", "scheduledMessageCount",
  "totalMessageCount"}`, 404 for an unknown queue (the administration client speaks
  HTTPS/ATOM to a fixed `https://` URL and cannot reach the emulator).

`queue_stats_for` picks one from the settings. Unknown queues raise
`NotFound(code="unknown_queue")`; anything else `DependencyUnavailable("servicebus")`.
"""

from typing import Any, Protocol
from urllib.parse import quote

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.servicebus.aio.management import ServiceBusAdministrationClient

from function_app.domain.errors import DependencyUnavailable, NotFound
from function_app.ports import QueueCounts
from function_app.settings import Settings

EMULATOR_TIMEOUT_SECONDS = 5.0


class ClosableQueueStats(Protocol):
    async def counts(self, queue_name: str) -> QueueCounts: ...

    async def close(self) -> None: ...


def _unknown(queue_name: str) -> NotFound:
    return NotFound(f"queue {queue_name!r} does not exist", code="unknown_queue")


class AdministrationQueueStats:
    """Runtime counts from the Service Bus administration API (Azure)."""

    def __init__(self, client: ServiceBusAdministrationClient) -> None:
        self._client = client

    async def counts(self, queue_name: str) -> QueueCounts:
        try:
            props = await self._client.get_queue_runtime_properties(queue_name)
        except ResourceNotFoundError as exc:
            raise _unknown(queue_name) from exc
        except AzureError as exc:
            raise DependencyUnavailable(
                "servicebus", f"queue statistics failed: {exc.__class__.__name__}"
            ) from exc
        return QueueCounts(
            queue_name=queue_name,
            active=int(props.active_message_count or 0),
            dead_letter=int(props.dead_letter_message_count or 0),
            scheduled=int(props.scheduled_message_count or 0),
        )

    async def close(self) -> None:
        await self._client.close()


class EmulatorQueueStats:
    """Runtime counts from the local Service Bus emulator's HTTP admin endpoint."""

    def __init__(self, admin_url: str, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(
            base_url=admin_url.rstrip("/"), timeout=EMULATOR_TIMEOUT_SECONDS
        )

    async def counts(self, queue_name: str) -> QueueCounts:
        try:
            response = await self._client.get(f"/queues/{quote(queue_name, safe='')}/runtime")
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(
                "servicebus", f"emulator admin endpoint unreachable: {exc.__class__.__name__}"
            ) from exc
        if response.status_code == 404:
            raise _unknown(queue_name)
        if response.status_code != 200:
            raise DependencyUnavailable(
                "servicebus", f"emulator admin endpoint answered {response.status_code}"
            )
        try:
            body: Any = response.json()
            return QueueCounts(
                queue_name=queue_name,
                active=int(body["activeMessageCount"]),
                dead_letter=int(body["deadLetterMessageCount"]),
                scheduled=int(body["scheduledMessageCount"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DependencyUnavailable(
                "servicebus", "emulator admin endpoint sent an unreadable answer"
            ) from exc

    async def close(self) -> None:
        await self._client.aclose()


def is_emulator_connection(connection_string: str | None) -> bool:
    if not connection_string:
        return False
    parts = (p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    return any(
        k.strip().lower() == "usedevelopmentemulator" and v.strip() == "true" for k, v in parts
    )


def queue_stats_for(
    settings: Settings, credential: AsyncTokenCredential | None = None
) -> ClosableQueueStats:
    """The emulator's endpoint for a `UseDevelopmentEmulator=true` connection, else Azure's."""
    connection = settings.ServiceBusConnection
    if is_emulator_connection(connection):
        if not settings.SERVICEBUS_EMULATOR_ADMIN_URL:
            raise ValueError(
                "SERVICEBUS_EMULATOR_ADMIN_URL is required with UseDevelopmentEmulator=true"
            )
        return EmulatorQueueStats(settings.SERVICEBUS_EMULATOR_ADMIN_URL)
    if connection:
        return AdministrationQueueStats(
            ServiceBusAdministrationClient.from_connection_string(connection)
        )
    namespace = settings.ServiceBusConnection__fullyQualifiedNamespace
    if not namespace or credential is None:
        raise ValueError(
            "ServiceBusConnection__fullyQualifiedNamespace and a credential are required"
        )
    return AdministrationQueueStats(ServiceBusAdministrationClient(namespace, credential))
