"""Upload -> enqueue -> worker -> status, over HTTP only, against the real local stack."""

import uuid

import pytest

from tests.e2e.conftest import Api
from tests.samples.documents import corrupt_pdf, make_docx, make_pdf, paginate, resume_text
from tests.support.stack import LocalStack

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
