"""GET /api/v1/queues: the queues and job names of function_app/queues.json, under the names
this deployment's settings give them; public like health, so no token is ever refused."""

import time
from typing import Any

import httpx
import jwt
import pytest

from function_app.bootstrap import override_app_services
from function_app.topology import topology
from tests.fakes import FakeWorld, fake_world, test_settings

SECRET = "catalog-test-secret-0123456789abcdef"
AUDIENCE = "api://jobstream"


def expected_catalog(renamed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    names = renamed or {}
    return [
        {"queueName": names.get(q.name, q.name), "jobNames": list(q.job_names)}
        for q in topology().queues
    ]


async def test_lists_every_queue_and_its_job_names_in_the_files_order(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    r = await api.get("/api/v1/queues")
    assert r.status_code == 200
    assert r.json() == {"success": True, "data": {"queues": expected_catalog()}}
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"].startswith("application/json")


async def test_a_queue_renamed_by_its_setting_is_listed_under_the_new_name(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    first = topology().queues[0]
    renamed = fake_world(test_settings(**{first.setting: "resume-analysis-eu"}))
    override_app_services(renamed.services)
    r = await api.get("/api/v1/queues")
    assert r.json()["data"]["queues"] == expected_catalog({first.name: "resume-analysis-eu"})


async def test_every_job_name_listed_is_accepted_on_its_queue(
    api: httpx.AsyncClient, world: FakeWorld
) -> None:
    """The catalog and the enqueue validation agree: each pair gets past queue and job checks."""
    catalog = (await api.get("/api/v1/queues")).json()["data"]["queues"]
    for entry in catalog:
        for job_name in entry["jobNames"]:
            r = await api.post(
                "/api/v1/jobs",
                json={"queueName": entry["queueName"], "jobName": job_name, "data": {}},
            )
            assert r.status_code == 400
            assert r.json()["error"]["details"] == [
                {"field": "data.blobName", "problem": "required string"}
            ]


def _bearer(**claims: Any) -> dict[str, str]:
    body = {"sub": "alice", "aud": AUDIENCE, "exp": int(time.time()) + 60, **claims}
    return {"Authorization": f"Bearer {jwt.encode(body, SECRET, 'HS256')}"}


@pytest.mark.parametrize(
    "credentials",
    ["none", "user", "expired", "garbage", "stream token"],
)
async def test_in_jwt_mode_it_answers_whatever_token_comes_or_none(
    api: httpx.AsyncClient, world: FakeWorld, credentials: str
) -> None:
    jwt_world = fake_world(test_settings(AUTH_MODE="jwt", JWT_SECRET=SECRET, JWT_AUDIENCE=AUDIENCE))
    override_app_services(jwt_world.services)
    headers = {
        "none": {},
        "user": _bearer(),
        "expired": _bearer(exp=int(time.time()) - 3600),
        "garbage": {"Authorization": "Bearer x.y.z"},
    }.get(credentials)
    if headers is None:  # a stream token, as enqueue hands it out
        blob = jwt_world.upload("alice", "a.txt", b"hello")
        job = await api.post(
            "/api/v1/jobs",
            json={
                "queueName": topology().queues[-1].name,
                "jobName": topology().queues[-1].job_names[0],
                "data": {"blobName": blob, "fileName": "a.txt"},
            },
            headers=_bearer(),
        )
        assert job.status_code == 202, job.text
        headers = {"Authorization": f"Bearer {job.json()['data']['streamToken']}"}
    r = await api.get("/api/v1/queues", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["queues"] == expected_catalog()
    assert "www-authenticate" not in r.headers


async def test_only_get_is_routed(api: httpx.AsyncClient, world: FakeWorld) -> None:
    r = await api.post("/api/v1/queues", json={})
    assert r.status_code == 405
