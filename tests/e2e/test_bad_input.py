"""Bad input gets the contract's error envelope and status, never a stack trace, and
leaves nothing behind in storage (checked with a unique owner per test)."""

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.e2e.conftest import Api, stored_traces
from tests.support.stack import JWT_AUDIENCE, JWT_SECRET, LocalStack

pytestmark = pytest.mark.e2e

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the stack's default MAX_UPLOAD_BYTES
MALLORY = f"mallory-{uuid.uuid4().hex[:10]}"
LEAK_MARKERS = ("Traceback", 'File "', "Exception:", "site-packages")


def assert_error(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["code"]
    assert error["code"] == error["code"].lower()
    assert " " not in error["code"]
    assert error["message"]
    for marker in LEAK_MARKERS:
        assert marker not in response.text
    return error


async def test_the_leak_detector_sees_what_a_good_request_writes(alice: Api) -> None:
    job = await alice.submit("document-analysis", "analyze-document", "ok.txt", b"fine")
    await alice.wait_terminal(job["jobId"])

    traces = await stored_traces(alice.stack, alice.owner)

    assert any(t.startswith("table:") for t in traces)
    assert any(t.startswith("blob:") for t in traces)


@pytest.mark.parametrize(
    ("file_name", "content_type", "size", "status"),
    [
        ("", "text/plain", 10, 400),
        ("a" * 252 + ".txt", "text/plain", 10, 400),
        ("../../etc/passwd.txt", "text/plain", 10, 400),
        ("dir/cv.pdf", "application/pdf", 10, 400),
        ("dir\\cv.pdf", "application/pdf", 10, 400),
        ("cv\x00.pdf", "application/pdf", 10, 400),
        ("cv\n.pdf", "application/pdf", 10, 400),
        ("tool.exe", "application/x-msdownload", 10, 415),
        ("cv.pdf", "application/pdf", MAX_UPLOAD_BYTES + 1, 413),
    ],
    ids=[
        "empty",
        "over-255",
        "path-traversal",
        "slash",
        "backslash",
        "nul",
        "newline",
        "disallowed-type",
        "oversized",
    ],
)
async def test_bad_presign_requests_are_refused_and_write_nothing(
    alice: Api, file_name: str, content_type: str, size: int, status: int
) -> None:
    response = await alice.presign(file_name, content_type, size)

    assert_error(response, status)
    assert await stored_traces(alice.stack, alice.owner) == []


async def test_malformed_json_is_a_400_envelope(alice: Api) -> None:
    for route in ("upload/presigned-url", "jobs", "queue/add"):
        response = await alice.http.post(
            f"{alice.stack.api}/{route}",
            content=b'{"fileName": ',
            headers={**alice.auth, "content-type": "application/json"},
        )

        assert_error(response, (400, 422))
    assert await stored_traces(alice.stack, alice.owner) == []


async def test_a_json_body_of_the_wrong_shape_is_refused(alice: Api) -> None:
    response = await alice.http.post(
        f"{alice.stack.api}/jobs", json=["not", "an", "object"], headers=alice.auth
    )

    assert_error(response, (400, 422))


@pytest.mark.parametrize(
    ("queue", "job", "status"),
    [
        ("no-such-queue", "analyze-resume", (400, 404, 422)),
        ("resume-analysis", "no-such-job", (400, 404, 422)),
        ("resume-analysis", "analyze-document", (400, 422)),
    ],
    ids=["unknown-queue", "unknown-job", "job-not-on-that-queue"],
)
async def test_unknown_queue_or_job_names_are_refused_and_write_nothing(
    alice: Api, queue: str, job: str, status: tuple[int, ...]
) -> None:
    upload = await alice.upload("cv.txt", b"a resume", "text/plain")
    before = await stored_traces(alice.stack, alice.owner)

    response = await alice.enqueue(queue, job, {"blobName": upload["blobName"], "fileName": "x"})

    assert_error(response, status)
    assert await stored_traces(alice.stack, alice.owner) == before


async def test_a_missing_blob_is_refused_and_writes_nothing(alice: Api) -> None:
    upload = await alice.presign("never-uploaded.txt", "text/plain", 10)
    blob_name = upload.json()["data"]["blobName"]

    response = await alice.enqueue(
        "document-analysis", "analyze-document", {"blobName": blob_name, "fileName": "n.txt"}
    )

    assert_error(response, (404, 422))
    assert await stored_traces(alice.stack, alice.owner) == []


async def test_someone_elses_blob_is_refused_and_writes_nothing(alice: Api, bob: Api) -> None:
    upload = await alice.upload("alice.txt", b"alice's file", "text/plain")

    response = await bob.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": upload["blobName"], "fileName": "alice.txt"},
    )

    assert_error(response, (403, 404, 422))
    assert await stored_traces(bob.stack, bob.owner) == []


async def test_a_blob_larger_than_declared_limits_is_refused(alice: Api) -> None:
    presigned = await alice.presign("big.txt", "text/plain", 10)
    upload = presigned.json()["data"]
    too_big = b"x" * (int(upload["maxBytes"]) + 1)
    put = await alice.http.put(upload["uploadUrl"], content=too_big, headers=upload["headers"])
    before = await stored_traces(alice.stack, alice.owner)

    response = await alice.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": upload["blobName"], "fileName": "big.txt"},
    )

    if put.status_code == 201:  # Azurite took it: the enqueue must catch the size.
        assert_error(response, 413)
    else:  # the upload itself was refused: nothing to enqueue.
        assert_error(response, (404, 413, 422))
    assert await stored_traces(alice.stack, alice.owner) == before


async def test_a_blob_path_outside_the_callers_prefix_is_refused(alice: Api) -> None:
    response = await alice.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": "../other/secret.txt", "fileName": "secret.txt"},
    )

    assert_error(response, (400, 403, 404, 422))
    assert await stored_traces(alice.stack, alice.owner) == []


def forged(owner: str, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": owner, "aud": JWT_AUDIENCE, "iat": now, "exp": now + 600}
    secret = overrides.pop("secret", JWT_SECRET)
    algorithm = overrides.pop("algorithm", "HS256")
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer not-a-jwt",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer " + forged(MALLORY, secret="a-different-secret-of-32-bytes!!"),
        "Bearer " + forged(MALLORY, exp=int(time.time()) - 3600),
        "Bearer " + forged(MALLORY, aud="api://someone-else"),
        "Bearer " + forged(MALLORY, algorithm="none", secret=""),
    ],
    ids=["missing", "empty", "garbage", "basic", "wrong-key", "expired", "wrong-aud", "alg-none"],
)
async def test_bad_tokens_get_401_and_write_nothing(
    local_stack: LocalStack, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with httpx.AsyncClient(timeout=30) as http:
        presign = await http.post(
            f"{local_stack.api}/upload/presigned-url",
            json={"fileName": "cv.txt", "contentType": "text/plain", "size": 5},
            headers=headers,
        )
        enqueue = await http.post(
            f"{local_stack.api}/jobs",
            json={"queueName": "resume-analysis", "jobName": "analyze-resume", "data": {}},
            headers=headers,
        )
        status = await http.get(f"{local_stack.api}/jobs/{uuid.uuid4()}", headers=headers)

    for response in (presign, enqueue, status):
        assert_error(response, 401)
    assert await stored_traces(local_stack, MALLORY) == []
