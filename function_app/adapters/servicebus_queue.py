"""Service Bus, the job queue: sends one message per job (MessageId = job id).

Implements `JobQueue` (and a `check()` health probe) on the async Service Bus SDK. One
client for the app, connected with a connection string (local emulator) or a fully
qualified namespace and a managed identity credential (Azure); one cached sender per
queue, opened on first use. Each message is JSON with `content_type` application/json,
`MessageId` = job id (duplicate detection drops a repeated send) and the application
properties `jobName` and `owner`. SDK exceptions stop here: a queue the app does not know
(`known_queues`) is refused before any I/O with `InvalidRequest(code="unknown_queue")`; a
known queue missing from the namespace, or any broker failure, is
`DependencyUnavailable("servicebus", ...)` (the deployment, not the request, is wrong).

`check()` opens (and closes) a sender on one known queue: it proves the connection, the
credentials and that the queue exists (the broker refuses the attach with `amqp:not-found`).
"""

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient, ServiceBusSender
from azure.servicebus.exceptions import MessagingEntityNotFoundError, ServiceBusError

from function_app.domain.errors import DependencyUnavailable, InvalidRequest

SEND_TIMEOUT_SECONDS = 30.0
CHECK_TIMEOUT_SECONDS = 10.0
RETRY_TOTAL = 2
MESSAGE_PROPERTIES = ("jobName", "owner")


class ServiceBusJobQueue:
    """`JobQueue` on Service Bus, plus the "servicebus" health probe."""

    name = "servicebus"

    def __init__(
        self,
        client: ServiceBusClient,
        *,
        known_queues: Iterable[str] | None = None,
        probe_queue: str | None = None,
    ) -> None:
        """`known_queues`: the queues sends may target (None: any). `probe_queue`: the queue
        `check()` opens a sender on (default: the first known queue)."""
        self._client = client
        self._known = None if known_queues is None else frozenset(known_queues)
        self._probe_queue = probe_queue or (min(self._known) if self._known else None)
        self._senders: dict[str, ServiceBusSender] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        *,
        known_queues: Iterable[str] | None = None,
        probe_queue: str | None = None,
    ) -> "ServiceBusJobQueue":
        client = ServiceBusClient.from_connection_string(connection_string, retry_total=RETRY_TOTAL)
        return cls(client, known_queues=known_queues, probe_queue=probe_queue)

    @classmethod
    def from_namespace(
        cls,
        fully_qualified_namespace: str,
        credential: AsyncTokenCredential,
        *,
        known_queues: Iterable[str] | None = None,
        probe_queue: str | None = None,
    ) -> "ServiceBusJobQueue":
        client = ServiceBusClient(fully_qualified_namespace, credential, retry_total=RETRY_TOTAL)
        return cls(client, known_queues=known_queues, probe_queue=probe_queue)

    async def send(self, queue_name: str, job_id: str, body: Mapping[str, Any]) -> None:
        if self._known is not None and queue_name not in self._known:
            raise InvalidRequest(f"unknown queue {queue_name!r}", code="unknown_queue")
        message = ServiceBusMessage(
            json.dumps(dict(body), separators=(",", ":"), default=str),
            message_id=job_id,
            content_type="application/json",
            application_properties={
                key: str(body[key]) for key in MESSAGE_PROPERTIES if body.get(key) is not None
            },
        )
        sender = await self._sender(queue_name)
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await sender.send_messages(message)
        except MessagingEntityNotFoundError as exc:
            await self._drop_sender(queue_name)
            raise DependencyUnavailable(
                "servicebus", f"queue {queue_name!r} does not exist in the namespace"
            ) from exc
        except ServiceBusError as exc:
            await self._drop_sender(queue_name)
            raise _unavailable(f"send to {queue_name!r}", exc) from exc
        except TimeoutError as exc:
            await self._drop_sender(queue_name)
            raise DependencyUnavailable(
                "servicebus", f"send to {queue_name!r} timed out after {SEND_TIMEOUT_SECONDS}s"
            ) from exc

    async def check(self) -> None:
        """Open (and close) a sender: connection, authentication and the queue all answer."""
        if self._probe_queue is None:
            return
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                async with self._client.get_queue_sender(self._probe_queue):
                    pass
        except MessagingEntityNotFoundError as exc:
            raise DependencyUnavailable(
                "servicebus", f"queue {self._probe_queue!r} does not exist"
            ) from exc
        except ServiceBusError as exc:
            raise _unavailable(f"open queue {self._probe_queue!r}", exc) from exc
        except TimeoutError as exc:
            raise DependencyUnavailable(
                "servicebus", f"no answer within {CHECK_TIMEOUT_SECONDS}s"
            ) from exc

    async def close(self) -> None:
        async with self._lock:
            senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await _close_quietly(sender)
        await self._client.close()

    async def _sender(self, queue_name: str) -> ServiceBusSender:
        async with self._lock:
            sender = self._senders.get(queue_name)
            if sender is None:
                sender = self._client.get_queue_sender(queue_name)
                self._senders[queue_name] = sender
            return sender

    async def _drop_sender(self, queue_name: str) -> None:
        async with self._lock:
            sender = self._senders.pop(queue_name, None)
        if sender is not None:
            await _close_quietly(sender)


async def _close_quietly(sender: ServiceBusSender) -> None:
    # closing a broken link: nothing left to release
    with contextlib.suppress(ServiceBusError, OSError, TimeoutError):
        await sender.close()


def _unavailable(what: str, exc: ServiceBusError) -> DependencyUnavailable:
    return DependencyUnavailable(
        "servicebus", f"service bus {what} failed: {exc.__class__.__name__}: {exc.message}"
    )
