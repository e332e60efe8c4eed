"""Enqueue refuses an upload that is not what a job may run on, and deletes it: another blob
type than a block blob, snapshots, too large, empty, bytes that are not the type claimed. A
SHA-256 may be declared at presign (a header for the PUT) or at enqueue (`data.sha256`)."""

import hashlib
import logging

import pytest

from function_app.domain.errors import (
    DependencyUnavailable,
    DomainError,
    InvalidRequest,
    TooLarge,
    Unprocessable,
)
from function_app.domain.identity import Caller
from function_app.domain.jobs import EnqueueRequest
from function_app.domain.uploads import (
    APPEND_BLOB,
    PAGE_BLOB,
    new_upload_id,
    upload_blob_name,
)
from function_app.services.uploads import PresignRequest
from tests.fakes import FakeUploads, FakeWorld, fake_world, test_settings
from tests.samples.documents import make_docx, make_pdf

ALICE = Caller("alice")
TEXT = b"Ada Lovelace\nada@example.com\n"
PDF = "application/pdf"


@pytest.fixture
def world() -> FakeWorld:
    return fake_world(test_settings(MAX_UPLOAD_BYTES=1000))


def store(world: FakeWorld) -> FakeUploads:
    assert isinstance(world.uploads, FakeUploads)
    return world.uploads


def put(
    world: FakeWorld,
    data: bytes,
    content_type: str = "text/plain",
    *,
    file_name: str = "cv.txt",
    blob_type: str = "BlockBlob",
    metadata: dict[str, str] | None = None,
) -> str:
    name = upload_blob_name("alice", new_upload_id(file_name), file_name)
    store(world).put(name, data, content_type, blob_type=blob_type, metadata=metadata)
    return name


def request(blob_name: str, **data: object) -> EnqueueRequest:
    return EnqueueRequest("document-analysis", "analyze-document", {"blobName": blob_name, **data})


async def refused(world: FakeWorld, req: EnqueueRequest) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await world.services.jobs.enqueue(ALICE, req)
    assert world.log.jobs == {}, "a refused enqueue records nothing"
    assert world.queue.sent == []
    return caught.value


@pytest.mark.parametrize("blob_type", [APPEND_BLOB, PAGE_BLOB])
@pytest.mark.parametrize("by_file_name", [False, True], ids=["blobName", "fileName"])
async def test_a_blob_that_is_not_a_block_blob_is_refused_and_deleted(
    world: FakeWorld, blob_type: str, by_file_name: bool
) -> None:
    name = put(world, TEXT, blob_type=blob_type)
    req = (
        EnqueueRequest("document-analysis", "analyze-document", {"fileName": "cv.txt"})
        if by_file_name
        else request(name)
    )
    error = await refused(world, req)
    assert isinstance(error, Unprocessable)
    assert error.code == "unsupported_blob_type"
    assert "x-ms-blob-type: BlockBlob" in error.message
    assert name not in store(world).blobs


async def test_a_blob_with_snapshots_is_refused_and_deleted_with_them(world: FakeWorld) -> None:
    name = put(world, TEXT)
    store(world).snapshot(name)
    error = await refused(world, request(name))
    assert error.code == "upload_has_snapshots"
    assert name not in store(world).blobs


async def test_a_blob_over_the_limit_is_refused_413_and_deleted(world: FakeWorld) -> None:
    name = put(world, b"x" * 1001)
    error = await refused(world, request(name))
    assert isinstance(error, TooLarge)
    assert error.code == "file_too_large"
    assert name not in store(world).blobs


async def test_an_empty_blob_is_refused_and_deleted(world: FakeWorld) -> None:
    name = put(world, b"")
    assert (await refused(world, request(name))).code == "empty_upload"
    assert name not in store(world).blobs


@pytest.mark.parametrize(
    ("data", "content_type", "file_name"),
    [
        (TEXT, PDF, "cv.pdf"),
        (make_pdf([["Hello"]]), "text/plain", "cv.txt"),
        (bytes(range(256)) * 3, "text/plain", "cv.txt"),
    ],
    ids=["text claiming pdf", "pdf claiming text", "binary claiming text"],
)
async def test_bytes_that_are_not_the_claimed_type_are_refused_type_mismatch_and_deleted(
    data: bytes, content_type: str, file_name: str
) -> None:
    world = fake_world(test_settings(MAX_UPLOAD_BYTES=100_000))
    name = put(world, data, content_type, file_name=file_name)
    error = await refused(world, request(name))
    assert isinstance(error, Unprocessable)
    assert error.code == "type_mismatch"
    assert content_type in error.message
    assert name not in store(world).blobs


async def test_bytes_of_the_claimed_type_are_accepted_and_kept() -> None:
    world = fake_world(test_settings(MAX_UPLOAD_BYTES=100_000))
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    for data, content_type, file_name in (
        (make_pdf([["Hi"]]), PDF, "a.pdf"),
        (make_docx(["Hi"]), docx, "a.docx"),
        (TEXT, "text/plain", "a.txt"),
    ):
        name = put(world, data, content_type, file_name=file_name)
        await world.services.jobs.enqueue(ALICE, request(name))
        assert name in store(world).blobs


async def test_a_failed_delete_is_logged_and_the_refusal_still_answered(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    name = put(world, TEXT, blob_type=PAGE_BLOB)

    async def down(blob_name: str, *, snapshots_only: bool = False) -> bool:
        raise DependencyUnavailable("storage", "blob storage delete failed")

    store(world).delete = down  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        error = await refused(world, request(name))
    assert error.code == "unsupported_blob_type"
    assert f"refused upload {name} (unsupported_blob_type) not deleted" in caplog.text


async def test_a_refusal_for_the_request_leaves_the_upload_alone(world: FakeWorld) -> None:
    name = put(world, TEXT)
    bad_digest = await refused(world, request(name, sha256="not-hex"))
    assert isinstance(bad_digest, InvalidRequest)
    assert bad_digest.details == [{"field": "data.sha256", "problem": "64 hex digits"}]
    assert name in store(world).blobs


# --- a declared SHA-256 ------------------------------------------------------------------

DIGEST = hashlib.sha256(TEXT).hexdigest()
OTHER = hashlib.sha256(b"other").hexdigest()


async def test_a_digest_declared_at_enqueue_is_kept_in_the_jobs_data(world: FakeWorld) -> None:
    name = put(world, TEXT)
    accepted = await world.services.jobs.enqueue(ALICE, request(name, sha256=DIGEST.upper()))
    assert world.log.jobs[accepted.job_id].data["sha256"] == DIGEST.upper()  # data as sent


async def test_digests_declared_at_presign_and_enqueue_must_agree(world: FakeWorld) -> None:
    name = put(world, TEXT, metadata={"sha256": DIGEST})
    error = await refused(world, request(name, sha256=OTHER))
    assert error.code == "checksum_mismatch"
    assert name in store(world).blobs, "which digest is wrong is unknown: the upload stays"
    await world.services.jobs.enqueue(ALICE, request(name, sha256=DIGEST.upper()))


async def test_presign_puts_a_declared_digest_in_the_puts_headers(world: FakeWorld) -> None:
    presigned = await world.services.uploads.presign(
        ALICE, PresignRequest("cv.txt", "text/plain", len(TEXT), DIGEST.upper())
    )
    assert presigned.headers["x-ms-meta-sha256"] == DIGEST
    plain = await world.services.uploads.presign(ALICE, PresignRequest("cv.txt", "text/plain"))
    assert "x-ms-meta-sha256" not in plain.headers
    with pytest.raises(InvalidRequest) as bad:
        await world.services.uploads.presign(ALICE, PresignRequest("cv.txt", None, None, "abc"))
    assert bad.value.details == [{"field": "sha256", "problem": "64 hex digits"}]
