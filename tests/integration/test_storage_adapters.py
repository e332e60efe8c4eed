"""Adapter factory and storage health probes against Azurite (and against nothing)."""

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from devstack.azurite import AzuriteProcess, ensure_storage, free_port, start_azurite
from function_app.adapters.blob_uploads import BlobUploads
from function_app.adapters.factory import Adapters
from function_app.adapters.queue_stats import AdministrationQueueStats, EmulatorQueueStats
from function_app.adapters.table_storage import TableStorage
from function_app.adapters.table_storage.event_log import event_to_entity, job_to_entity
from function_app.domain.errors import DependencyUnavailable
from function_app.domain.jobs import EventDraft, Job, JobStatus, Stage
from function_app.ports import ValueTooLarge
from function_app.settings import Settings

pytestmark = pytest.mark.integration

EMULATOR_SB = (
    "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
)


def settings_for(connection_string: str, **overrides: str) -> Settings:
    values = {
        "STORAGE_CONNECTION_STRING": connection_string,
        "ServiceBusConnection": EMULATOR_SB,
        "SERVICEBUS_EMULATOR_ADMIN_URL": "http://127.0.0.1:5673",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def test_factory_builds_working_storage_adapters_once(azurite: AzuriteProcess) -> None:
    container, table = f"f{uuid.uuid4().hex[:12]}", f"f{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, container, table)
    adapters = Adapters(
        settings_for(azurite.connection_string, UPLOADS_CONTAINER=container, JOBS_TABLE=table)
    )
    try:
        assert adapters.uploads is adapters.uploads
        assert adapters.table_storage is adapters.table_storage
        assert isinstance(adapters.queue_stats, EmulatorQueueStats)
        assert [p.name for p in adapters.probes] == ["storage", "storage", "servicebus"]
        await adapters.uploads.check()
        await adapters.table_storage.check()
        name = f"bob/{uuid.uuid4().hex}/notes.txt"
        url = await adapters.uploads.sign_upload(
            name, "text/plain", datetime.now(UTC) + timedelta(minutes=5)
        )
        async with httpx.AsyncClient() as http:
            put = await http.put(url, content=b"x" * 10, headers={"x-ms-blob-type": "BlockBlob"})
        assert put.status_code == 201
        info = await adapters.uploads.describe(name)
        assert info is not None
        assert info.size == 10
    finally:
        await adapters.close()


async def test_fresh_adapters_serve_many_concurrent_first_requests(
    azurite: AzuriteProcess,
) -> None:
    """The SDK clients open their HTTP session on first use (a check-and-set with no await
    between: one session); a hundred requests racing to that first use all succeed."""
    container, table = f"c{uuid.uuid4().hex[:12]}", f"c{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, container, table)
    adapters = Adapters(
        settings_for(azurite.connection_string, UPLOADS_CONTAINER=container, JOBS_TABLE=table)
    )
    now = datetime.now(UTC)
    jobs = [
        Job(f"job-{uuid.uuid4().hex}", "alice", "resume-analysis", "analyze-resume", {}, now)
        for _ in range(50)
    ]
    first = EventDraft(JobStatus.QUEUED, 0, Stage.QUEUED, "queued")
    try:
        created = await asyncio.gather(
            *(adapters.table_storage.event_log.create(j, first) for j in jobs)
        )
        read = await asyncio.gather(*(adapters.table_storage.event_log.get(j.job_id) for j in jobs))
        missing = await asyncio.gather(
            *(adapters.uploads.describe(f"alice/{uuid.uuid4().hex}/x.txt") for _ in range(50))
        )
    finally:
        await adapters.close()
    assert [job.job_id for job, _ in created] == [j.job_id for j in jobs]
    assert [job.job_id if job else None for job in read] == [j.job_id for j in jobs]
    assert missing == [None] * 50


async def test_storage_clients_honour_proxy_variables_only_when_set(
    azurite: AzuriteProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without proxy variables the clients skip aiohttp's per-request environment lookup;
    with one set, requests go to it (here a closed port, so they fail)."""
    container, table = f"p{uuid.uuid4().hex[:12]}", f"p{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, container, table)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    settings = settings_for(
        azurite.connection_string, UPLOADS_CONTAINER=container, JOBS_TABLE=table
    )
    assert not settings.proxies_from_environment
    lookups = 0
    lookup = aiohttp.client.get_env_proxy_for_url

    def counted(url: Any) -> Any:
        nonlocal lookups
        lookups += 1
        return lookup(url)

    monkeypatch.setattr(aiohttp.client, "get_env_proxy_for_url", counted)
    direct = Adapters(settings)
    try:
        assert await direct.table_storage.event_log.get("no-such-job") is None
        assert await direct.uploads.describe("alice/x/none.txt") is None
    finally:
        await direct.close()
    assert lookups == 0  # no per-request environment lookup (a thread hop each)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    assert settings.proxies_from_environment
    proxied = Adapters(settings)
    try:
        with pytest.raises(DependencyUnavailable):
            await proxied.table_storage.event_log.get("no-such-job")
        with pytest.raises(DependencyUnavailable):
            await proxied.uploads.describe("alice/x/none.txt")
    finally:
        await proxied.close()


def test_factory_picks_the_administration_api_outside_the_emulator(
    azurite: AzuriteProcess,
) -> None:
    real_sb = (
        "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=app;"
        "SharedAccessKey=bm90LWEta2V5"
    )
    adapters = Adapters(settings_for(azurite.connection_string, ServiceBusConnection=real_sb))
    assert isinstance(adapters.queue_stats, AdministrationQueueStats)


async def test_missing_container_or_table_fails_the_probe(azurite: AzuriteProcess) -> None:
    uploads = BlobUploads.from_connection_string(
        azurite.connection_string, f"missing{uuid.uuid4().hex[:8]}"
    )
    storage = TableStorage.from_connection_string(
        azurite.connection_string, f"missing{uuid.uuid4().hex[:8]}"
    )
    try:
        with pytest.raises(DependencyUnavailable) as blob_down:
            await uploads.check()
        with pytest.raises(DependencyUnavailable) as table_down:
            await storage.check()
        assert blob_down.value.dependency == table_down.value.dependency == "storage"
    finally:
        await uploads.close()
        await storage.close()


async def test_storage_down_is_dependency_unavailable() -> None:
    port = free_port()
    nothing = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    uploads = BlobUploads.from_connection_string(nothing, "uploads")
    storage = TableStorage.from_connection_string(nothing, "jobs")
    try:
        # side by side: each waits out the adapter's own retries (seconds), none depends on another
        outcomes = await asyncio.gather(
            uploads.check(),
            storage.check(),
            storage.event_log.get("job-1"),
            uploads.describe("a"),
            return_exceptions=True,
        )
        for outcome in outcomes:
            assert isinstance(outcome, DependencyUnavailable), outcome
            assert outcome.dependency == "storage"
    finally:
        await uploads.close()
        await storage.close()


async def test_large_results_are_chunked_and_oversized_ones_refused(
    azurite: AzuriteProcess,
) -> None:
    table = f"big{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, "uploads", table)
    storage = TableStorage.from_connection_string(azurite.connection_string, table)
    log = storage.event_log
    try:
        job = Job(
            job_id=f"job-{uuid.uuid4().hex}",
            owner="alice",
            queue_name="document-analysis",
            job_name="analyze-document",
            data={"blobName": "a"},
            created_at=datetime.now(UTC),
        )
        await log.create(job, EventDraft(JobStatus.QUEUED, 0, "queued", "queued"))
        big = {"text": "ü" * 15_000, "lines": list(range(5000))}  # > 64 KiB as one property
        done = EventDraft(JobStatus.COMPLETED, 100, "done", "done", result=big)
        _, event = await log.append(job.job_id, lambda current: done)
        assert event is not None
        stored = await log.get(job.job_id)
        assert stored is not None
        assert stored.result == big
        assert (await log.events_after(job.job_id, 1))[0].result == big

        other = Job(**{**job.__dict__, "job_id": f"job-{uuid.uuid4().hex}"})
        await log.create(other, EventDraft(JobStatus.QUEUED, 0, "queued", "queued"))
        huge = EventDraft(JobStatus.COMPLETED, 100, "done", "done", result={"t": "x" * 300_000})
        with pytest.raises(ValueTooLarge):
            await log.append(other.job_id, lambda current: huge)
        assert [e.sequence for e in await log.events_after(other.job_id, 0)] == [1]
    finally:
        await storage.close()


async def test_rows_stored_before_traces_were_kept_still_read_and_take_new_events(
    azurite: AzuriteProcess,
) -> None:
    """A job row without `traceParent` and event rows without `traceId` (as the app wrote
    them before tracing) read as untraced, and the job goes on."""
    table = f"old{uuid.uuid4().hex[:12]}"
    await ensure_storage(azurite.connection_string, "uploads", table)
    storage = TableStorage.from_connection_string(azurite.connection_string, table)
    try:
        job = Job(
            job_id=f"job-{uuid.uuid4().hex}",
            owner="alice",
            queue_name="document-analysis",
            job_name="analyze-document",
            data={"blobName": "a"},
            created_at=datetime.now(UTC),
        )
        recorded, first = job.record(
            EventDraft(JobStatus.QUEUED, 0, "queued", "queued"), job.created_at
        )
        old_job_row = job_to_entity(recorded)
        old_event_row = event_to_entity(first)
        assert "traceParent" not in old_job_row  # None is not written
        assert "traceId" not in old_event_row
        await storage.client.create_entity(old_job_row)
        await storage.client.create_entity(old_event_row)

        stored = await storage.event_log.get(job.job_id)
        assert stored is not None
        assert stored.trace is None
        [event] = await storage.event_log.events_after(job.job_id, 0)
        assert event.trace_id is None
        _, second = await storage.event_log.append(
            job.job_id, lambda _job: EventDraft(JobStatus.STARTED, 0, Stage.INITIALIZING, "go")
        )
        assert second is not None
        assert (second.sequence, second.trace_id) == (2, None)
    finally:
        await storage.close()


async def test_launcher_persists_to_its_location_and_stops_by_pid(tmp_path: Path) -> None:
    first = start_azurite(tmp_path, in_memory=False, log_path=tmp_path / "azurite.log")
    try:
        assert first.running()
        await ensure_storage(first.connection_string, "uploads", "jobs")
        storage = TableStorage.from_connection_string(first.connection_string, "jobs")
        try:
            secret = await storage.secrets.get_or_create(
                "persisted", lambda: b"kept across restarts"
            )
        finally:
            await storage.close()
    finally:
        first.stop()
    assert not first.running()
    with pytest.raises(ProcessLookupError):
        os.kill(first.pid, 0)

    second = start_azurite(tmp_path, in_memory=False)
    try:
        storage = TableStorage.from_connection_string(second.connection_string, "jobs")
        try:
            assert await storage.secrets.get_or_create("persisted", lambda: b"new") == secret
        finally:
            await storage.close()
    finally:
        second.stop()


async def test_factory_azure_mode_uses_one_managed_identity_and_delegation_keys() -> None:
    from azure.identity.aio import ManagedIdentityCredential

    settings = Settings(
        STORAGE_BLOB_ENDPOINT="https://stjobs.blob.core.windows.net",
        STORAGE_TABLE_ENDPOINT="https://stjobs.table.core.windows.net",
        ServiceBusConnection__fullyQualifiedNamespace="sb-jobs.servicebus.windows.net",
        AZURE_CLIENT_ID="00000000-0000-0000-0000-000000000001",
        STORAGE_CONNECTION_STRING=None,  # whatever the environment says
        ServiceBusConnection=None,
    )
    adapters = Adapters(settings)
    try:
        assert adapters.uploads.uses_delegation_key
        assert isinstance(adapters.credential, ManagedIdentityCredential)
        assert isinstance(adapters.queue_stats, AdministrationQueueStats)
        assert adapters.table_storage is adapters.table_storage
        assert adapters.job_queue is adapters.job_queue
    finally:
        await adapters.close()
