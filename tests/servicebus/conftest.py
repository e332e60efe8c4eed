"""Helpers for the conformance suite: SDK clients on the session emulator, runtime counts."""

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
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


# --- Microsoft's samples in the background (test_sdk_samples.py) ----------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The samples' test items go last (the root conftest then puts the browser tests after
    them), so their runs, started when collection ends, have the whole suite's time to end."""
    from tests.servicebus.test_sdk_samples import is_sample_item

    items.sort(key=is_sample_item)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the selected samples (after -k, -m and deselection) in the background."""
    from tests.servicebus.test_sdk_samples import SAMPLE_RUNS, SampleRuns, selected_samples

    names = selected_samples(session.items)
    if not names or session.config.option.collectonly:
        return
    workdir = Path(tempfile.mkdtemp(prefix="jobstream-sdk-samples-"))
    session.config.stash[SAMPLE_RUNS] = SampleRuns(names, workdir)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop what is still running (samples, then the emulator), each by its pid."""
    from tests.servicebus.test_sdk_samples import SAMPLE_RUNS

    runs = session.config.stash.get(SAMPLE_RUNS, None)
    if runs is not None:
        runs.stop()
