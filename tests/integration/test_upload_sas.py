"""The presigned upload URL grants one new blob and nothing else (real Azurite, plain HTTP).

A browser or script gets this URL from the API and talks to Blob Storage directly, so the
tests use plain httpx, never the SDK, to act as that client.
"""

import base64
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import httpx
import pytest

from devstack.azurite import AzuriteProcess, ensure_storage
from function_app.adapters.blob_uploads import BlobUploads
from function_app.bootstrap import Services
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest, JobStatus
from function_app.domain.uploads import upload_blob_name
from function_app.jobtypes.base import JobContext, JobType
from function_app.jobtypes.steps import NO_STEPS
from function_app.ports import BlobChanged, BlobMissing
from function_app.services.worker import JobDelivery
from tests.fakes import FakeEventLog, FixedClock, fake_world, test_settings

pytestmark = pytest.mark.integration

PUT_HEADERS = {"x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"}


@pytest.fixture(scope="module")
async def container(azurite: AzuriteProcess) -> str:
    name = f"sas{uuid.uuid4().hex[:16]}"
    await ensure_storage(azurite.connection_string, name, "jobs")
    return name


@pytest.fixture
async def uploads(azurite: AzuriteProcess, container: str) -> AsyncIterator[BlobUploads]:
    adapter = BlobUploads.from_connection_string(azurite.connection_string, container)
    yield adapter
    await adapter.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def blob_name() -> str:
    return f"alice/{uuid.uuid4().hex}/cv.txt"


def in_minutes(n: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=n)


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


async def test_sas_names_one_blob_with_create_write_only(uploads: BlobUploads) -> None:
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.endswith(f"/{uploads.container}/{name}")
    assert query["sp"] == ["cw"]
    assert query["sr"] == ["b"]
    assert "spr" not in query  # plain-HTTP Azurite; HTTPS endpoints get spr=https
    start = datetime.fromisoformat(query["st"][0].replace("Z", "+00:00"))
    assert start < datetime.now(UTC)


async def test_put_creates_the_blob(uploads: BlobUploads, http: httpx.AsyncClient) -> None:
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    response = await http.put(url, content=b"hello resume", headers=PUT_HEADERS)
    assert response.status_code == 201, response.text
    info = await uploads.describe(name)
    assert info is not None
    assert (info.size, info.content_type) == (12, "text/plain")
    assert b"".join([chunk async for chunk in uploads.read(name, chunk_size=5)]) == b"hello resume"


async def test_sas_refuses_read_list_and_delete(
    uploads: BlobUploads, http: httpx.AsyncClient
) -> None:
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    assert (await http.put(url, content=b"secret", headers=PUT_HEADERS)).status_code == 201
    read = await http.get(url)
    assert read.status_code == 403
    assert b"secret" not in read.content
    head = await http.head(url)
    assert head.status_code == 403
    container_url = with_path(url, urlsplit(url).path.rsplit("/", 3)[0])
    listing = await http.get(f"{container_url}&restype=container&comp=list")
    assert listing.status_code == 403
    assert name not in listing.text
    deleted = await http.delete(url)
    assert deleted.status_code == 403
    assert await uploads.describe(name) is not None


async def test_sas_refuses_another_blob_name(uploads: BlobUploads, http: httpx.AsyncClient) -> None:
    name, other = blob_name(), blob_name()
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    other_url = with_path(url, urlsplit(url).path.replace(name, other))
    response = await http.put(other_url, content=b"sneaky", headers=PUT_HEADERS)
    assert response.status_code == 403
    assert await uploads.describe(other) is None


async def test_sas_refuses_use_after_expiry(azurite: AzuriteProcess, container: str) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    # Signed "an hour ago" for ten minutes: expired now, without waiting.
    adapter = BlobUploads.from_connection_string(azurite.connection_string, container)
    adapter._clock = lambda: an_hour_ago
    name = blob_name()
    try:
        url = await adapter.sign_upload(name, "text/plain", an_hour_ago + timedelta(minutes=10))
        async with httpx.AsyncClient() as http:
            response = await http.put(url, content=b"late", headers=PUT_HEADERS)
        assert response.status_code == 403
        assert await adapter.describe(name) is None
    finally:
        await adapter.close()


async def test_block_upload_with_the_same_url(
    uploads: BlobUploads, http: httpx.AsyncClient
) -> None:
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    block_ids = [base64.b64encode(f"block-{i:04d}".encode()).decode() for i in range(3)]
    parts = [b"first part, ", b"second part, ", b"third part"]
    for block_id, part in zip(block_ids, parts, strict=True):
        block_url = f"{url}&comp=block&blockid={quote(block_id, safe='')}"
        staged = await http.put(block_url, content=part)
        assert staged.status_code == 201, staged.text
    body = "".join(f"<Latest>{b}</Latest>" for b in block_ids)
    committed = await http.put(
        f"{url}&comp=blocklist",
        content=f'<?xml version="1.0" encoding="utf-8"?><BlockList>{body}</BlockList>',
        headers={"x-ms-blob-content-type": "text/plain"},
    )
    assert committed.status_code == 201, committed.text
    chunks = [chunk async for chunk in uploads.read(name)]
    assert b"".join(chunks) == b"".join(parts)


async def test_if_none_match_makes_the_put_create_only(
    uploads: BlobUploads, http: httpx.AsyncClient
) -> None:
    """`cw` lets the URL rewrite its own blob until expiry (Azure and Azurite agree; Put Block
    needs `w`). A client that must never overwrite sends `If-None-Match: *`."""
    name = blob_name()
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    headers = {**PUT_HEADERS, "If-None-Match": "*"}
    assert (await http.put(url, content=b"one", headers=headers)).status_code == 201
    second = await http.put(url, content=b"two", headers=headers)
    assert second.status_code == 409
    assert b"".join([c async for c in uploads.read(name)]) == b"one"


async def test_missing_blob(uploads: BlobUploads) -> None:
    name = blob_name()
    assert await uploads.describe(name) is None
    with pytest.raises(BlobMissing):
        async for _ in uploads.read(name):
            pass


async def test_cors_lets_the_configured_origin_put_and_nothing_else(
    azurite: AzuriteProcess, container: str, http: httpx.AsyncClient
) -> None:
    origin = "http://127.0.0.1:7071"
    await ensure_storage(azurite.connection_string, container, "jobs", [origin])
    blob_url = f"{azurite.blob_endpoint}/{container}/{blob_name()}"

    async def preflight(origin: str, method: str, headers: str) -> httpx.Response:
        return await http.options(
            blob_url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        )

    browser_headers = "x-ms-blob-type,content-type,x-ms-version,x-ms-client-request-id"
    allowed = await preflight(origin, "PUT", browser_headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert "PUT" in allowed.headers["access-control-allow-methods"]
    assert (await preflight("http://elsewhere.example", "PUT", "x-ms-blob-type")).status_code == 403
    assert (await preflight(origin, "DELETE", "x-ms-blob-type")).status_code == 403
    assert (await preflight(origin, "PUT", "authorization")).status_code == 403


# --- the job reads only the version enqueue validated ----------------------------------------


def app_over(
    uploads: BlobUploads, job_types: Mapping[str, JobType] | None = None
) -> tuple[Services, FakeEventLog]:
    """Enqueue and the worker over the real blob adapter (everything else in memory)."""
    world = fake_world(
        test_settings(UPLOADS_CONTAINER=uploads.container),
        job_types,
        uploads=uploads,
        clock=FixedClock(datetime.now(UTC)),
    )
    return world.services, world.log


async def uploaded(
    uploads: BlobUploads, http: httpx.AsyncClient, content: bytes
) -> tuple[str, str]:
    """A blob uploaded by alice through its presigned URL: (blob name, the URL)."""
    name = upload_blob_name("alice", uuid.uuid4().hex, "notes.txt")
    url = await uploads.sign_upload(name, "text/plain", in_minutes(5))
    assert (await http.put(url, content=content, headers=PUT_HEADERS)).status_code == 201
    return name, url


async def enqueue_and_run(services: Services, name: str, before_run: Any = None) -> str:
    request = EnqueueRequest(
        "document-analysis", "analyze-document", {"blobName": name, "fileName": "notes.txt"}
    )
    accepted = await services.jobs.enqueue(Caller("alice"), request)
    if before_run is not None:
        await before_run(accepted.job_id)
    await services.worker.handle(JobDelivery(accepted.job_id, {"jobId": accepted.job_id}, 1))
    return accepted.job_id


async def test_a_blob_rewritten_through_its_url_after_enqueue_is_not_processed(
    uploads: BlobUploads, http: httpx.AsyncClient
) -> None:
    services, log = app_over(uploads)
    name, url = await uploaded(uploads, http, b"validated text")
    validated = await uploads.describe(name)
    assert validated is not None

    async def rewrite(job_id: str) -> None:
        assert log.jobs[job_id].upload_etag == validated.etag
        # sp=cw: the same URL may still replace the blob (same size, same type)
        rewritten = await http.put(url, content=b"TAMPERED TEXT!", headers=PUT_HEADERS)
        assert rewritten.status_code == 201
        with pytest.raises(BlobChanged):  # the read pinned to the validated version
            async for _ in uploads.read(name, etag=validated.etag):
                pass

    job_id = await enqueue_and_run(services, name, rewrite)
    job = log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("upload_changed", False)
    assert job.result is None


async def test_the_workers_read_is_refused_when_the_blob_changes_after_its_checks(
    uploads: BlobUploads, http: httpx.AsyncClient
) -> None:
    urls: dict[str, str] = {}

    async def rewrite_then_read(ctx: JobContext) -> Mapping[str, Any]:
        url = urls[str(ctx.data["blobName"])]
        assert (await http.put(url, content=b"TAMPERED!", headers=PUT_HEADERS)).status_code == 201
        return {"read": len(b"".join([chunk async for chunk in ctx.read()]))}

    class RewriteThenRead:
        name = "analyze-document"
        steps = NO_STEPS
        run = staticmethod(rewrite_then_read)

    services, log = app_over(uploads, {"analyze-document": RewriteThenRead()})
    name, urls[name] = await uploaded(uploads, http, b"validated")
    job_id = await enqueue_and_run(services, name)
    job = log.jobs[job_id]
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert (job.error.code, job.error.retryable) == ("upload_changed", False)


async def test_a_job_recorded_without_an_etag_reads_the_current_blob(
    uploads: BlobUploads, http: httpx.AsyncClient
) -> None:
    services, log = app_over(uploads)
    name, url = await uploaded(uploads, http, b"first version")

    async def as_before_pinning(job_id: str) -> None:
        log.jobs[job_id] = replace(log.jobs[job_id], upload_etag=None)
        assert (await http.put(url, content=b"second", headers=PUT_HEADERS)).status_code == 201

    job_id = await enqueue_and_run(services, name, as_before_pinning)
    job = log.jobs[job_id]
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.result is not None
    assert job.result["sizeBytes"] == len(b"second")
