"""Upload -> enqueue -> worker -> status, over HTTP only, against the real local stack."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from azure.storage.blob.aio import BlobServiceClient

from tests.e2e.conftest import UPLOADS_CONTAINER, Api, new_owner
from tests.samples.documents import corrupt_pdf, make_docx, make_pdf, paginate, resume_text
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e


async def test_a_pdf_resume_is_analysed_to_completion(alice: Api) -> None:
    pdf = make_pdf(paginate(resume_text().splitlines()))
    job = await alice.submit("resume-analysis", "analyze-resume", "cv.pdf", pdf)

    assert job["status"] == "queued"
    assert job["jobId"]
    assert job["streamToken"]
    done = await alice.wait_terminal(job["jobId"])

    assert done["status"] == "completed", done
    assert done["progress"] == 100
    assert done["result"]["format"] == "pdf"
    assert 0 < done["result"]["score"] <= 100
    assert done["result"]["reasons"]
    assert "experience" in done["result"]["sections"]["found"]


async def test_a_docx_resume_is_analysed_to_completion(alice: Api) -> None:
    docx = make_docx(resume_text().splitlines())
    job = await alice.submit("resume-analysis", "analyze-resume", "cv.docx", docx)

    done = await alice.wait_terminal(job["jobId"])

    assert done["status"] == "completed", done
    assert done["result"]["format"] == "docx"
    assert 0 < done["result"]["score"] <= 100


async def test_a_text_document_gets_type_checksum_and_statistics(alice: Api) -> None:
    text = ("The quick brown fox jumps over the lazy dog. " * 40).encode()
    job = await alice.submit("document-analysis", "analyze-document", "notes.txt", text)

    done = await alice.wait_terminal(job["jobId"])

    assert done["status"] == "completed", done
    result = done["result"]
    assert result["detectedType"] == "text"
    assert result["sizeBytes"] == len(text)
    assert len(result["sha256"]) == 64
    assert result["textStats"]["words"] == 9 * 40


async def test_the_stream_shows_every_step_in_order(alice: Api) -> None:
    text = b"plain words for a short document"
    job = await alice.submit("document-analysis", "analyze-document", "short.txt", text)

    updates = await alice.events(job["jobId"])

    statuses = [u["status"] for u in updates]
    assert statuses[0] == "queued"
    assert "started" in statuses
    assert statuses[-1] == "completed"


async def test_a_corrupt_pdf_fails_with_a_clear_code(alice: Api) -> None:
    job = await alice.submit("resume-analysis", "analyze-resume", "broken.pdf", corrupt_pdf())

    done = await alice.wait_terminal(job["jobId"])

    assert done["status"] == "failed", done
    assert done["error"]["code"] == "corrupt_file"
    assert done["error"]["retryable"] is False


async def test_a_worker_exception_is_retried_and_visible_as_retrying(alice: Api) -> None:
    text = b"this job fails once on purpose, then succeeds"
    job = await alice.submit(
        "document-analysis",
        "analyze-document",
        "flaky.txt",
        text,
        extra={"simulateTransientFailures": 1},
    )

    updates = await alice.events(job["jobId"])
    done = await alice.wait_terminal(job["jobId"])

    statuses = [u["status"] for u in updates]
    assert statuses.count("retrying") == 1  # one injected failure, one redelivery
    assert statuses[-1] == "completed"
    assert done["attempts"] == 2


async def test_a_duplicate_idempotency_key_returns_the_same_job(alice: Api) -> None:
    upload = await alice.upload("same.txt", b"only once", "text/plain")
    key = f"key-{uuid.uuid4()}"
    data = {"blobName": upload["blobName"], "fileName": "same.txt"}

    first = await alice.enqueue("document-analysis", "analyze-document", data, key)
    second = await alice.enqueue("document-analysis", "analyze-document", data, key, "queue/add")

    assert first.status_code == 202, first.text
    assert second.status_code in (200, 202), second.text
    assert second.json()["data"]["jobId"] == first.json()["data"]["jobId"]


async def test_another_owner_gets_404_for_status_cancel_and_stream(alice: Api, bob: Api) -> None:
    job = await alice.submit("document-analysis", "analyze-document", "mine.txt", b"alice only")
    job_id = job["jobId"]
    api = alice.stack.api

    status = await bob.status(job_id)
    cancel = await bob.http.post(f"{api}/jobs/{job_id}/cancel", headers=bob.auth)
    stream = await bob.http.get(f"{api}/jobs/{job_id}/stream", headers=bob.auth)

    for response in (status, cancel, stream):
        assert response.status_code == 404, response.text
        assert response.json()["success"] is False
    own = await alice.status(job_id)
    assert own.status_code == 200


async def test_cancel_of_a_finished_job_does_not_change_it(alice: Api) -> None:
    job = await alice.submit("document-analysis", "analyze-document", "done.txt", b"quick one")
    done = await alice.wait_terminal(job["jobId"])

    response = await alice.http.post(
        f"{alice.stack.api}/jobs/{job['jobId']}/cancel", headers=alice.auth
    )

    assert response.status_code in (202, 409), response.text
    assert (await alice.wait_terminal(job["jobId"]))["status"] == done["status"]


async def test_health_answers_200_when_storage_and_service_bus_answer(
    local_stack: LocalStack, alice: Api
) -> None:
    response = await alice.http.get(f"{local_stack.api}/health")

    assert response.status_code == 200, response.text
    assert response.json()["success"] is True


async def test_queue_stats_count_messages(alice: Api) -> None:
    response = await alice.http.get(
        f"{alice.stack.api}/queues/resume-analysis/stats", headers=alice.auth
    )

    assert response.status_code == 200, response.text
    stats = response.json()["data"]
    for field in ("activeMessages", "deadLetterMessages", "scheduledMessages"):
        assert isinstance(stats[field], int)
        assert stats[field] >= 0


async def test_queue_stats_of_an_unknown_queue_is_404(alice: Api) -> None:
    response = await alice.http.get(
        f"{alice.stack.api}/queues/no-such-queue/stats", headers=alice.auth
    )

    assert response.status_code == 404
    assert response.json()["success"] is False


# --- the upload URL the API returns: one PUT of one blob, nothing else ----------------------


def blob_url(upload_url: str, path: str) -> str:
    """`upload_url`'s SAS query on another path of the same account."""
    parts = urlsplit(upload_url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


async def stored_blob(stack: LocalStack, blob_name: str) -> bytes | None:
    """The blob's bytes, read with the account key (not the SAS), or None when absent."""
    async with BlobServiceClient.from_connection_string(stack.storage_connection_string) as bs:
        blob = bs.get_blob_client(UPLOADS_CONTAINER, blob_name)
        if not await blob.exists():
            return None
        return await (await blob.download_blob()).readall()


def refused(response: httpx.Response, error_code: str) -> None:
    """403 with Azurite's reason: `AuthorizationPermissionMismatch` (the SAS is valid here but
    does not grant this), `AuthorizationFailure` (it is not valid here: other resource, expired)."""
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.headers.get("x-ms-error-code") == error_code, response.headers


async def test_the_upload_url_puts_its_blob_and_refuses_everything_else(alice: Api) -> None:
    presigned = (await alice.presign("sas.txt", "text/plain", 12)).json()["data"]
    url = presigned["uploadUrl"]
    blob_name = presigned["blobName"]
    path = urlsplit(url).path
    assert url.startswith(alice.stack.blob_endpoint)  # plain HTTP, straight to Azurite
    assert path.endswith(f"/{presigned['container']}/{blob_name}")
    http = alice.http

    put = await http.put(url, content=b"secret words", headers=presigned["headers"])
    assert put.status_code == 201, put.text
    assert await stored_blob(alice.stack, blob_name) == b"secret words"

    read = await http.get(url)
    refused(read, "AuthorizationPermissionMismatch")
    assert b"secret words" not in read.content
    refused(await http.head(url), "AuthorizationPermissionMismatch")

    container_path = path[: -len(blob_name) - 1]
    listing = await http.get(f"{blob_url(url, container_path)}&restype=container&comp=list")
    refused(listing, "AuthorizationFailure")
    assert blob_name not in listing.text

    refused(await http.delete(url), "AuthorizationPermissionMismatch")
    assert await stored_blob(alice.stack, blob_name) == b"secret words"

    other_name = blob_name.rsplit("/", 1)[0] + "/other.txt"
    other = await http.put(
        blob_url(url, path.replace(blob_name, other_name)),
        content=b"sneaky",
        headers=presigned["headers"],
    )
    refused(other, "AuthorizationFailure")
    assert await stored_blob(alice.stack, other_name) is None


SHORT_TTL_SECONDS = 15  # the smallest UPLOAD_URL_TTL_SECONDS the settings allow


@pytest.fixture(scope="module")
def short_ttl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("short-ttl-stack")
    with launch_stack(workdir, {"UPLOAD_URL_TTL_SECONDS": str(SHORT_TTL_SECONDS)}) as stack:
        yield stack


async def test_the_upload_url_is_refused_after_it_expires(short_ttl_stack: LocalStack) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        api = Api(short_ttl_stack, http, new_owner("late"))
        presigned = (await api.presign("late.txt", "text/plain", 5)).json()["data"]
        expires_at = datetime.fromisoformat(presigned["expiresAt"].replace("Z", "+00:00"))
        left = (expires_at - datetime.now(UTC)).total_seconds()
        assert SHORT_TTL_SECONDS - 10 < left <= SHORT_TTL_SECONDS, left
        url, headers = presigned["uploadUrl"], presigned["headers"]
        early = await http.put(url, content=b"early", headers=headers)
        assert early.status_code == 201, early.text

        await asyncio.sleep(left + 2)
        late = await http.put(url, content=b"late!", headers=headers)
        block = await http.put(f"{url}&comp=block&blockid=YmxvY2stMDAwMQ%3D%3D", content=b"x")

    refused(late, "AuthorizationFailure")
    refused(block, "AuthorizationFailure")
    assert await stored_blob(short_ttl_stack, presigned["blobName"]) == b"early"
