"""The HTTP contract: envelopes, statuses and headers for uploads, jobs, health and stats."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from function_app.bootstrap import override_app_services
from function_app.domain.uploads import owner_prefix
from tests.fakes import FakeWorld, fake_world, test_settings

PDF = "application/pdf"
JSON = {"content-type": "application/json"}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


async def test_presign_answers_201_with_the_contract_fields(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/api/v1/upload/presigned-url", json={"fileName": "cv.pdf", "contentType": PDF, "size": 10}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {
        "uploadUrl",
        "blobName",
        "fileName",
        "container",
        "expiresAt",
        "method",
        "headers",
        "maxBytes",
        "traceId",
    }
    assert data["method"] == "PUT"
    assert data["headers"] == {"x-ms-blob-type": "BlockBlob", "Content-Type": PDF}
    assert data["blobName"].startswith(owner_prefix("anonymous"))
    assert data["expiresAt"].endswith("Z")
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"fileName": "../etc/passwd"}, 400, "invalid_file_name"),
        ({"fileName": "a\\b.pdf"}, 400, "invalid_file_name"),
        ({"fileName": "x" * 256 + ".pdf"}, 400, "invalid_file_name"),
        ({"fileName": ""}, 400, "invalid_file_name"),
        ({"fileName": "tab\there.pdf"}, 400, "invalid_file_name"),
        ({"fileName": "run.exe"}, 415, "unsupported_media_type"),
        ({"fileName": "a.pdf", "contentType": "image/svg+xml"}, 415, "unsupported_media_type"),
        ({"fileName": "a.pdf", "size": 10**12}, 413, "file_too_large"),
        ({"fileName": "a.pdf", "size": "12"}, 400, "invalid_request"),
        ({"fileName": "a.pdf", "size": -1}, 400, "invalid_request"),
        ({"contentType": PDF}, 400, "invalid_request"),
        ([1, 2], 400, "invalid_request"),
    ],
)
async def test_bad_presign_requests_get_the_envelope_and_sign_nothing(
    api: httpx.AsyncClient, world: FakeWorld, body: Any, status: int, code: str
) -> None:
    r = await api.post("/api/v1/upload/presigned-url", json=body)
    assert r.status_code == status
    assert error_of(r)["code"] == code
    assert world.uploads.signed == []


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b'{"fileName": "a.pdf",}', b"null"])
async def test_malformed_json_is_400(api: httpx.AsyncClient, raw: bytes) -> None:
    r = await api.post("/api/v1/upload/presigned-url", content=raw, headers=JSON)
    assert r.status_code == 400
    assert error_of(r)["code"] in {"malformed_json", "invalid_request"}


LONE_SURROGATE_BODIES = [
    # Valid JSON, but "\ud800" alone is no character: UTF-8 cannot encode it. Enqueue naming
    # its upload by such a fileName was a 500 (found probing beside the fuzzer, issue 17).
    ("/api/v1/jobs", b'{"queueName": "resume-analysis", "jobName": "analyze-resume",'
     b' "data": {"fileName": "\\ud800.pdf"}}'),
    ("/api/v1/jobs", b'{"queueName": "resume-analysis", "jobName": "analyze-resume",'
     b' "data": {"fileName": "cv.pdf", "note\\udfff": "x"}}'),
    ("/api/v1/upload/presigned-url", b'{"fileName": "cv.pdf", "contentType": "\\udfffx"}'),
]  # fmt: skip


@pytest.mark.parametrize(("route", "raw"), LONE_SURROGATE_BODIES)
async def test_lone_surrogates_anywhere_in_a_body_are_400(
    api: httpx.AsyncClient, world: FakeWorld, route: str, raw: bytes
) -> None:
    r = await api.post(route, content=raw, headers=JSON)
    assert r.status_code == 400, r.text
    error = error_of(r)
    assert error["code"] == "malformed_json"
    assert world.uploads.signed == []


@pytest.mark.parametrize("route", ["/api/v1/upload/presigned-url", "/api/v1/jobs"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_json_routes_refuse_other_media_types_with_415(
    api: httpx.AsyncClient, world: FakeWorld, route: str, content_type: str | None
) -> None:
    # A cross-origin page may POST text/plain without a CORS preflight: such a body is never read.
    body = b'{"fileName": "cv.pdf", "contentType": "application/pdf", "size": 10}'
    headers = {} if content_type is None else {"content-type": content_type}
    r = await api.post(route, content=body, headers=headers)
    assert r.status_code == 415
    error = error_of(r)
    assert error["code"] == "unsupported_media_type"
    assert error["details"] == [{"field": "Content-Type", "allowed": ["application/json"]}]
    assert world.uploads.signed == []
    assert world.log.writes == 0


async def test_json_with_a_charset_parameter_is_accepted(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/api/v1/upload/presigned-url",
        content=b'{"fileName": "cv.pdf", "contentType": "application/pdf", "size": 10}',
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert r.status_code == 201, r.text


async def test_validation_errors_name_the_field(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/jobs", json={"queueName": "resume-analysis", "data": {}})
    assert r.status_code == 400
    fields = {d["field"] for d in error_of(r)["details"]}
    assert "jobName" in fields


async def test_oversized_bodies_are_413(api: httpx.AsyncClient, world: FakeWorld) -> None:
    r = await api.post("/api/v1/jobs", content=b"{" + b" " * 70_000 + b"}", headers=JSON)
    assert r.status_code == 413
    assert error_of(r)["code"] == "request_too_large"
    assert world.log.writes == 0


async def test_deeply_nested_data_is_refused(api: httpx.AsyncClient, world: FakeWorld) -> None:
    nested: Any = {}
    for _ in range(20):
        nested = {"x": nested}
    r = await api.post(
        "/api/v1/jobs",
        json={"queueName": "document-analysis", "jobName": "analyze-document", "data": nested},
    )
    assert r.status_code == 400
    assert world.log.writes == 0


def enqueue_body(blob: str, queue: str = "document-analysis", job: str = "analyze-document") -> Any:
    return {"queueName": queue, "jobName": job, "data": {"blobName": blob, "fileName": "a.txt"}}


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/queue/add"])
async def test_enqueue_answers_202_on_both_routes(
    api: httpx.AsyncClient, world: FakeWorld, path: str
) -> None:
    blob = world.upload("anonymous", "a.txt", b"hello")
    r = await api.post(path, json=enqueue_body(blob))
    assert r.status_code == 202
    data = r.json()["data"]
    assert data["status"] == "queued"
    assert data["statusUrl"] == f"/api/v1/jobs/{data['jobId']}"
    assert data["streamUrl"] == f"/api/v1/jobs/{data['jobId']}/stream"
    assert data["streamToken"]
    assert (data["queueName"], data["jobName"]) == ("document-analysis", "analyze-document")
    assert r.headers["location"] == data["statusUrl"]
    assert [m.message_id for m in world.queue.sent] == [data["jobId"]]


async def test_idempotency_key_returns_the_same_job(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    blob = world.upload("anonymous", "a.txt", b"hello")
    headers = {"Idempotency-Key": "abc-123"}
    first = await api.post("/api/v1/jobs", json=enqueue_body(blob), headers=headers)
    second = await api.post("/api/v1/jobs", json=enqueue_body(blob), headers=headers)
    assert second.status_code == 202
    assert second.json()["data"]["jobId"] == first.json()["data"]["jobId"]
    assert second.headers["idempotent-replayed"] == "true"
    assert len(world.queue.sent) == 1


@pytest.mark.parametrize(
    ("make_blob", "queue", "job", "status", "code"),
    [
        ("mine", "nope", "analyze-document", 400, "unknown_queue"),
        ("mine", "document-analysis", "analyze-resume", 400, "unknown_job_name"),
        ("foreign", "document-analysis", "analyze-document", 404, "blob_not_found"),
        ("missing", "document-analysis", "analyze-document", 404, "blob_not_found"),
        ("huge", "document-analysis", "analyze-document", 413, "file_too_large"),
        ("exe", "document-analysis", "analyze-document", 415, "unsupported_media_type"),
    ],
)
async def test_bad_enqueues_write_nothing(
    api: httpx.AsyncClient,
    world: FakeWorld,
    make_blob: str,
    queue: str,
    job: str,
    status: int,
    code: str,
) -> None:
    blob = {
        "mine": lambda: world.upload("anonymous", "a.txt", b"hi"),
        "foreign": lambda: world.upload("mallory", "a.txt", b"hi"),
        "missing": lambda: owner_prefix("anonymous") + "a" * 32 + "/a.txt",
        "huge": lambda: world.upload("anonymous", "a.txt", b"x" * (1024 * 1024 + 1)),
        "exe": lambda: world.upload("anonymous", "a.txt", b"MZ", "application/x-msdownload"),
    }[make_blob]()
    r = await api.post("/api/v1/jobs", json=enqueue_body(blob, queue, job))
    assert r.status_code == status
    assert error_of(r)["code"] == code
    assert world.log.writes == 0
    assert world.queue.sent == []


async def test_broker_down_is_503_naming_servicebus(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    world.queue.fail_with = ConnectionError("amqp gone")
    blob = world.upload("anonymous", "a.txt", b"hello")
    r = await api.post("/api/v1/jobs", json=enqueue_body(blob))
    assert r.status_code == 503
    error = error_of(r)
    assert error["code"] == "dependency_unavailable"
    (detail,) = error["details"]
    assert detail["dependency"] == "servicebus"
    assert detail["problem"] == "not answering"
    assert "amqp gone" not in r.text


async def _job(api: httpx.AsyncClient, world: FakeWorld) -> dict[str, Any]:
    blob = world.upload("anonymous", "a.txt", b"hello")
    data: dict[str, Any] = (await api.post("/api/v1/jobs", json=enqueue_body(blob))).json()["data"]
    return data


async def test_status_answers_the_contract_fields(api: httpx.AsyncClient, world: FakeWorld) -> None:
    job = await _job(api, world)
    r = await api.get(f"/api/v1/jobs/{job['jobId']}")
    assert r.status_code == 200
    data = r.json()["data"]
    for name in (
        "jobId",
        "status",
        "progress",
        "stage",
        "message",
        "queueName",
        "jobName",
        "createdAt",
        "startedAt",
        "completedAt",
        "attempts",
        "lastEventId",
    ):
        assert name in data
    assert (data["status"], data["lastEventId"], data["progress"]) == ("queued", 1, 0)
    assert data["data"]["blobName"] == data["blobName"]  # what was enqueued, and the upload


async def test_the_status_alias_answers_as_the_job_route_does(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job = await _job(api, world)
    plain = await api.get(f"/api/v1/jobs/{job['jobId']}")
    alias = await api.get(f"/api/v1/jobs/{job['jobId']}/status")
    assert alias.status_code == 200
    assert alias.json() == plain.json()
    assert alias.headers["cache-control"] == "no-store"
    missing = await api.get("/api/v1/jobs/" + "0" * 32 + "/status")
    assert missing.status_code == 404


async def test_unknown_job_is_404(api: httpx.AsyncClient) -> None:
    for path in ("/api/v1/jobs/" + "0" * 32, "/api/v1/jobs/%2e%2e", "/api/v1/jobs/" + "a" * 80):
        r = await api.get(path)
        assert r.status_code == 404
        assert error_of(r)["code"] == "not_found"


async def test_a_stream_token_reads_its_job_but_cannot_write(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job = await _job(api, world)
    auth = {"Authorization": f"Bearer {job['streamToken']}"}
    assert (await api.get(f"/api/v1/jobs/{job['jobId']}", headers=auth)).status_code == 200
    other = await _job(api, world)
    assert (await api.get(f"/api/v1/jobs/{other['jobId']}", headers=auth)).status_code == 404
    cancel = await api.post(f"/api/v1/jobs/{job['jobId']}/cancel", headers=auth)
    assert cancel.status_code == 401
    assert error_of(cancel)["code"] == "read_only_token"
    presign = await api.post(
        "/api/v1/upload/presigned-url", json={"fileName": "a.pdf"}, headers=auth
    )
    assert presign.status_code == 401


async def test_cancel_is_202_then_409(api: httpx.AsyncClient, world: FakeWorld) -> None:
    job = await _job(api, world)
    first = await api.post(f"/api/v1/jobs/{job['jobId']}/cancel")
    assert first.status_code == 202
    assert first.json()["data"]["status"] == "cancelled"
    again = await api.post(f"/api/v1/jobs/{job['jobId']}/cancel")
    assert again.status_code == 409
    assert error_of(again)["code"] == "job_finished"


async def test_health_is_200_when_everything_answers(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["data"]["checks"] == {"storage": "ok", "servicebus": "ok"}


@pytest.mark.parametrize("failure", ["down", "hang"])
async def test_health_is_503_naming_the_failing_dependency(
    api: httpx.AsyncClient, world: FakeWorld, failure: str
) -> None:
    setattr(world.probes[1], failure, True)
    r = await api.get("/api/v1/health")
    assert r.status_code == 503
    error = error_of(r)
    assert error["code"] == "dependency_unavailable"
    assert "servicebus" in error["message"]
    assert "storage" not in error["message"]
    assert [d["dependency"] for d in error["details"]] == ["servicebus"]


async def test_queue_stats(api: httpx.AsyncClient) -> None:
    r = await api.get("/api/v1/queues/resume-analysis/stats")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["queueName"] == "resume-analysis"
    assert {"activeMessages", "deadLetterMessages", "scheduledMessages"} <= set(data)
    unknown = await api.get("/api/v1/queues/whatever/stats")
    assert unknown.status_code == 404


async def test_unexpected_errors_are_500_without_details(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection string with AccountKey=sekrit")

    world.uploads.list_uploads = broken  # type: ignore[method-assign]
    blob = world.upload("anonymous", "a.txt", b"hello")
    r = await api.post("/api/v1/jobs", json=enqueue_body(blob))
    assert r.status_code == 500
    error = error_of(r)
    assert error["code"] == "internal_error"
    assert "sekrit" not in r.text
    assert len(error["details"][0]["correlationId"]) == 32


# --- AUTH_MODE=jwt ----------------------------------------------------------------------------


async def test_jwt_mode_refuses_missing_and_bad_tokens_and_isolates_owners(
    api: httpx.AsyncClient,
) -> None:
    import time

    import jwt

    secret = "entrypoint-test-secret-0123456789abcdef"
    world = fake_world(
        test_settings(AUTH_MODE="jwt", JWT_SECRET=secret, JWT_AUDIENCE="api://jobstream")
    )
    override_app_services(world.services)

    def bearer(sub: str) -> dict[str, str]:
        claims = {"sub": sub, "aud": "api://jobstream", "exp": int(time.time()) + 60}
        return {"Authorization": f"Bearer {jwt.encode(claims, secret, 'HS256')}"}

    missing = await api.post("/api/v1/upload/presigned-url", json={"fileName": "a.pdf"})
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "unauthenticated"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bad = await api.get("/api/v1/jobs/" + "0" * 32, headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401

    blob = world.upload("alice", "a.txt", b"hello")
    made = await api.post("/api/v1/jobs", json=enqueue_body(blob), headers=bearer("alice"))
    assert made.status_code == 202
    job_id = made.json()["data"]["jobId"]
    assert (await api.get(f"/api/v1/jobs/{job_id}", headers=bearer("alice"))).status_code == 200
    theirs = await api.get(f"/api/v1/jobs/{job_id}", headers=bearer("bob"))
    assert theirs.status_code == 404
    steal = await api.post("/api/v1/jobs", json=enqueue_body(blob), headers=bearer("bob"))
    assert steal.status_code == 404


async def test_oversized_chunked_bodies_are_413_without_a_length(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"fileName": "'
        for _ in range(10):
            yield b"a" * 8192

    r = await api.post("/api/v1/upload/presigned-url", content=chunks(), headers=JSON)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert error_of(r)["code"] == "request_too_large"
    assert world.uploads.signed == []


# --- WWW-Authenticate (RFC 6750) ------------------------------------------------------------

JWT_TEST_SECRET = "entrypoint-test-secret-0123456789abcdef"
JWT_TEST_AUDIENCE = "api://jobstream"


def jwt_world() -> FakeWorld:
    world = fake_world(
        test_settings(AUTH_MODE="jwt", JWT_SECRET=JWT_TEST_SECRET, JWT_AUDIENCE=JWT_TEST_AUDIENCE)
    )
    override_app_services(world.services)
    return world


def user_bearer(sub: str, **claims: Any) -> dict[str, str]:
    import time

    import jwt

    body = {"sub": sub, "aud": JWT_TEST_AUDIENCE, "exp": int(time.time()) + 60, **claims}
    return {"Authorization": f"Bearer {jwt.encode(body, JWT_TEST_SECRET, 'HS256')}"}


async def test_no_token_gets_a_bare_bearer_challenge(api: httpx.AsyncClient) -> None:
    jwt_world()
    r = await api.post("/api/v1/upload/presigned-url", json={"fileName": "a.pdf"})
    assert r.status_code == 401
    assert error_of(r)["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == 'Bearer realm="jobstream"'


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Bearer x.y.z", "invalid_token"),
        ("Basic YWxpY2U6c2VjcmV0", "invalid_token"),
        ("expired", "token_expired"),
        ("wrong-audience", "invalid_token"),
    ],
)
async def test_a_bad_token_gets_an_invalid_token_challenge(
    api: httpx.AsyncClient, authorization: str, code: str
) -> None:
    import time

    jwt_world()
    headers = {
        "expired": user_bearer("alice", exp=int(time.time()) - 3600),
        "wrong-audience": user_bearer("alice", aud="api://someone-else"),
    }.get(authorization, {"Authorization": authorization})
    r = await api.get("/api/v1/jobs/" + "0" * 32, headers=headers)
    assert r.status_code == 401
    assert error_of(r)["code"] == code
    assert r.headers["www-authenticate"] == 'Bearer realm="jobstream", error="invalid_token"'


async def test_a_stream_token_beyond_its_scope_gets_insufficient_scope(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    job = await _job(api, world)
    auth = {"Authorization": f"Bearer {job['streamToken']}"}
    r = await api.post(f"/api/v1/jobs/{job['jobId']}/cancel", headers=auth)
    assert r.status_code == 401
    assert error_of(r)["code"] == "read_only_token"
    assert r.headers["www-authenticate"] == 'Bearer realm="jobstream", error="insufficient_scope"'


# --- no infrastructure detail reaches a client ---------------------------------------------

SDK_TEXT = (
    "blob storage describe failed: ServiceRequestError: Cannot connect to host "
    "leakyaccount.blob.core.windows.net:443 ssl:default [Name or service not known]"
)


async def test_a_storage_failure_is_a_fixed_503_and_the_detail_is_logged(
    api: httpx.AsyncClient, world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    from function_app.domain.errors import DependencyUnavailable

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise DependencyUnavailable("storage", SDK_TEXT)

    world.uploads.list_uploads = unreachable  # type: ignore[method-assign]
    blob = world.upload("anonymous", "a.txt", b"hello")
    with caplog.at_level("WARNING"):
        r = await api.post("/api/v1/jobs", json=enqueue_body(blob))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    error = error_of(r)
    assert error["code"] == "dependency_unavailable"
    assert error["message"] == "storage is unavailable; try again shortly"
    assert "leakyaccount" not in r.text
    assert "ServiceRequestError" not in r.text
    (detail,) = error["details"]
    # The one 503 shape (health answers the same keys): dependency, problem, correlationId.
    assert set(detail) == {"dependency", "problem", "correlationId"}
    assert detail["dependency"] == "storage"
    correlation_id = detail["correlationId"]
    logged = [rec.getMessage() for rec in caplog.records if correlation_id in rec.getMessage()]
    assert len(logged) == 1
    assert "leakyaccount.blob.core.windows.net" in logged[0]
    assert world.log.writes == 0


async def test_health_names_the_dependency_without_its_error_text(
    api: httpx.AsyncClient, world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    from function_app.domain.errors import DependencyUnavailable

    async def unreachable() -> None:
        raise DependencyUnavailable("storage", SDK_TEXT)

    world.probes[0].check = unreachable  # type: ignore[method-assign]
    world.probes[1].hang = True
    with caplog.at_level("WARNING"):
        r = await api.get("/api/v1/health")
    assert r.status_code == 503
    assert "leakyaccount" not in r.text
    assert "ServiceRequestError" not in r.text
    error = error_of(r)
    assert error["message"] == "unavailable: servicebus, storage; try again shortly"
    correlation_id = error["details"][0]["correlationId"]
    assert len(correlation_id) == 32
    assert error["details"] == [
        {
            "dependency": "servicebus",
            "problem": "no answer in time",
            "correlationId": correlation_id,
        },
        {"dependency": "storage", "problem": "not answering", "correlationId": correlation_id},
    ]
    logged = " | ".join(rec.getMessage() for rec in caplog.records)
    assert f"storage failing: {SDK_TEXT}; correlation id {correlation_id}" in logged
