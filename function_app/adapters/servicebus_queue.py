"""Service Bus, the job queue: sends one message per job (MessageId = job id).

Implements `JobQueue` (and a `check()` health probe) on the async Service Bus SDK. One
client for the app, connected with a connection string (local emulator) or a fully
qualified namespace and a managed identity credential (Azure). Each message is JSON with
`content_type` application/json, `MessageId` = job id (duplicate detection drops a repeated
send) and the application properties `jobName`, `owner` and, when the job is traced,
`Diagnostic-Id` and `traceparent` (the sending span, W3C format, as the SDK's tracing sets
them). Sends go through one `QueueOutbox` per queue (`servicebus_outbox`: concurrency,
retries, budgets). A queue the app does not know (`known_queues`) is refused before any I/O with
`InvalidRequest(code="unknown_queue")`.

`check()` opens (and closes) a sender of its own on one known queue: it proves the
connection, the credentials and that the queue exists (the broker refuses the attach with
`amqp:not-found`).
"""

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict, Unpack

from azure.core.credentials_async import AsyncTokenCredential
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient
from azure.servicebus.exceptions import MessagingEntityNotFoundError, ServiceBusError

from function_app.adapters.servicebus_outbox import QueueOutbox, SendPolicy, describe_error
from function_app.domain.errors import DependencyUnavailable, InvalidRequest
from function_app.domain.tracing import TraceContext

CHECK_TIMEOUT_SECONDS = 10.0
# The outbox's retries are the policy; the SDK's would stack a second, longer one under it.
SDK_RETRY_TOTAL = 0
MESSAGE_PROPERTIES = ("jobName", "owner")
# The trace context properties, as the SDK's own tracing writes them (`Diagnostic-Id` and
# `traceparent`, both the sending span's traceparent). Bytes keys, as the SDK uses: when its
# tracing is on (azure-core-tracing via azure-monitor-opentelemetry) it adds these with
# `setdefault`, so ours stay and no key is written twice.
DIAGNOSTIC_ID = b"Diagnostic-Id"
TRACEPARENT = b"traceparent"


def trace_properties(trace: TraceContext) -> dict[str | bytes, str]:
    """The application properties that carry `trace` to the worker."""
    return {DIAGNOSTIC_ID: trace.traceparent, TRACEPARENT: trace.traceparent}


class QueueOptions(TypedDict, total=False):
    """`known_queues`: the queues sends may target (None: any). `probe_queue`: the queue
    `check()` opens a sender on (default: the first known queue). `policy`: retries, budgets."""

    known_queues: Iterable[str] | None
    probe_queue: str | None
    policy: SendPolicy | None


class ServiceBusJobQueue:
    """`JobQueue` on Service Bus, plus the "servicebus" health probe."""

    name = "servicebus"

    def __init__(self, client: ServiceBusClient, **options: Unpack[QueueOptions]) -> None:
        self._client = client
        known = options.get("known_queues")
        self._known = None if known is None else frozenset(known)
        self._probe_queue = options.get("probe_queue") or (
            min(self._known) if self._known else None
        )
        self._policy = options.get("policy") or SendPolicy()
        self._outboxes: dict[str, QueueOutbox] = {}
        self._closed = False

    @classmethod
    def from_connection_string(
        cls, connection_string: str, **options: Unpack[QueueOptions]
    ) -> "ServiceBusJobQueue":
        client = ServiceBusClient.from_connection_string(
            connection_string, retry_total=SDK_RETRY_TOTAL
        )
        return cls(client, **options)

    @classmethod
    def from_namespace(
        cls,
        fully_qualified_namespace: str,
        credential: AsyncTokenCredential,
        **options: Unpack[QueueOptions],
    ) -> "ServiceBusJobQueue":
        client = ServiceBusClient(
            fully_qualified_namespace, credential, retry_total=SDK_RETRY_TOTAL
        )
        return cls(client, **options)

    @property
    def outboxes(self) -> Mapping[str, QueueOutbox]:
        """The outboxes opened so far, by queue (read-only; for tests and diagnostics)."""
        return dict(self._outboxes)

    async def send(
        self,
        queue_name: str,
        job_id: str,
        body: Mapping[str, Any],
        *,
        trace: TraceContext | None = None,
    ) -> None:
        if self._known is not None and queue_name not in self._known:
            raise InvalidRequest(f"unknown queue {queue_name!r}", code="unknown_queue")
        properties: dict[str | bytes, Any] = {
            key: str(body[key]) for key in MESSAGE_PROPERTIES if body.get(key) is not None
        }
        if trace is not None:
            properties.update(trace_properties(trace))
        message = ServiceBusMessage(
            json.dumps(dict(body), separators=(",", ":"), default=str),
            message_id=job_id,
            content_type="application/json",
            application_properties=properties,
        )
        await self._outbox(queue_name).send(message)

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
            raise DependencyUnavailable(
                "servicebus", f"open queue {self._probe_queue!r} failed: {describe_error(exc)}"
            ) from exc
        except TimeoutError as exc:
            raise DependencyUnavailable(
                "servicebus", f"no answer within {CHECK_TIMEOUT_SECONDS}s"
            ) from exc

    async def close(self) -> None:
        self._closed = True
        outboxes, self._outboxes = list(self._outboxes.values()), {}
        for outbox in outboxes:
            await outbox.close()
        await self._client.close()

    def _outbox(self, queue_name: str) -> QueueOutbox:
        if self._closed:
            raise DependencyUnavailable("servicebus", "the job queue is closed")
        outbox = self._outboxes.get(queue_name)
        if outbox is None:  # no await between the lookup and the insert: one per queue
            outbox = QueueOutbox(self._client, queue_name, self._policy)
            self._outboxes[queue_name] = outbox
        return outbox
