"""GET /api/v1/openapi.json: the document covers every route the app registers, is valid
OpenAPI 3.1 (schemathesis loads it), is public, and its answers check catches what it lacks."""

import json
import re
from pathlib import Path

import azure.functions as func
import httpx
import pytest
import schemathesis

import main
from function_app.bootstrap import override_app_services
from function_app.entrypoints.errors import STATUS_BY_ERROR
from function_app.entrypoints.openapi import openapi_document
from function_app.entrypoints.openapi_routes import ERROR_CODES, ROUTE_PREFIX, ROUTES
from tests.fakes import FakeWorld, fake_world, test_settings
from tests.support.openapi_check import (
    OutsideTheDocument,
    check_answer,
    check_every_answer,
    check_response,
)

ROOT = Path(__file__).resolve().parents[3]


def registered_http_routes() -> set[tuple[str, str]]:
    """(METHOD, /api/route) for every HTTP function the app's blueprints register."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in main.BLUEPRINTS:
        app.register_functions(blueprint)
    found = set()
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is None or trigger.get_binding_name() != "httpTrigger":
            continue
        spec = trigger.get_dict_repr()
        for method in spec.get("methods") or ["ANY"]:
            found.add((str(getattr(method, "value", method)).upper(), f"/api/{spec['route']}"))
    return found


def documented_routes() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }


def test_every_registered_route_is_in_the_document() -> None:
    registered = registered_http_routes()
    assert len(registered) >= 17
    assert registered - documented_routes() == set(), "routes the OpenAPI document lacks"


def test_the_document_names_no_route_the_app_lacks() -> None:
    assert documented_routes() - registered_http_routes() == set()


def test_the_route_prefix_is_the_hosts() -> None:
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    assert host["extensions"]["http"]["routePrefix"] == ROUTE_PREFIX


def test_schemathesis_loads_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(ROUTES)


def test_every_reference_resolves_and_every_error_lists_its_codes() -> None:
    document = openapi_document()
    text = json.dumps(document)
    schemas = document["components"]["schemas"]
    for name in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        assert name in schemas, name
    enqueue = document["paths"]["/api/v1/jobs"]["post"]
    assert {"202", "400", "401", "404", "409", "413", "415", "422", "429", "500", "503"} <= set(
        enqueue["responses"]
    )
    assert set(enqueue["responses"]["202"]["headers"]) >= {"Location", "Cache-Control"}
    assert set(enqueue["responses"]["429"]["headers"]) >= {"Retry-After"}
    assert [p["name"] for p in enqueue["parameters"]] == ["Idempotency-Key"]
    assert "invalid_token" in json.dumps(schemas["Error401"])


def test_stream_routes_are_event_streams_with_each_events_schema() -> None:
    stream = openapi_document()["paths"]["/api/v1/jobs/{jobId}/stream"]["get"]
    media = stream["responses"]["200"]["content"]["text/event-stream"]
    assert media["x-sse-events"]["job_update"] == {"$ref": "#/components/schemas/JobUpdateEvent"}
    assert "204" in stream["responses"]
    assert "Last-Event-ID" in [p["name"] for p in stream["parameters"]]


async def test_it_is_served_to_anyone_even_with_a_bad_token(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    override_app_services(
        fake_world(
            test_settings(AUTH_MODE="jwt", JWT_SECRET="x" * 32, JWT_AUDIENCE="api://jobstream")
        ).services
    )
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        r = await api.get("/api/v1/openapi.json", headers=headers)
        assert r.status_code == 200
        assert r.json() == openapi_document()
        check_response(r)
    # A user route of the same app refuses the same request: the app is in jwt mode.
    assert (await api.get("/api/v1/sse/stats")).status_code == 401


async def test_real_answers_pass_the_check(api: httpx.AsyncClient, world: FakeWorld) -> None:
    for r in (
        await api.post("/api/v1/upload/presigned-url", json={"fileName": "cv.pdf", "size": 3}),
        await api.post("/api/v1/upload/presigned-url", json={"fileName": ""}),
        await api.get("/api/v1/jobs/nope"),
        await api.get("/api/v1/health"),
        await api.get("/api/v1/queues"),
    ):
        check_response(r)


JOB_PATH = "/api/v1/jobs/abc"
GOOD_ERROR = {"success": False, "error": {"code": "not_found", "message": "m", "details": []}}


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "why"),
    [
        ("GET", "/api/v1/nowhere", 200, b"{}", "no such path"),
        ("DELETE", JOB_PATH, 200, b"{}", "no such method"),
        ("GET", JOB_PATH, 418, b"{}", "status not documented"),
        ("GET", JOB_PATH, 200, b'{"success": true, "data": {"jobId": "abc"}}', "outside"),
        (
            "GET",
            JOB_PATH,
            404,
            json.dumps({**GOOD_ERROR, "error": {**GOOD_ERROR["error"], "code": "oops"}}).encode(),
            "outside",
        ),
        ("GET", JOB_PATH, 404, json.dumps({**GOOD_ERROR, "trace": "x"}).encode(), "outside"),
        ("GET", JOB_PATH, 404, b"<html>", "not JSON"),
    ],
)
def test_the_check_refuses_answers_outside_the_document(
    method: str, path: str, status: int, body: bytes, why: str
) -> None:
    with pytest.raises(OutsideTheDocument, match=why):
        check_answer(method, path, status, "application/json", body)


def test_the_check_accepts_a_documented_error() -> None:
    check_answer("GET", JOB_PATH, 404, "application/json", json.dumps(GOOD_ERROR).encode())


def answering(status: int, body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda _: httpx.Response(
            status,
            content=body,
            headers={"content-type": "application/json", "cache-control": "no-store"},
        )
    )


async def test_the_e2e_hook_fails_an_answer_outside_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hook the e2e conftest installs: any client, any API answer, sync or async."""
    check_every_answer(monkeypatch)
    async with httpx.AsyncClient(transport=answering(404, json.dumps(GOOD_ERROR).encode())) as ok:
        assert (await ok.get(f"http://stack{JOB_PATH}")).status_code == 404
    async with httpx.AsyncClient(transport=answering(200, b'{"success": true}')) as bad:
        with pytest.raises(OutsideTheDocument):
            await bad.get(f"http://stack{JOB_PATH}")
        # Not our API (Azurite's blob URLs, say): not checked.
        assert (await bad.get("http://azurite/devstoreaccount1/x")).status_code == 200
    with (
        httpx.Client(transport=answering(418, b"{}")) as sync,
        pytest.raises(OutsideTheDocument, match="status not documented"),
    ):
        sync.get(f"http://stack{JOB_PATH}")


def test_the_check_wants_the_required_headers() -> None:
    body = json.dumps(GOOD_ERROR).encode()
    check_answer("GET", JOB_PATH, 404, "application/json", body, {"cache-control": "no-store"})
    with pytest.raises(OutsideTheDocument, match="required header Cache-Control"):
        check_answer("GET", JOB_PATH, 404, "application/json", body, {})


def documented_error_codes() -> set[tuple[str, int]]:
    """(code, status) from the table in docs/api.md, "Error codes"."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", table, flags=re.MULTILINE)
    return {(code, int(status)) for code, status in rows}


def test_the_error_codes_are_those_of_docs_api_md() -> None:
    published = {(code, status) for status, codes in ERROR_CODES.items() for code in codes}
    assert published == documented_error_codes()


def test_every_error_code_the_code_raises_is_published() -> None:
    """Each `code="..."` a domain error is raised with, and each error class's own code."""
    published = {code for codes in ERROR_CODES.values() for code in codes}
    raised = set()
    for path in (ROOT / "function_app").rglob("*.py"):
        raised |= set(re.findall(r'\bcode="([a-z_]+)"', path.read_text(encoding="utf-8")))
    # A class's own code is sent when it is raised without one; every Conflict and
    # Unprocessable names its code (services/job_uploads.py, idempotency.py, jobs.py).
    raised |= {kind.code for kind, _ in STATUS_BY_ERROR} - {"conflict", "unprocessable"}
    assert raised - published == set()
