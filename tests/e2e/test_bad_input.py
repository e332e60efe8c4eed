"""Bad input gets the contract's error envelope with its exact status and code (the table in
docs/architecture.md), never a stack trace, and leaves nothing behind: no job row, no blob
(checked with a unique owner per test) and no Service Bus message.

A message sent by mistake would be seen in two ways: in the queues' counts while it waits or
is locked, and, since the worker takes it within milliseconds and finds no job for it, in the
worker's "unknown job" log line. Control tests show both detectors see real writes."""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient

from function_app.topology import topology
from tests.e2e.conftest import Api, stored_traces
from tests.support.stack import JWT_AUDIENCE, JWT_SECRET, LocalStack

pytestmark = pytest.mark.e2e

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the stack's default MAX_UPLOAD_BYTES
QUEUES = tuple(queue.name for queue in topology().queues)  # function_app/queues.json
LEAK_MARKERS = ("Traceback", 'File "', "Exception:", "site-packages")
NO_TOKEN_CHALLENGE = 'Bearer realm="jobstream"'
BAD_TOKEN_CHALLENGE = 'Bearer realm="jobstream", error="invalid_token"'
# The counts are read this many times right after the answer (a message counts as active
# while locked), which also gives the worker time to log a message it found no job for.
QUEUE_LOOKS = 10
QUEUE_LOOK_INTERVAL_SECONDS = 0.03
# What the worker logs for a delivery without a job (services/worker.py, entrypoints/sb_worker).
STRAY_DELIVERY_LOGS = ("delivery for unknown job", "names no job")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.headers.get("content-type", "")[:16]) == (
        status,
        "application/json",
    ), response.text
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert isinstance(error["details"], list)
    for marker in LEAK_MARKERS:
        assert marker not in response.text
    return error


# --- "writes nothing": storage and Service Bus --------------------------------------------


QueueCounts = dict[str, tuple[int, int, int]]


async def queue_counts(stack: LocalStack, http: httpx.AsyncClient) -> QueueCounts:
    """(active incl. locked, dead-lettered, scheduled) per queue, from the emulator's admin URL."""
    counts: QueueCounts = {}
    for queue in QUEUES:
        response = await http.get(f"{stack.servicebus_admin_url}/queues/{queue}/runtime")
        assert response.status_code == 200, response.text
        runtime = response.json()
        counts[queue] = (
            runtime["activeMessageCount"],
            runtime["deadLetterMessageCount"],
            runtime["scheduledMessageCount"],
        )
    return counts


async def settled_queue_counts(stack: LocalStack, http: httpx.AsyncClient) -> QueueCounts:
    """The counts once no message is in flight (an earlier test's job may still be settling)."""
    previous = await queue_counts(stack, http)
    for _ in range(100):
        await asyncio.sleep(0.1)
        current = await queue_counts(stack, http)
        if current == previous and all(active == 0 for active, _, _ in current.values()):
            return current
        previous = current
    pytest.fail(f"the queues did not settle: {previous}")


def stray_deliveries(stack: LocalStack) -> int:
    """How many deliveries the worker has found no job for, from the stack's log."""
    text = stack.log_path.read_text(encoding="utf-8", errors="replace")
    return sum(text.count(line) for line in STRAY_DELIVERY_LOGS)


@dataclass(frozen=True)
class Snapshot:
    traces: list[str]
    queues: QueueCounts
    stray_deliveries: int


async def snapshot(api: Api) -> Snapshot:
    queues = await settled_queue_counts(api.stack, api.http)
    traces = await stored_traces(api.stack, api.owner)
    return Snapshot(traces, queues, stray_deliveries(api.stack))


async def assert_wrote_nothing(api: Api, before: Snapshot, *, deleted: str | None = None) -> None:
    """Nothing sent, nothing stored; `deleted`: the refused upload of that blob name is gone."""
    for _ in range(QUEUE_LOOKS):
        assert await queue_counts(api.stack, api.http) == before.queues, "a message was sent"
        await asyncio.sleep(QUEUE_LOOK_INTERVAL_SECONDS)
    assert stray_deliveries(api.stack) == before.stray_deliveries, "a message was sent"
    expected = before.traces
    if deleted is not None:
        assert f"blob:{deleted}" in expected
        expected = [t for t in expected if t != f"blob:{deleted}"]
    assert await stored_traces(api.stack, api.owner) == expected


async def test_the_leak_detector_sees_a_message_sent_without_a_job(alice: Api) -> None:
    before = await snapshot(alice)
    job_id = uuid.uuid4().hex
    body = {"jobId": job_id, "queueName": "document-analysis", "jobName": "analyze-document"}
    connection = alice.stack.servicebus_connection_string
    client = ServiceBusClient.from_connection_string(connection)
    async with client, client.get_queue_sender("document-analysis") as sender:
        await sender.send_messages(ServiceBusMessage(json.dumps(body), message_id=job_id))

    with pytest.raises(AssertionError, match="a message was sent"):
        await assert_wrote_nothing(alice, before)
    # The detector may see the message before the worker has logged dropping it.
    for _ in range(100):
        if job_id in alice.stack.log_path.read_text(encoding="utf-8"):
            break
        await asyncio.sleep(0.1)
    assert job_id in alice.stack.log_path.read_text(encoding="utf-8")


async def test_the_leak_detector_sees_what_a_good_request_writes(alice: Api) -> None:
    before = await snapshot(alice)
    upload = await alice.upload("ok.txt", b"fine", "text/plain")
    response = await alice.enqueue(
        "document-analysis", "analyze-document", {"blobName": upload["blobName"], "fileName": "a"}
    )
    assert response.status_code == 202, response.text
    seen = await queue_counts(alice.stack, alice.http)  # the message, queued or locked
    await alice.wait_terminal(response.json()["data"]["jobId"])

    traces = await stored_traces(alice.stack, alice.owner)

    assert before.traces == []
    assert any(t.startswith("table:") for t in traces)
    assert any(t.startswith("blob:") for t in traces)
    assert seen != before.queues
    assert seen["document-analysis"][0] == before.queues["document-analysis"][0] + 1


# --- presign ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "content_type", "size", "status", "code"),
    [
        ("", "text/plain", 10, 400, "invalid_file_name"),
        ("a" * 252 + ".txt", "text/plain", 10, 400, "invalid_file_name"),
        ("../../etc/passwd.txt", "text/plain", 10, 400, "invalid_file_name"),
        ("dir/cv.pdf", "application/pdf", 10, 400, "invalid_file_name"),
        ("dir\\cv.pdf", "application/pdf", 10, 400, "invalid_file_name"),
        ("cv\x00.pdf", "application/pdf", 10, 400, "invalid_file_name"),
        ("cv\n.pdf", "application/pdf", 10, 400, "invalid_file_name"),
        ("tool.exe", "application/x-msdownload", 10, 415, "unsupported_media_type"),
        ("tool.exe", None, 10, 415, "unsupported_media_type"),
        ("cv.pdf", "application/pdf", MAX_UPLOAD_BYTES + 1, 413, "file_too_large"),
        ("cv.pdf", "application/pdf", -1, 400, "invalid_request"),
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
        "no-type-and-no-known-extension",
        "oversized",
        "negative-size",
    ],
)
async def test_bad_presign_requests_are_refused_and_write_nothing(
    alice: Api, file_name: str, content_type: str | None, size: int, status: int, code: str
) -> None:
    before = await snapshot(alice)

    response = await alice.presign(file_name, content_type, size)

    assert_error(response, status, code)
    await assert_wrote_nothing(alice, before)


async def test_an_oversized_presign_says_the_limit(alice: Api) -> None:
    response = await alice.presign("cv.pdf", "application/pdf", MAX_UPLOAD_BYTES + 1)

    error = assert_error(response, 413, "file_too_large")
    assert {"maxBytes": MAX_UPLOAD_BYTES} in error["details"]


# --- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["upload/presigned-url", "jobs", "queue/add"])
async def test_a_text_plain_body_is_a_415_and_writes_nothing(alice: Api, route: str) -> None:
    # What a form or fetch() on another site can send without a CORS preflight.
    upload = await alice.upload("cv.txt", b"a resume", "text/plain")
    before = await snapshot(alice)
    body = {
        "fileName": "cv.txt",
        "contentType": "text/plain",
        "size": 8,
        "queueName": "resume-analysis",
        "jobName": "analyze-resume",
        "data": {"blobName": upload["blobName"]},
    }

    response = await alice.http.post(
        f"{alice.stack.api}/{route}",
        content=json.dumps(body).encode(),
        headers={**alice.auth, "content-type": "text/plain;charset=UTF-8"},
    )

    error = assert_error(response, 415, "unsupported_media_type")
    assert error["details"] == [{"field": "Content-Type", "allowed": ["application/json"]}]
    await assert_wrote_nothing(alice, before)


@pytest.mark.parametrize("route", ["upload/presigned-url", "jobs", "queue/add"])
async def test_malformed_json_is_a_400_and_writes_nothing(alice: Api, route: str) -> None:
    before = await snapshot(alice)

    response = await alice.http.post(
        f"{alice.stack.api}/{route}",
        content=b'{"fileName": ',
        headers={**alice.auth, "content-type": "application/json"},
    )

    assert_error(response, 400, "malformed_json")
    await assert_wrote_nothing(alice, before)


@pytest.mark.parametrize("body", [b'["not", "an", "object"]', b'"a string"', b"42", b"null"])
async def test_a_json_body_of_the_wrong_shape_is_refused_and_writes_nothing(
    alice: Api, body: bytes
) -> None:
    upload = await alice.upload("cv.txt", b"a resume", "text/plain")
    before = await snapshot(alice)

    response = await alice.http.post(
        f"{alice.stack.api}/jobs",
        content=body,
        headers={**alice.auth, "content-type": "application/json"},
    )

    assert_error(response, 400, "invalid_request")
    assert upload["blobName"] not in response.text
    await assert_wrote_nothing(alice, before)


async def test_an_enqueue_naming_no_upload_is_refused_and_writes_nothing(alice: Api) -> None:
    before = await snapshot(alice)

    response = await alice.enqueue("document-analysis", "analyze-document", {"resumeId": "r1"})

    error = assert_error(response, 400, "invalid_request")
    assert [d["field"] for d in error["details"]] == ["data.blobName"]
    await assert_wrote_nothing(alice, before)


async def test_an_enqueue_by_a_file_name_never_uploaded_is_404_and_writes_nothing(
    alice: Api,
) -> None:
    before = await snapshot(alice)

    response = await alice.enqueue("document-analysis", "analyze-document", {"fileName": "a.txt"})

    error = assert_error(response, 404, "blob_not_found")
    assert [d["field"] for d in error["details"]] == ["data.fileName"]
    await assert_wrote_nothing(alice, before)


# --- enqueue ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "job", "code"),
    [
        ("no-such-queue", "analyze-resume", "unknown_queue"),
        ("resume-analysis", "no-such-job", "unknown_job_name"),
        ("resume-analysis", "analyze-document", "unknown_job_name"),
    ],
    ids=["unknown-queue", "unknown-job", "job-not-on-that-queue"],
)
async def test_unknown_queue_or_job_names_are_refused_and_write_nothing(
    alice: Api, queue: str, job: str, code: str
) -> None:
    upload = await alice.upload("cv.txt", b"a resume", "text/plain")
    before = await snapshot(alice)

    response = await alice.enqueue(queue, job, {"blobName": upload["blobName"], "fileName": "x"})

    assert_error(response, 400, code)
    await assert_wrote_nothing(alice, before)


async def test_a_missing_blob_is_refused_and_writes_nothing(alice: Api) -> None:
    upload = await alice.presign("never-uploaded.txt", "text/plain", 10)
    blob_name = upload.json()["data"]["blobName"]
    before = await snapshot(alice)

    response = await alice.enqueue(
        "document-analysis", "analyze-document", {"blobName": blob_name, "fileName": "n.txt"}
    )

    assert_error(response, 404, "blob_not_found")
    await assert_wrote_nothing(alice, before)


async def test_someone_elses_blob_answers_exactly_like_a_missing_one(alice: Api, bob: Api) -> None:
    upload = await alice.upload("alice.txt", b"alice's file", "text/plain")
    missing = (await bob.presign("alice.txt", "text/plain", 12)).json()["data"]["blobName"]
    before_alice, before_bob = await snapshot(alice), await snapshot(bob)

    foreign = await bob.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": upload["blobName"], "fileName": "alice.txt"},
    )
    absent = await bob.enqueue(
        "document-analysis", "analyze-document", {"blobName": missing, "fileName": "alice.txt"}
    )

    assert_error(foreign, 404, "blob_not_found")
    assert foreign.json() == absent.json()  # nothing tells bob the blob exists
    assert upload["blobName"] not in foreign.text
    await assert_wrote_nothing(bob, before_bob)
    await assert_wrote_nothing(alice, before_alice)


async def test_a_blob_larger_than_the_limit_is_refused_deleted_and_writes_nothing(
    alice: Api,
) -> None:
    presigned = await alice.presign("big.txt", "text/plain", 10)
    upload = presigned.json()["data"]
    too_big = b"x" * (int(upload["maxBytes"]) + 1)
    put = await alice.http.put(upload["uploadUrl"], content=too_big, headers=upload["headers"])
    assert put.status_code == 201, put.text  # a SAS cannot bound the size: enqueue must
    before = await snapshot(alice)

    response = await alice.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": upload["blobName"], "fileName": "big.txt"},
    )

    error = assert_error(response, 413, "file_too_large")
    assert {"maxBytes": MAX_UPLOAD_BYTES} in error["details"]
    await assert_wrote_nothing(alice, before, deleted=upload["blobName"])


async def test_an_empty_upload_is_unprocessable_deleted_and_writes_nothing(alice: Api) -> None:
    presigned = (await alice.presign("empty.txt", "text/plain", 0)).json()["data"]
    put = await alice.http.put(presigned["uploadUrl"], content=b"", headers=presigned["headers"])
    assert put.status_code == 201, put.text
    before = await snapshot(alice)

    response = await alice.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": presigned["blobName"], "fileName": "empty.txt"},
    )

    assert_error(response, 422, "empty_upload")
    await assert_wrote_nothing(alice, before, deleted=presigned["blobName"])


async def test_an_upload_stored_with_a_disallowed_type_is_refused_and_deleted(alice: Api) -> None:
    # The SAS does not pin the content type: the PUT can store another one; enqueue checks it.
    presigned = (await alice.presign("cv.txt", "text/plain", 2)).json()["data"]
    put = await alice.http.put(
        presigned["uploadUrl"],
        content=b"MZ",
        headers={**presigned["headers"], "Content-Type": "application/x-msdownload"},
    )
    assert put.status_code == 201, put.text
    before = await snapshot(alice)

    response = await alice.enqueue(
        "document-analysis",
        "analyze-document",
        {"blobName": presigned["blobName"], "fileName": "cv.txt"},
    )

    assert_error(response, 415, "unsupported_media_type")
    await assert_wrote_nothing(alice, before, deleted=presigned["blobName"])


@pytest.mark.parametrize(
    "blob_name",
    ["../other/secret.txt", "u/../../etc/passwd", "/etc/passwd", "https://evil.example/x.txt"],
)
async def test_a_blob_path_outside_the_callers_prefix_is_refused(
    alice: Api, blob_name: str
) -> None:
    before = await snapshot(alice)

    response = await alice.enqueue(
        "document-analysis", "analyze-document", {"blobName": blob_name, "fileName": "secret.txt"}
    )

    assert_error(response, 404, "blob_not_found")
    await assert_wrote_nothing(alice, before)


# --- tokens -----------------------------------------------------------------------------------


def mint(owner: str, **overrides: Any) -> str:
    """A user token for the e2e stack, minted now; `overrides` change one thing about it."""
    now = int(time.time())
    claims = {"sub": owner, "aud": JWT_AUDIENCE, "iat": now, "exp": now + 600}
    secret = overrides.pop("secret", JWT_SECRET)
    algorithm = overrides.pop("algorithm", "HS256")
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm)


def bad_authorization(kind: str, owner: str) -> str | None:
    now = int(time.time())
    return {
        "missing": lambda: None,
        "empty": lambda: "Bearer",
        "garbage": lambda: "Bearer not-a-jwt",
        "basic": lambda: "Basic YWxpY2U6c2VjcmV0",
        "wrong-key": lambda: "Bearer " + mint(owner, secret="a-different-secret-of-32-bytes!!"),
        "expired": lambda: "Bearer " + mint(owner, iat=now - 7200, exp=now - 3600),
        "wrong-aud": lambda: "Bearer " + mint(owner, aud="api://someone-else"),
        "no-sub": lambda: "Bearer " + mint(owner, sub=None),
        "alg-none": lambda: "Bearer " + mint(owner, algorithm="none", secret=""),
    }[kind]()


@pytest.mark.parametrize(
    ("kind", "code", "challenge"),
    [
        ("missing", "unauthenticated", NO_TOKEN_CHALLENGE),
        ("empty", "invalid_token", BAD_TOKEN_CHALLENGE),
        ("garbage", "invalid_token", BAD_TOKEN_CHALLENGE),
        ("basic", "invalid_token", BAD_TOKEN_CHALLENGE),
        ("wrong-key", "invalid_token", BAD_TOKEN_CHALLENGE),
        ("expired", "token_expired", BAD_TOKEN_CHALLENGE),
        ("wrong-aud", "invalid_token", BAD_TOKEN_CHALLENGE),
        ("no-sub", "invalid_token", BAD_TOKEN_CHALLENGE),
        ("alg-none", "invalid_token", BAD_TOKEN_CHALLENGE),
    ],
)
async def test_bad_tokens_get_401_with_their_code_and_write_nothing(
    local_stack: LocalStack, kind: str, code: str, challenge: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        mallory = Api(local_stack, http, f"mallory-{uuid.uuid4().hex[:10]}")
        # Mallory's own blob, uploaded with a good token: a bad token naming her must not
        # be able to enqueue it (or presign, or read anything).
        upload = await mallory.upload("cv.txt", b"mallory's resume", "text/plain")
        good = {"Authorization": "Bearer " + mint(mallory.owner)}
        control = await http.get(f"{local_stack.api}/jobs/{uuid.uuid4().hex}", headers=good)
        assert_error(control, 404, "not_found")  # the same minting, unchanged, is accepted
        before = await snapshot(mallory)

        authorization = bad_authorization(kind, mallory.owner)
        headers = {"Authorization": authorization} if authorization is not None else {}
        presign = await http.post(
            f"{local_stack.api}/upload/presigned-url",
            json={"fileName": "cv.txt", "contentType": "text/plain", "size": 5},
            headers=headers,
        )
        enqueue = await http.post(
            f"{local_stack.api}/jobs",
            json={
                "queueName": "resume-analysis",
                "jobName": "analyze-resume",
                "data": {"blobName": upload["blobName"], "fileName": "cv.txt"},
            },
            headers=headers,
        )
        status = await http.get(f"{local_stack.api}/jobs/{uuid.uuid4().hex}", headers=headers)
        stats = await http.get(f"{local_stack.api}/queues/resume-analysis/stats", headers=headers)

        for response in (presign, enqueue, status, stats):
            assert_error(response, 401, code)
            assert response.headers["www-authenticate"] == challenge
        await assert_wrote_nothing(mallory, before)
