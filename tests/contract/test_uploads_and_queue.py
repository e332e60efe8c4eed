"""UploadStore/UploadSigner and JobQueue contracts, real adapter and fake alike."""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import pytest

from function_app.domain.errors import InvalidRequest
from function_app.ports import BlobMissing

from .conftest import QueueUnderTest, UploadsUnderTest


def blob_name() -> str:
    return f"alice/{uuid.uuid4().hex}/report.txt"


async def test_signed_url_names_the_blob_and_grants_create_write(
    uploads_under_test: UploadsUnderTest,
) -> None:
    name = blob_name()
    url = await uploads_under_test.uploads.sign_upload(
        name, "text/plain", datetime.now(UTC) + timedelta(minutes=5)
    )
    parts = urlsplit(url)
    assert unquote(parts.path).endswith(f"/{name}")
    assert "sp=cw" in parts.query


async def test_describe_and_read_an_upload(uploads_under_test: UploadsUnderTest) -> None:
    name, data = blob_name(), bytes(range(256)) * 40  # 10,240 bytes
    await uploads_under_test.put(name, data, "text/plain")
    info = await uploads_under_test.uploads.describe(name)
    assert info is not None
    assert (info.name, info.size, info.content_type) == (name, len(data), "text/plain")
    chunks = [c async for c in uploads_under_test.uploads.read(name, chunk_size=4096)]
    assert b"".join(chunks) == data
    assert all(len(c) <= 4096 for c in chunks)
    assert len(chunks) == 3


async def test_missing_upload(uploads_under_test: UploadsUnderTest) -> None:
    name = blob_name()
    assert await uploads_under_test.uploads.describe(name) is None
    with pytest.raises(BlobMissing):
        async for _ in uploads_under_test.uploads.read(name):
            pass


async def test_send_delivers_the_body_once_per_job_id(queue_under_test: QueueUnderTest) -> None:
    queue_name, job_id = "document-analysis", f"job-{uuid.uuid4().hex}"
    body = {"jobId": job_id, "jobName": "analyze-document", "owner": "alice"}
    await queue_under_test.queue.send(queue_name, job_id, body)
    await queue_under_test.queue.send(queue_name, job_id, {**body, "again": True})
    assert await queue_under_test.delivered(queue_name, job_id) == [body]


async def test_send_refuses_a_queue_the_app_does_not_know(
    queue_under_test: QueueUnderTest,
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    body = {"jobId": job_id, "jobName": "analyze-document", "owner": "alice"}
    for unknown in ("no-such-queue", "Document-Analysis", "document-analysis/$DeadLetterQueue"):
        with pytest.raises(InvalidRequest) as refused:
            await queue_under_test.queue.send(unknown, job_id, body)
        assert refused.value.code == "unknown_queue"
    # the refusal sent nothing: the same id still reaches a known queue, once
    await queue_under_test.queue.send("document-analysis", job_id, body)
    assert await queue_under_test.delivered("document-analysis", job_id) == [body]


async def test_send_carries_the_body_as_json(queue_under_test: QueueUnderTest) -> None:
    job_id, at = f"job-{uuid.uuid4().hex}", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = {"jobId": job_id, "owner": "alice", "data": {"n": 1, "at": at}, "tags": ("a", "b")}
    await queue_under_test.queue.send("resume-analysis", job_id, body)
    assert await queue_under_test.delivered("resume-analysis", job_id) == [
        {"jobId": job_id, "owner": "alice", "data": {"n": 1, "at": str(at)}, "tags": ["a", "b"]}
    ]
