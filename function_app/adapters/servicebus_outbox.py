"""One queue's outbox: every job message sent to that queue goes through it."""

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass

from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient, ServiceBusSender
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    ServiceBusError,
    ServiceBusQuotaExceededError,
)

from function_app.domain.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

SEND_BUDGET_SECONDS = 8.0  # per message, all attempts: then 503 with Retry-After
ATTEMPT_TIMEOUT_SECONDS = 4.0  # one open + send
BACKOFF_FIRST_SECONDS = 0.05
BACKOFF_MAX_SECONDS = 1.0
MAX_BATCH_MESSAGES = 100
# Retrying cannot help: the deployment or the message is wrong.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    MessagingEntityNotFoundError,
    MessageSizeExceededError,
    ServiceBusQuotaExceededError,
)
# What a broken attempt raises: the SDK's errors, the socket's, our timeout, and the SDK's
# ValueError / AttributeError from a handler that shut down under it.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ServiceBusError,
    OSError,
    TimeoutError,
    ValueError,
    AttributeError,
)


@dataclass(frozen=True)
class SendPolicy:
    budget_seconds: float = SEND_BUDGET_SECONDS
    attempt_timeout_seconds: float = ATTEMPT_TIMEOUT_SECONDS
    backoff_first_seconds: float = BACKOFF_FIRST_SECONDS
    backoff_max_seconds: float = BACKOFF_MAX_SECONDS
    max_batch_messages: int = MAX_BATCH_MESSAGES

    def backoff(self, attempt: int) -> float:
        """Exponential with full jitter, so outboxes that failed together do not retry in step."""
        ceiling = min(self.backoff_max_seconds, self.backoff_first_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(eq=False)
class _Waiting:
    message: ServiceBusMessage
    done: asyncio.Future[None]
    deadline: float
    last_error: str = "no attempt yet"


class QueueOutbox:
    """Everything sent to one queue: one sender, used by one task, sending batches."""

    def __init__(self, client: ServiceBusClient, queue_name: str, policy: SendPolicy) -> None:
        self._client = client
        self.queue_name = queue_name
        self._policy = policy
        self._waiting: deque[_Waiting] = deque()
        self._in_flight: list[_Waiting] = []
        self._sender: ServiceBusSender | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches_sent = 0
        self.senders_opened = 0

    async def send(self, message: ServiceBusMessage) -> None:
        if self._closed:
            raise DependencyUnavailable("servicebus", "the job queue is closed")
        loop = asyncio.get_running_loop()
        waiting = _Waiting(message, loop.create_future(), loop.time() + self._policy.budget_seconds)
        self._waiting.append(waiting)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._send_waiting(), name=f"outbox {self.queue_name}")
        await waiting.done

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for waiting in self._waiting:
            _fail(waiting, DependencyUnavailable("servicebus", "the job queue closed"))
        self._waiting.clear()
        await self._drop_sender()

    async def _send_waiting(self) -> None:
        """Until nothing waits: take a batch, send it; after a transient failure back off and
        try the same messages again (each until its own deadline)."""
        attempt = 0
        try:
            while self._waiting:
                batch = self._in_flight = self._take_batch()
                if not batch:
                    continue
                failure = await self._attempt(batch)
                self._in_flight = []
                if failure is None:
                    attempt = 0
                    continue
                attempt += 1
                pause = self._policy.backoff(attempt)
                retry_at = asyncio.get_running_loop().time() + pause
                again = [w for w in batch if not w.done.done() and w.deadline > retry_at]
                for waiting in batch:
                    if waiting not in again:
                        _fail(waiting, self._gave_up(waiting))
                self._waiting.extendleft(reversed(again))
                if self._waiting:
                    await asyncio.sleep(pause)
        except BaseException as exc:  # cancelled (close) or a bug: nobody may wait forever
            aborted = DependencyUnavailable("servicebus", f"send aborted: {exc!r}")
            for waiting in (*self._in_flight, *self._waiting):
                _fail(waiting, aborted)
            self._waiting.clear()
            raise
        finally:
            self._in_flight = []

    def _take_batch(self) -> list[_Waiting]:
        now = asyncio.get_running_loop().time()
        batch: list[_Waiting] = []
        while self._waiting and len(batch) < self._policy.max_batch_messages:
            waiting = self._waiting.popleft()
            if waiting.done.done():  # its request went away
                continue
            if waiting.deadline <= now:
                _fail(waiting, self._gave_up(waiting))
                continue
            batch.append(waiting)
        return batch

    async def _attempt(self, batch: list[_Waiting]) -> Exception | None:
        """One open (if needed) + one batch send. Settles each message's future on success or
        permanent failure; returns the error of a transient failure (futures left pending)."""
        try:
            async with asyncio.timeout(self._policy.attempt_timeout_seconds):
                sender = await self._open_sender()
                rest = await self._send_batch(sender, batch)
        except PERMANENT_ERRORS as exc:
            await self._drop_sender()
            error = _permanent(self.queue_name, exc)
            for waiting in batch:
                _fail(waiting, error)
            return None
        except TRANSIENT_ERRORS as exc:
            await self._drop_sender()
            described = describe_error(exc)
            logger.warning(
                "send of %d message(s) to %s failed (%s); retrying within each one's budget",
                len(batch),
                self.queue_name,
                described,
            )
            for waiting in batch:
                waiting.last_error = described
            return exc
        self.batches_sent += 1
        for waiting in batch[: len(batch) - len(rest)]:
            if not waiting.done.done():
                waiting.done.set_result(None)
        self._waiting.extendleft(reversed(rest))
        return None

    async def _send_batch(self, sender: ServiceBusSender, batch: list[_Waiting]) -> list[_Waiting]:
        """Send as many of `batch` as one broker batch holds; returns those that did not fit."""
        if len(batch) == 1:
            await sender.send_messages(batch[0].message)
            return []
        message_batch = await sender.create_message_batch()
        fitted = 0
        for waiting in batch:
            try:
                message_batch.add_message(waiting.message)
            except MessageSizeExceededError:
                if fitted == 0:
                    raise
                break
            fitted += 1
        await sender.send_messages(message_batch)
        return batch[fitted:]

    async def _open_sender(self) -> ServiceBusSender:
        if self._sender is None:
            sender = self._client.get_queue_sender(self.queue_name)
            self._sender = sender
            self.senders_opened += 1
            await sender.__aenter__()
        return self._sender

    async def _drop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            await _close_quietly(sender)

    def _gave_up(self, waiting: _Waiting) -> DependencyUnavailable:
        return DependencyUnavailable(
            "servicebus",
            f"send to {self.queue_name!r} failed for {self._policy.budget_seconds:.0f}s "
            f"(last: {waiting.last_error})",
        )


def _fail(waiting: _Waiting, error: Exception) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(error)


def _permanent(queue_name: str, exc: Exception) -> DependencyUnavailable:
    if isinstance(exc, MessagingEntityNotFoundError):
        return DependencyUnavailable(
            "servicebus", f"queue {queue_name!r} does not exist in the namespace"
        )
    return DependencyUnavailable(
        "servicebus", f"send to {queue_name!r} refused: {describe_error(exc)}"
    )


def describe_error(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, ServiceBusError) else str(exc)
    return f"{exc.__class__.__name__}: {text}"[:300]


async def _close_quietly(sender: ServiceBusSender) -> None:
    """Close a sender that failed or is no longer wanted: nothing left to release, so its
    errors are dropped. The SDK's close can raise CancelledError of its own (it awaits its
    cancelled keep-alive task): that is swallowed too, unless this task is being cancelled."""
    try:
        await sender.close()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        logger.debug("closing a sender raised the SDK's own CancelledError; ignored")
    except (ServiceBusError, OSError, TimeoutError, ValueError, AttributeError):
        pass
