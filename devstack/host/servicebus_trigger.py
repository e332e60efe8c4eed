"""Run a Service Bus queue trigger as the Functions host does.

One receive loop per trigger (PEEK_LOCK) with host.json `extensions.serviceBus`:
`maxConcurrentCalls` bounds the invocations in flight, `prefetchCount` goes to the
receiver, `maxAutoLockRenewalDuration` drives an AutoLockRenewer, and with
`autoCompleteMessages` a message is completed when the function returns. An exception
abandons it, so Service Bus redelivers it with delivery_count + 1 (and dead-letters it
after MaxDeliveryCount). Each received message becomes a real
`azure.functions.ServiceBusMessage`. If the broker goes away the loop reconnects with
backoff; `stop()` stops receiving, lets in-flight invocations finish, then closes.

(Over 300 lines: the host's settlement, lock renewal and concurrency rules for one trigger
read together.)
"""

import asyncio
import contextlib
import inspect
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.core.credentials_async import AsyncTokenCredential
from azure.functions.servicebus import ServiceBusMessage as WorkerServiceBusMessage
from azure.servicebus import ServiceBusReceivedMessage, ServiceBusSubQueue
from azure.servicebus.aio import AutoLockRenewer, ServiceBusClient, ServiceBusReceiver
from azure.servicebus.amqp import AmqpMessageBodyType
from azure.servicebus.exceptions import ServiceBusError

from devstack.host.host_json import ServiceBusOptions
from devstack.host.loader import IndexedFunction

log = logging.getLogger("devstack.host.servicebus")

DEAD_LETTER_SUFFIX = "/$deadletterqueue"
_SETTING_REF = re.compile(r"%([^%]+)%")
RECEIVE_WAIT_SECONDS = 1.0
BACKOFF_START_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 10.0
STOP_GRACE_SECONDS = RECEIVE_WAIT_SECONDS + 1.0


class TriggerConfigError(RuntimeError):
    """A trigger binding refers to a setting that is missing."""


def resolve_setting_expressions(text: str, environ: Mapping[str, str]) -> str:
    """Replace each %NAME% with the app setting NAME, as binding expressions do."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise TriggerConfigError(f"app setting {name!r} (used as %{name}%) is not set")
        return environ[name]

    return _SETTING_REF.sub(lookup, text)


@dataclass(frozen=True)
class QueueTrigger:
    function_name: str
    arg_name: str
    queue_name: str
    dead_letter: bool
    connection: str
    auto_complete: bool
    user_function: Callable[..., Any]

    @property
    def entity(self) -> str:
        return self.queue_name + ("/$DeadLetterQueue" if self.dead_letter else "")


def queue_triggers(
    functions: Sequence[IndexedFunction],
    options: ServiceBusOptions,
    environ: Mapping[str, str] | None = None,
) -> list[QueueTrigger]:
    env = os.environ if environ is None else environ
    found = []
    for function in functions:
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "serviceBusTrigger":
            continue
        spec = trigger.get_dict_repr()
        if "queueName" not in spec:
            raise TriggerConfigError(
                f"{function.get_function_name()}: only queue triggers are supported locally"
            )
        queue = resolve_setting_expressions(str(spec["queueName"]), env)
        dead_letter = queue.lower().endswith(DEAD_LETTER_SUFFIX)
        if dead_letter:
            queue = queue[: -len(DEAD_LETTER_SUFFIX)]
        auto_complete = spec.get("autoCompleteMessages")
        found.append(
            QueueTrigger(
                function_name=str(function.get_function_name()),
                arg_name=str(spec["name"]),
                queue_name=queue,
                dead_letter=dead_letter,
                connection=resolve_setting_expressions(str(spec["connection"]), env),
                auto_complete=options.auto_complete_messages
                if auto_complete is None
                else bool(auto_complete),
                user_function=function.get_user_function(),
            )
        )
    return found


def client_for(connection: str, environ: Mapping[str, str] | None = None) -> ServiceBusClient:
    """A client from the connection named by the binding, as the Functions host builds it:
    a connection string in `<connection>`, or identity-based `<connection>__fullyQualifiedNamespace`
    (+ `__credential=managedidentity`, `__clientId`)."""
    env = os.environ if environ is None else environ
    if env.get(connection):
        return ServiceBusClient.from_connection_string(env[connection])
    namespace = env.get(f"{connection}__fullyQualifiedNamespace")
    if not namespace:
        raise TriggerConfigError(
            f"connection {connection!r}: set {connection} (connection string) or "
            f"{connection}__fullyQualifiedNamespace (managed identity)"
        )
    return ServiceBusClient(namespace, _credential(connection, env))


def _credential(connection: str, env: Mapping[str, str]) -> AsyncTokenCredential:
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    client_id = env.get(f"{connection}__clientId")
    if env.get(f"{connection}__credential", "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential(managed_identity_client_id=client_id)


def _text(value: object) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def function_delivery_count(message: ServiceBusReceivedMessage) -> int:
    """The delivery count as the Functions host reports it: 1 on the first delivery.

    On the wire Service Bus sends the AMQP header's delivery-count, the number of *previous*
    attempts (0 first); the Python SDK exposes it as is, while the host (built on the .NET
    SDK) adds one. Functions compare it with MaxDeliveryCount, so it must be 1-based here.
    """
    return (message.delivery_count or 0) + 1


def to_function_message(message: ServiceBusReceivedMessage) -> func.ServiceBusMessage:
    """The `func.ServiceBusMessage` the Python worker would pass for this message."""
    raw = message.body
    if message.body_type == AmqpMessageBodyType.DATA:
        body = b"".join(raw)
    elif isinstance(raw, bytes):
        body = raw
    else:
        body = str(raw).encode("utf-8")
    properties = {
        str(_text(k)): _text(v) for k, v in (message.application_properties or {}).items()
    }
    lock_token = message.lock_token
    return WorkerServiceBusMessage(
        body=body,
        application_properties=properties,
        user_properties=dict(properties),
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        dead_letter_error_description=message.dead_letter_error_description,
        dead_letter_reason=message.dead_letter_reason,
        dead_letter_source=message.dead_letter_source,
        delivery_count=function_delivery_count(message),
        enqueued_sequence_number=message.enqueued_sequence_number,
        enqueued_time_utc=message.enqueued_time_utc,
        expires_at_utc=message.expires_at_utc,
        label=message.subject,
        locked_until=message.locked_until_utc,
        lock_token=str(lock_token) if lock_token is not None else None,
        message_id=str(message.message_id),
        partition_key=message.partition_key,
        reply_to=message.reply_to,
        reply_to_session_id=message.reply_to_session_id,
        scheduled_enqueue_time_utc=message.scheduled_enqueue_time_utc,
        sequence_number=message.sequence_number,
        session_id=message.session_id,
        state=int(message.state) if message.state is not None else None,
        subject=message.subject,
        time_to_live=message.time_to_live,
        to=message.to,
    )


# Runs the function for one message; an exception means it failed (the host abandons).
MessageInvoker = Callable[[QueueTrigger, ServiceBusReceivedMessage], Awaitable[None]]


async def invoke_here(trigger: QueueTrigger, message: ServiceBusReceivedMessage) -> None:
    """In this process: the function gets a `func.ServiceBusMessage` built here."""
    kwargs = {trigger.arg_name: to_function_message(message)}
    if inspect.iscoroutinefunction(trigger.user_function):
        await trigger.user_function(**kwargs)
    else:
        await asyncio.to_thread(trigger.user_function, **kwargs)


class QueueTriggerRunner:
    """The receive loop for one trigger. `run()` until `stop()`."""

    def __init__(
        self,
        trigger: QueueTrigger,
        options: ServiceBusOptions,
        client_factory: Callable[[str], ServiceBusClient] = client_for,
        invoke: MessageInvoker = invoke_here,
    ) -> None:
        self.trigger = trigger
        self._run = invoke
        self.options = options
        self._client_factory = client_factory
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self.invocations = 0
        self.failures = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = BACKOFF_START_SECONDS
        while not self._stopping.is_set():
            try:
                await self._session_until_stopped()
                backoff = BACKOFF_START_SECONDS
            except (ServiceBusError, OSError, TimeoutError) as exc:
                log.warning(
                    "%s: receiver on %s failed (%s); reconnecting in %.1fs",
                    self.trigger.function_name,
                    self.trigger.entity,
                    exc.__class__.__name__,
                    backoff,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _session_until_stopped(self) -> None:
        """Run a session; after `stop()`, give it a moment to end by itself, then cancel it
        if nothing is in flight (it is stuck connecting or in the SDK's own retries)."""
        session = asyncio.create_task(self._session())
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not session.done():
                _, pending = await asyncio.wait({session}, timeout=STOP_GRACE_SECONDS)
                while pending and self._inflight:
                    _, pending = await asyncio.wait({session}, timeout=STOP_GRACE_SECONDS)
                if pending:
                    session.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await session
                    return
            await session
        finally:
            stopping.cancel()

    async def _session(self) -> None:
        renewer = AutoLockRenewer(
            max_lock_renewal_duration=self.options.max_auto_lock_renewal.total_seconds()
        )
        client = self._client_factory(self.trigger.connection)
        try:
            async with client:
                receiver = client.get_queue_receiver(
                    self.trigger.queue_name,
                    sub_queue=ServiceBusSubQueue.DEAD_LETTER if self.trigger.dead_letter else None,
                    prefetch_count=self.options.prefetch_count,
                )
                async with receiver:
                    try:
                        await self._receive(receiver, renewer)
                    finally:
                        await self._drain()
        finally:
            await renewer.close()

    async def _receive(self, receiver: ServiceBusReceiver, renewer: AutoLockRenewer) -> None:
        limit = self.options.max_concurrent_calls
        while not self._stopping.is_set():
            free = limit - len(self._inflight)
            if free <= 0:
                await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
                continue
            # One message per call: asking for more makes the SDK linger 200 ms after the
            # first one arrives, waiting to fill the batch (measured: p50 enqueue->done
            # 333 ms with batches). Concurrency comes from not awaiting the invocation.
            batch = await receiver.receive_messages(
                max_message_count=1, max_wait_time=RECEIVE_WAIT_SECONDS
            )
            for message in batch:
                if self.options.max_auto_lock_renewal.total_seconds() > 0:
                    renewer.register(receiver, message)
                task = asyncio.create_task(self._invoke(receiver, message))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _drain(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _invoke(
        self, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage
    ) -> None:
        self.invocations += 1
        try:
            await self._run(self.trigger, message)
        except Exception as exc:
            self.failures += 1
            log.error(
                "%s failed for message %s (delivery %s): %r; abandoning",
                self.trigger.function_name,
                message.message_id,
                message.delivery_count,
                exc,
            )
            await self._settle(receiver.abandon_message, message, "abandon")
            return
        if self.trigger.auto_complete:
            await self._settle(receiver.complete_message, message, "complete")

    async def _settle(
        self,
        settle: Callable[[ServiceBusReceivedMessage], Any],
        message: ServiceBusReceivedMessage,
        what: str,
    ) -> None:
        try:
            await settle(message)
        except (ServiceBusError, OSError) as exc:
            # The lock is gone (expired or the connection dropped): Service Bus redelivers.
            log.warning(
                "%s: could not %s message %s: %r",
                self.trigger.function_name,
                what,
                message.message_id,
                exc,
            )
