"""UploadStore/UploadSigner and JobQueue contracts, real adapter and fake alike."""

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import pytest

from function_app.domain.errors import InvalidRequest
from function_app.domain.tracing import TraceContext
from function_app.ports import BlobChanged, BlobMissing

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


async def test_describe_names_the_version_and_a_rewrite_gets_a_new_one(
    uploads_under_test: UploadsUnderTest,
) -> None:
    store, name = uploads_under_test.uploads, blob_name()
    await uploads_under_test.put(name, b"first", "text/plain")
    first = await store.describe(name)
    assert first is not None
    assert isinstance(first.etag, str)
    assert first.etag
    again = await store.describe(name)
    assert again is not None
    assert again.etag == first.etag
    await uploads_under_test.put(name, b"other", "text/plain")  # same size, same type
    second = await store.describe(name)
    assert second is not None
    assert (second.size, second.content_type) == (first.size, first.content_type)
    assert second.etag != first.etag


async def test_read_pinned_to_an_etag_reads_only_that_version(
    uploads_under_test: UploadsUnderTest,
) -> None:
    store, name = uploads_under_test.uploads, blob_name()
    await uploads_under_test.put(name, b"validated", "text/plain")
    validated = await store.describe(name)
    assert validated is not None
    assert b"".join([c async for c in store.read(name, etag=validated.etag)]) == b"validated"
    await uploads_under_test.put(name, b"swapped!!", "text/plain")
    with pytest.raises(BlobChanged):
        async for _ in store.read(name, etag=validated.etag):
            pass
    current = await store.describe(name)
    assert current is not None
    assert b"".join([c async for c in store.read(name, etag=current.etag)]) == b"swapped!!"
    # no etag: whatever is there now (jobs enqueued before uploads were pinned)
    assert b"".join([c async for c in store.read(name)]) == b"swapped!!"


async def test_a_pinned_read_of_a_deleted_blob_is_missing(
    uploads_under_test: UploadsUnderTest,
) -> None:
    name = blob_name()
    with pytest.raises(BlobMissing):
        async for _ in uploads_under_test.uploads.read(name, etag='"0x8DC0000000000000"'):
            pass


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "unpinned"])
async def test_a_blob_rewritten_while_it_streams_raises_blob_changed(
    uploads_under_test: UploadsUnderTest, pinned: bool
) -> None:
    # Bigger than the adapter's 1 MiB download ranges, so the read takes several requests.
    store, name, data = uploads_under_test.uploads, blob_name(), b"a" * (3 * 1024 * 1024)
    await uploads_under_test.put(name, data, "text/plain")
    info = await store.describe(name)
    assert info is not None
    stream = store.read(name, chunk_size=256 * 1024, etag=info.etag if pinned else None)
    seen = [await anext(stream)]
    await uploads_under_test.put(name, b"b" * len(data), "text/plain")

    async def read_the_rest() -> None:
        async for chunk in stream:
            seen.append(chunk)

    with pytest.raises(BlobChanged):
        await read_the_rest()
    assert set(b"".join(seen)) == {ord("a")}  # never a byte of the new version


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


TRACE = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


async def test_send_carries_the_trace_context_as_the_servicebus_sdk_does(
    queue_under_test: QueueUnderTest,
) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    body = {"jobId": job_id, "jobName": "analyze-document", "owner": "alice"}
    await queue_under_test.queue.send("document-analysis", job_id, body, trace=TRACE)
    assert await queue_under_test.properties("document-analysis", job_id) == [
        {
            "jobName": "analyze-document",
            "owner": "alice",
            "Diagnostic-Id": TRACE.traceparent,
            "traceparent": TRACE.traceparent,
        }
    ]


async def test_an_untraced_send_carries_no_trace_context(queue_under_test: QueueUnderTest) -> None:
    job_id = f"job-{uuid.uuid4().hex}"
    body = {"jobId": job_id, "jobName": "analyze-document", "owner": "alice"}
    await queue_under_test.queue.send("document-analysis", job_id, body)
    assert await queue_under_test.properties("document-analysis", job_id) == [
        {"jobName": "analyze-document", "owner": "alice"}
    ]


# --- blob types, snapshots, declared digests, first bytes, deletes --------------------------

SHA = "ab" * 32


@pytest.mark.parametrize("blob_type", ["BlockBlob", "AppendBlob", "PageBlob"])
async def test_describe_and_list_tell_the_blob_type_and_the_declared_sha256(
    uploads_under_test: UploadsUnderTest, blob_type: str
) -> None:
    store, name = uploads_under_test.uploads, blob_name()
    await uploads_under_test.put_as(name, b"hello", blob_type, {"sha256": SHA.upper()})
    described = await store.describe(name)
    (listed,) = await store.list_uploads(name, 10)
    for info in (described, listed):
        assert info is not None
        assert (info.blob_type, info.sha256, info.snapshot) == (blob_type, SHA, None)
    assert listed.etag == described.etag


async def test_metadata_that_is_not_a_sha256_declares_none(
    uploads_under_test: UploadsUnderTest,
) -> None:
    store, name = uploads_under_test.uploads, blob_name()
    await uploads_under_test.put_as(name, b"hello", "BlockBlob", {"sha256": "not-a-digest"})
    info = await store.describe(name)
    assert info is not None
    assert info.sha256 is None


async def test_a_listing_with_snapshots_shows_them_and_one_without_does_not(
    uploads_under_test: UploadsUnderTest,
) -> None:
    store, name = uploads_under_test.uploads, blob_name()
    await uploads_under_test.put(name, b"hello", "text/plain")
    await uploads_under_test.snapshot(name)
    await uploads_under_test.snapshot(name)
    with_snapshots = await store.list_uploads(name, 10, snapshots=True)
    assert sorted(i.snapshot is not None for i in with_snapshots) == [False, True, True]
    assert {i.name for i in with_snapshots} == {name}
    assert [i.snapshot for i in await store.list_uploads(name, 10)] == [None]


async def test_head_reads_the_first_bytes_of_that_version_only(
    uploads_under_test: UploadsUnderTest,
) -> None:
    store, name = uploads_under_test.uploads, blob_name()
    data = bytes(range(256)) * 40
    await uploads_under_test.put(name, data, "text/plain")
    info = await store.describe(name)
    assert info is not None
    assert await store.head(name, 4096, etag=info.etag) == data[:4096]
    assert await store.head(name, 20_000) == data
    await uploads_under_test.put(name, b"swapped", "text/plain")
    with pytest.raises(BlobChanged):
        await store.head(name, 4096, etag=info.etag)
    with pytest.raises(BlobMissing):
        await store.head(blob_name(), 4096)


async def test_delete_takes_the_snapshots_or_only_the_snapshots(
    uploads_under_test: UploadsUnderTest,
) -> None:
    store, kept, gone = uploads_under_test.uploads, blob_name(), blob_name()
    for name in (kept, gone):
        await uploads_under_test.put(name, b"hello", "text/plain")
        await uploads_under_test.snapshot(name)
    assert await store.delete(kept, snapshots_only=True) is True
    assert [i.snapshot for i in await store.list_uploads(kept, 10, snapshots=True)] == [None]
    assert await store.delete(gone) is True
    assert await store.list_uploads(gone, 10, snapshots=True) == []
    assert await store.describe(gone) is None
    assert await store.delete(gone) is False
