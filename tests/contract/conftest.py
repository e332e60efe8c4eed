"""Contract fixtures: each port's implementations, the real adapter and the in-memory fake.

Every contract test takes one of the parametrized fixtures below and runs once per
implementation, so the fakes the unit tests rely on (tests/fakes.py) behave like the real
adapters (Azurite for storage, the local emulator for Service Bus).
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from azure.servicebus import ServiceBusReceivedMessage
from azure.servicebus.aio import ServiceBusClient

from devstack.azurite import AzuriteProcess, ensure_storage, free_port
from function_app.adapters.blob_uploads import BlobUploads
from function_app.adapters.queue_stats import EmulatorQueueStats
from function_app.adapters.servicebus_queue import ServiceBusJobQueue
from function_app.adapters.table_storage import TableStorage
from function_app.bootstrap import SystemClock
from function_app.settings import DEFAULT_QUEUES
from tests.fakes import (
    FakeCallerFeed,
    FakeEventLog,
    FakeIdempotencyKeys,
    FakeJobQueue,
    FakeOpenJobs,
    FakeProbe,
    FakeQueueCounters,
    FakeQueueStats,
    FakeSecretStore,
    FakeStepDurations,
    FakeUploads,
    FakeWorkerPresence,
    FixedClock,
    SentMessage,
    VirtualClock,
)

# The queues the app knows (and the namespace has): senders refuse any other queue.
APP_QUEUES = tuple(DEFAULT_QUEUES)

# --- real adapters --------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def contract_storage(azurite: AzuriteProcess) -> tuple[str, str]:
    container, table = f"contract{uuid.uuid4().hex[:12]}", f"contract{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, container, table)
    return container, table


@pytest.fixture
async def table_storage(
    azurite: AzuriteProcess, contract_storage: tuple[str, str]
) -> AsyncIterator[TableStorage]:
    storage = TableStorage.from_connection_string(azurite.connection_string, contract_storage[1])
    yield storage
    await storage.close()


@pytest.fixture
def table_event_log(table_storage: TableStorage) -> Any:
    return table_storage.event_log


@pytest.fixture
def table_idempotency_keys(table_storage: TableStorage) -> Any:
    return table_storage.idempotency_keys


@pytest.fixture
def table_secrets(table_storage: TableStorage) -> Any:
    return table_storage.secrets


@dataclass
class UploadsUnderTest:
    """An UploadStore/UploadSigner plus how a client puts a blob into it: `put` a block blob,
    `put_as` another blob type (and metadata), `snapshot` it, all as a holder of the upload
    URL can."""

    uploads: Any
    put: Callable[[str, bytes, str | None], Awaitable[None]]
    put_as: Callable[[str, bytes, str, dict[str, str]], Awaitable[None]]
    snapshot: Callable[[str], Awaitable[None]]


@pytest.fixture
async def blob_uploads(
    azurite: AzuriteProcess, contract_storage: tuple[str, str]
) -> AsyncIterator[UploadsUnderTest]:
    adapter = BlobUploads.from_connection_string(azurite.connection_string, contract_storage[0])

    async def sas_url(name: str) -> str:
        return await adapter.sign_upload(name, None, datetime.now(UTC) + timedelta(minutes=5))

    async def put(name: str, data: bytes, content_type: str | None) -> None:
        url = await adapter.sign_upload(
            name, content_type, datetime.now(UTC) + timedelta(minutes=5)
        )
        headers = {"x-ms-blob-type": "BlockBlob"}
        if content_type:
            headers["Content-Type"] = content_type
        async with httpx.AsyncClient() as http:
            response = await http.put(url, content=data, headers=headers)
        assert response.status_code == 201, response.text

    async def put_as(name: str, data: bytes, blob_type: str, metadata: dict[str, str]) -> None:
        url = await sas_url(name)
        headers = {"x-ms-blob-type": blob_type, "Content-Type": "text/plain"}
        headers.update({f"x-ms-meta-{k}": v for k, v in metadata.items()})
        async with httpx.AsyncClient() as http:
            if blob_type == "BlockBlob":
                created = await http.put(url, content=data, headers=headers)
            elif blob_type == "AppendBlob":
                created = await http.put(url, headers=headers)
                assert created.status_code == 201, created.text
                created = await http.put(f"{url}&comp=appendblock", content=data)
            else:  # PageBlob: pages of 512 bytes
                headers["x-ms-blob-content-length"] = str(-(-len(data) // 512) * 512)
                created = await http.put(url, headers=headers)
        assert created.status_code == 201, created.text

    async def snapshot(name: str) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.put(f"{await sas_url(name)}&comp=snapshot")
        assert response.status_code == 201, response.text

    yield UploadsUnderTest(adapter, put, put_as, snapshot)
    await adapter.close()


@dataclass
class QueueUnderTest:
    """A JobQueue plus how to see what reached a queue (message id -> bodies)."""

    queue: Any
    delivered: Callable[[str, str], Awaitable[list[dict[str, Any]]]]
    # The application properties of what reached a queue (message id -> each one's, as text).
    properties: Callable[[str, str], Awaitable[list[dict[str, str]]]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture
async def servicebus_queue(servicebus_emulator: Any) -> AsyncIterator[QueueUnderTest]:
    connection = servicebus_emulator.connection_string
    adapter = ServiceBusJobQueue.from_connection_string(connection, known_queues=APP_QUEUES)

    async def peeked(queue_name: str, message_id: str) -> list[ServiceBusReceivedMessage]:
        found: list[ServiceBusReceivedMessage] = []
        async with (
            ServiceBusClient.from_connection_string(connection) as client,
            client.get_queue_receiver(queue_name) as receiver,
        ):
            sequence = 0
            while batch := await receiver.peek_messages(100, sequence_number=sequence):
                found += [m for m in batch if m.message_id == message_id]
                sequence = max(m.sequence_number or 0 for m in batch) + 1
        return found

    async def delivered(queue_name: str, message_id: str) -> list[dict[str, Any]]:
        return [json.loads(b"".join(m.body)) for m in await peeked(queue_name, message_id)]

    async def properties(queue_name: str, message_id: str) -> list[dict[str, str]]:
        return [
            {_text(k): _text(v) for k, v in (m.application_properties or {}).items()}
            for m in await peeked(queue_name, message_id)
        ]

    yield QueueUnderTest(adapter, delivered, properties)
    await adapter.close()


@dataclass
class StatsUnderTest:
    """A QueueStats plus a JobQueue sending to the same broker (sends show up as counts)."""

    stats: Any
    queue: Any


@pytest.fixture
async def emulator_queue_stats(servicebus_emulator: Any) -> AsyncIterator[StatsUnderTest]:
    stats = EmulatorQueueStats(servicebus_emulator.admin_url)
    queue = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, known_queues=APP_QUEUES
    )
    yield StatsUnderTest(stats, queue)
    await queue.close()
    await stats.close()


# --- fakes ----------------------------------------------------------------------------------


@pytest.fixture
def fake_event_log() -> FakeEventLog:
    return FakeEventLog()


@pytest.fixture
def fake_idempotency_keys() -> FakeIdempotencyKeys:
    return FakeIdempotencyKeys()


@pytest.fixture
def fake_secret_store() -> FakeSecretStore:
    return FakeSecretStore()


@pytest.fixture
def fake_uploads() -> UploadsUnderTest:
    fake = FakeUploads()

    async def put(name: str, data: bytes, content_type: str | None) -> None:
        fake.put(name, data, content_type)

    async def put_as(name: str, data: bytes, blob_type: str, metadata: dict[str, str]) -> None:
        if blob_type == "PageBlob":  # an empty page blob of whole pages, as created
            data = bytes(-(-len(data) // 512) * 512)
        fake.put(name, data, "text/plain", blob_type=blob_type, metadata=metadata)

    async def snapshot(name: str) -> None:
        fake.snapshot(name)

    return UploadsUnderTest(fake, put, put_as, snapshot)


@pytest.fixture
def fake_job_queue() -> QueueUnderTest:
    fake = FakeJobQueue(APP_QUEUES)

    def sent(queue_name: str, message_id: str) -> list[SentMessage]:
        return [m for m in fake.sent if (m.queue_name, m.message_id) == (queue_name, message_id)]

    async def delivered(queue_name: str, message_id: str) -> list[dict[str, Any]]:
        return [dict(m.body) for m in sent(queue_name, message_id)]

    async def properties(queue_name: str, message_id: str) -> list[dict[str, str]]:
        return [m.application_properties() for m in sent(queue_name, message_id)]

    return QueueUnderTest(fake, delivered, properties)


@pytest.fixture
def fake_queue_stats() -> StatsUnderTest:
    queue = FakeJobQueue(APP_QUEUES)
    return StatsUnderTest(FakeQueueStats(APP_QUEUES, queue), queue)


# --- the parametrized fixtures contract tests take ------------------------------------------


def _one_of(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["table_event_log", "fake_event_log"])
def event_log(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture(params=["table_idempotency_keys", "fake_event_log", "fake_idempotency_keys"])
def idempotency_keys(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture(params=["table_secrets", "fake_event_log", "fake_secret_store"])
def secret_store(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture(params=["blob_uploads", "fake_uploads"])
def uploads_under_test(request: pytest.FixtureRequest) -> UploadsUnderTest:
    result: UploadsUnderTest = _one_of(request)
    return result


@pytest.fixture(params=["servicebus_queue", "fake_job_queue"])
def queue_under_test(request: pytest.FixtureRequest) -> QueueUnderTest:
    result: QueueUnderTest = _one_of(request)
    return result


@pytest.fixture(params=["emulator_queue_stats", "fake_queue_stats"])
def stats_under_test(request: pytest.FixtureRequest) -> StatsUnderTest:
    result: StatsUnderTest = _one_of(request)
    return result


# --- clocks: the wall clock (Clock) and the monotonic clock with its sleep ------------------


@pytest.fixture
def system_clock() -> SystemClock:
    return SystemClock()


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def virtual_clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(params=["system_clock", "fixed_clock", "virtual_clock"])
def clock_under_test(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@dataclass
class TimerUnderTest:
    """What the stream hub takes for its intervals: a monotonic clock and its sleep."""

    monotonic: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]


@pytest.fixture
def real_time() -> TimerUnderTest:
    return TimerUnderTest(time.monotonic, asyncio.sleep)


@pytest.fixture
def virtual_time(virtual_clock: VirtualClock) -> TimerUnderTest:
    return TimerUnderTest(virtual_clock.monotonic, virtual_clock.sleep)


@pytest.fixture(params=["real_time", "virtual_time"])
def timer_under_test(request: pytest.FixtureRequest) -> TimerUnderTest:
    result: TimerUnderTest = _one_of(request)
    return result


# --- health probes, answering, failing and silent ---------------------------------------------


@pytest.fixture
def table_probe(table_storage: TableStorage) -> Any:
    return table_storage


@pytest.fixture
def blob_probe(blob_uploads: UploadsUnderTest) -> Any:
    return blob_uploads.uploads


@pytest.fixture
async def servicebus_probe(servicebus_emulator: Any) -> AsyncIterator[Any]:
    queue = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, known_queues=APP_QUEUES
    )
    yield queue
    await queue.close()


@pytest.fixture
def fake_storage_probe() -> FakeProbe:
    return FakeProbe("storage")


@pytest.fixture(params=["table_probe", "blob_probe", "servicebus_probe", "fake_storage_probe"])
def answering_probe(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture
async def table_probe_without_its_table(azurite: AzuriteProcess) -> AsyncIterator[Any]:
    storage = TableStorage.from_connection_string(
        azurite.connection_string, f"missing{uuid.uuid4().hex[:8]}"
    )
    yield storage
    await storage.close()


@pytest.fixture
async def blob_probe_without_its_container(azurite: AzuriteProcess) -> AsyncIterator[Any]:
    uploads = BlobUploads.from_connection_string(
        azurite.connection_string, f"missing{uuid.uuid4().hex[:8]}"
    )
    yield uploads
    await uploads.close()


@pytest.fixture
async def servicebus_probe_without_its_queue(servicebus_emulator: Any) -> AsyncIterator[Any]:
    queue = ServiceBusJobQueue.from_connection_string(
        servicebus_emulator.connection_string, probe_queue=f"missing-{uuid.uuid4().hex[:8]}"
    )
    yield queue
    await queue.close()


def _storage_at(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


@pytest.fixture
async def table_probe_with_nothing_listening() -> AsyncIterator[Any]:
    storage = TableStorage.from_connection_string(_storage_at(free_port()), "jobs")
    yield storage
    await storage.close()


@pytest.fixture
def fake_storage_probe_down() -> FakeProbe:
    return FakeProbe("storage", down=True)


@pytest.fixture(
    params=[
        "table_probe_without_its_table",
        "blob_probe_without_its_container",
        "servicebus_probe_without_its_queue",
        "table_probe_with_nothing_listening",
        "fake_storage_probe_down",
    ]
)
def failing_probe(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def table_probe_of_a_silent_server(silent_port: int) -> AsyncIterator[Any]:
    storage = TableStorage.from_connection_string(_storage_at(silent_port), "jobs")
    yield storage
    await storage.close()


@pytest.fixture
def fake_storage_probe_hanging() -> FakeProbe:
    return FakeProbe("storage", hang=True)


@pytest.fixture(params=["table_probe_of_a_silent_server", "fake_storage_probe_hanging"])
def silent_probe(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


# --- an event log whose storage is down ---------------------------------------------------------


@pytest.fixture
def table_event_log_with_nothing_listening(table_probe_with_nothing_listening: Any) -> Any:
    return table_probe_with_nothing_listening.event_log


@pytest.fixture
def fake_event_log_down() -> FakeEventLog:
    log = FakeEventLog()
    log.unavailable_reads = 1_000
    return log


@pytest.fixture(params=["table_event_log_with_nothing_listening", "fake_event_log_down"])
def unavailable_event_log(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


# --- StepDurations ----------------------------------------------------------------------------


@pytest.fixture
def table_step_durations(table_storage: TableStorage) -> Any:
    return table_storage.step_durations


@pytest.fixture
def fake_step_durations() -> FakeStepDurations:
    return FakeStepDurations()


@pytest.fixture(params=["table_step_durations", "fake_step_durations"])
def step_durations(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture
def table_caller_feed(table_storage: TableStorage) -> Any:
    return table_storage.caller_feed


@pytest.fixture
def fake_caller_feed() -> Any:
    return FakeCallerFeed()


@pytest.fixture(params=["table_caller_feed", "fake_caller_feed"])
def caller_feed(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


# --- QueueCounters and WorkerPresence -------------------------------------------------------


@pytest.fixture
def table_queue_counters(table_storage: TableStorage) -> Any:
    return table_storage.queue_counters(f"w{uuid.uuid4().hex[:8]}")


@pytest.fixture
def fake_queue_counters() -> Any:
    return FakeQueueCounters()


@pytest.fixture(params=["table_queue_counters", "fake_queue_counters"])
def queue_counters(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


@pytest.fixture
def table_worker_presence(table_storage: TableStorage) -> Any:
    return table_storage.worker_presence


@pytest.fixture
def fake_worker_presence() -> Any:
    return FakeWorkerPresence()


@pytest.fixture(params=["table_worker_presence", "fake_worker_presence"])
def worker_presence(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)


# --- OpenJobs ---------------------------------------------------------------------------------


@pytest.fixture
def table_open_jobs(table_storage: TableStorage) -> Any:
    return table_storage.open_jobs


@pytest.fixture
def fake_open_jobs() -> Any:
    return FakeOpenJobs()


@pytest.fixture(params=["table_open_jobs", "fake_open_jobs"])
def open_jobs(request: pytest.FixtureRequest) -> Any:
    return _one_of(request)
