"""A tighter upload and checked bytes, through the local stack: real HTTP PUTs to the SAS URL
(Azurite), then enqueue over HTTP. What the upload URL lets its holder do besides a block
upload (an append blob, a page blob declared at 1 TiB, a snapshot) is refused at enqueue and
deleted; bytes that are not the type they claim are refused; a declared SHA-256 is verified
by the worker."""

import hashlib
from typing import Any

import httpx
import pytest
from azure.storage.blob.aio import BlobServiceClient

from tests.e2e.conftest import UPLOADS_CONTAINER, Api
from tests.samples.documents import make_pdf

pytestmark = pytest.mark.e2e

RESUME = b"Ada Lovelace\nada@example.com\n\nExperience\n2019 - Present  Engineer\n"
TIB = 1024**4


async def presigned(api: Api, file_name: str, content_type: str, **extra: Any) -> dict[str, Any]:
    body = {"fileName": file_name, "contentType": content_type, **extra}
    answer = await api.http.post(
        f"{api.stack.api}/upload/presigned-url", json=body, headers=api.auth
    )
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def stored(api: Api, blob_name: str) -> list[str]:
    """The blob and its snapshots as the storage account lists them ('' is the blob itself)."""
    async with BlobServiceClient.from_connection_string(api.stack.storage_connection_string) as bs:
        container = bs.get_container_client(UPLOADS_CONTAINER)
        return [
            b.snapshot or ""
            async for b in container.list_blobs(name_starts_with=blob_name, include=["snapshots"])
            if b.name == blob_name
        ]


async def enqueue(api: Api, upload: dict[str, Any], **data: Any) -> httpx.Response:
    return await api.enqueue(
        "document-analysis", "analyze-document", {"blobName": upload["blobName"], **data}
    )


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


async def test_an_append_blob_made_and_appended_to_with_the_url_is_refused_and_deleted(
    alice: Api,
) -> None:
    upload = await presigned(alice, "cv.txt", "text/plain")
    url, headers = upload["uploadUrl"], {**upload["headers"], "x-ms-blob-type": "AppendBlob"}
    created = await alice.http.put(url, headers=headers)
    assert created.status_code == 201, created.text
    appended = await alice.http.put(f"{url}&comp=appendblock", content=RESUME)
    assert appended.status_code == 201, appended.text  # the URL's `w` allows Append Block

    error = refused(await enqueue(alice, upload), 422, "unsupported_blob_type")

    assert "x-ms-blob-type: BlockBlob" in error["message"]
    assert await stored(alice, upload["blobName"]) == []


async def test_a_page_blob_declared_at_1_tib_is_refused_and_deleted(alice: Api) -> None:
    upload = await presigned(alice, "cv.txt", "text/plain")
    headers = {
        **upload["headers"],
        "x-ms-blob-type": "PageBlob",
        "x-ms-blob-content-length": str(TIB),
    }
    created = await alice.http.put(upload["uploadUrl"], headers=headers)
    assert created.status_code == 201, created.text

    error = refused(await enqueue(alice, upload), 422, "unsupported_blob_type")

    assert {"blobType": "PageBlob", "expected": "BlockBlob"} in error["details"]
    assert await stored(alice, upload["blobName"]) == []


async def test_a_snapshot_taken_with_the_url_is_refused_and_deleted_with_the_blob(
    alice: Api,
) -> None:
    upload = await presigned(alice, "cv.txt", "text/plain")
    put = await alice.http.put(upload["uploadUrl"], content=RESUME, headers=upload["headers"])
    assert put.status_code == 201, put.text
    snap = await alice.http.put(f"{upload['uploadUrl']}&comp=snapshot")
    assert snap.status_code == 201, snap.text  # `c` and `w` both allow Snapshot Blob
    assert len(await stored(alice, upload["blobName"])) == 2

    refused(await enqueue(alice, upload), 422, "upload_has_snapshots")

    assert await stored(alice, upload["blobName"]) == []


@pytest.mark.parametrize(
    ("file_name", "content_type", "data"),
    [
        ("cv.pdf", "application/pdf", RESUME),
        ("cv.txt", "text/plain", make_pdf([["Ada Lovelace"]])),
    ],
    ids=["text stored as a pdf", "a pdf stored as text"],
)
async def test_bytes_that_are_not_the_type_they_claim_are_refused_type_mismatch(
    alice: Api, file_name: str, content_type: str, data: bytes
) -> None:
    upload = await presigned(alice, file_name, content_type)
    put = await alice.http.put(upload["uploadUrl"], content=data, headers=upload["headers"])
    assert put.status_code == 201, put.text

    error = refused(await enqueue(alice, upload), 422, "type_mismatch")

    assert content_type in error["message"]
    assert await stored(alice, upload["blobName"]) == []


# --- a declared SHA-256, verified by the worker ------------------------------------------

DIGEST = hashlib.sha256(RESUME).hexdigest()
WRONG = hashlib.sha256(b"a different file").hexdigest()


async def put_resume(api: Api, **presign: Any) -> dict[str, Any]:
    upload = await presigned(api, "cv.txt", "text/plain", size=len(RESUME), **presign)
    put = await api.http.put(upload["uploadUrl"], content=RESUME, headers=upload["headers"])
    assert put.status_code == 201, put.text
    return upload


async def run(api: Api, upload: dict[str, Any], **data: Any) -> dict[str, Any]:
    response = await enqueue(api, upload, fileName="cv.txt", **data)
    assert response.status_code == 202, response.text
    return await api.wait_terminal(response.json()["data"]["jobId"])


@pytest.mark.parametrize("declared_at", ["presign", "enqueue"])
async def test_a_wrong_declared_sha256_fails_the_job_checksum_mismatch(
    alice: Api, declared_at: str
) -> None:
    if declared_at == "presign":
        upload = await put_resume(alice, sha256=WRONG)
        assert upload["headers"]["x-ms-meta-sha256"] == WRONG
        job = await run(alice, upload)
    else:
        job = await run(alice, await put_resume(alice), sha256=WRONG)

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "checksum_mismatch"
    assert job["error"]["retryable"] is False
    assert DIGEST in job["error"]["message"]


@pytest.mark.parametrize("declared_at", ["presign", "enqueue", "both"])
async def test_a_correct_declared_sha256_is_verified_and_the_result_says_so(
    alice: Api, declared_at: str
) -> None:
    upload = await put_resume(alice, **({} if declared_at == "enqueue" else {"sha256": DIGEST}))
    job = await run(alice, upload, **({} if declared_at == "presign" else {"sha256": DIGEST}))

    assert job["status"] == "completed", job
    assert job["result"]["sha256"] == DIGEST
    assert job["result"]["sha256Verified"] is True


async def test_without_a_declared_sha256_a_job_still_runs_and_verifies_nothing(
    alice: Api,
) -> None:
    job = await run(alice, await put_resume(alice))
    assert job["status"] == "completed", job
    assert job["result"]["sha256"] == DIGEST
    assert job["result"]["sha256Verified"] is False


async def test_differing_sha256s_at_presign_and_enqueue_are_refused_at_enqueue(
    alice: Api,
) -> None:
    upload = await put_resume(alice, sha256=DIGEST)
    refused(await enqueue(alice, upload, sha256=WRONG), 422, "checksum_mismatch")
    assert await stored(alice, upload["blobName"]) == [""], "the upload stays"
