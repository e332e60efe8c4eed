"""Helpers for the conformance suite: SDK clients on the session emulator, runtime counts."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from azure.servicebus import ServiceBusClient
from azure.servicebus.aio import ServiceBusClient as AsyncServiceBusClient

from devstack.servicebus.launcher import EmulatorProcess


@pytest.fixture
def client(servicebus_emulator: EmulatorProcess) -> Iterator[ServiceBusClient]:
    with ServiceBusClient.from_connection_string(
        servicebus_emulator.connection_string, retry_total=0
    ) as sb:
        yield sb


@pytest.fixture
async def aclient(servicebus_emulator: EmulatorProcess) -> AsyncIterator[AsyncServiceBusClient]:
    async with AsyncServiceBusClient.from_connection_string(
        servicebus_emulator.connection_string, retry_total=0
    ) as sb:
        yield sb


def admin_get(emulator: EmulatorProcess, path: str) -> tuple[int, Any]:
    response = httpx.get(emulator.admin_url + path, timeout=5)
    return response.status_code, response.json()


def runtime(emulator: EmulatorProcess, queue: str) -> dict[str, Any]:
    status, body = admin_get(emulator, f"/queues/{queue}/runtime")
    assert status == 200, body
    return dict(body)


def text(value: Any) -> Any:
    """The SDK hands AMQP strings back as bytes in some places (as against Azure)."""
    return value.decode() if isinstance(value, bytes) else value


def props(message: Any) -> dict[str, Any]:
    return {text(k): text(v) for k, v in (message.application_properties or {}).items()}


def body(message: Any) -> bytes:
    return b"".join(message.body)
