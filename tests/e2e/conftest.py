"""Helpers for the end-to-end tests: they talk to the real local stack (`local_stack`,
tests/support/stack.py) over HTTP only, as a browser or script would.

Every answer an e2e test gets from the API (any httpx client, any route under `/api/`) is
checked against the published OpenAPI document (`answers_match_the_document`): a status, a
media type or a JSON body the document does not describe fails the test. Streams are checked
for status and media type (their bodies are not read here); `Api.events` checks each
`job_update` against its event schema.
"""

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient

from function_app.entrypoints.event_models import JobUpdateEvent
from jobstream_client.sse import SseParser
from tests.support.openapi_check import check_every_answer
from tests.support.stack import LocalStack

TERMINAL = frozenset({"completed", "failed", "cancelled"})
JOB_WAIT_SECONDS = 90.0
UPLOADS_CONTAINER = "uploads"
JOBS_TABLE = "jobs"

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
}


@pytest.fixture(autouse=True)
def answers_match_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check every API answer of the test against the OpenAPI document (module docstring)."""
    check_every_answer(monkeypatch)


def new_owner(name: str) -> str:
    """A unique owner per test, so tests never see each other's jobs or counts."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


@dataclass
class Api:
    """The product API as one owner sees it."""

    stack: LocalStack
    http: httpx.AsyncClient
    owner: str

    @property
    def auth(self) -> dict[str, str]:
        return self.stack.headers(self.owner)

    async def presign(
        self, file_name: str, content_type: str | None, size: int | None
    ) -> httpx.Response:
        body: dict[str, Any] = {"fileName": file_name}
        if content_type is not None:
            body["contentType"] = content_type
        if size is not None:
            body["size"] = size
        return await self.http.post(
            f"{self.stack.api}/upload/presigned-url", json=body, headers=self.auth
        )

    async def upload(self, file_name: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Presign, then PUT the bytes straight to Azurite with plain HTTP."""
        presigned = await self.presign(file_name, content_type, len(data))
        assert presigned.status_code == 201, presigned.text
        upload: dict[str, Any] = presigned.json()["data"]
        put = await self.http.put(upload["uploadUrl"], content=data, headers=upload["headers"])
        assert put.status_code == 201, put.text
        return upload

    async def enqueue(
        self,
        queue: str,
        job: str,
        data: dict[str, Any],
        idempotency_key: str | None = None,
        route: str = "jobs",
    ) -> httpx.Response:
        headers = dict(self.auth)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return await self.http.post(
            f"{self.stack.api}/{route}",
            json={"queueName": queue, "jobName": job, "data": data},
            headers=headers,
        )

    async def submit(
        self, queue: str, job: str, file_name: str, data: bytes, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        kind = file_name.rsplit(".", 1)[-1]
        upload = await self.upload(file_name, data, CONTENT_TYPES[kind])
        response = await self.enqueue(
            queue, job, {"blobName": upload["blobName"], "fileName": file_name, **(extra or {})}
        )
        assert response.status_code == 202, response.text
        accepted: dict[str, Any] = response.json()["data"]
        return accepted

    async def status(self, job_id: str) -> httpx.Response:
        return await self.http.get(f"{self.stack.api}/jobs/{job_id}", headers=self.auth)

    async def wait_terminal(self, job_id: str) -> dict[str, Any]:
        """Poll the status route (the contract's polling fallback) until the job ends."""
        for _ in range(int(JOB_WAIT_SECONDS / 0.25)):
            response = await self.status(job_id)
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()["data"]
            if job["status"] in TERMINAL:
                return job
            await asyncio.sleep(0.25)
        pytest.fail(f"job {job_id} did not finish: last status {job}")

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        """Every `job_update` of a job, read from its stream from the start to the end."""
        updates: list[dict[str, Any]] = []
        parser = SseParser()
        async with self.http.stream(
            "GET", f"{self.stack.api}/jobs/{job_id}/stream", headers=self.auth, timeout=60
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is None or event.event != "job_update":
                    continue
                update: dict[str, Any] = json.loads(event.data)
                JobUpdateEvent.model_validate(update)  # the document's schema for the event
                updates.append(update)
                if update["status"] in TERMINAL:
                    break
        return updates


@pytest.fixture
async def alice(local_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Api(local_stack, http, new_owner("alice"))


@pytest.fixture
async def bob(local_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Api(local_stack, http, new_owner("bob"))


async def stored_traces(stack: LocalStack, owner: str) -> list[str]:
    """Where `owner` appears in the stack's storage: job table entities and blob names.

    Blob names carry a hash of the owner, not the owner: both are looked for. Bad requests
    must leave nothing behind; a control test shows a good request's writes are found.
    """
    marks = (owner, hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32])
    found: list[str] = []
    async with TableServiceClient.from_connection_string(stack.storage_connection_string) as ts:
        table = ts.get_table_client(JOBS_TABLE)
        async for entity in table.list_entities():
            if any(mark in str(value) for value in entity.values() for mark in marks):
                found.append(f"table:{entity['PartitionKey']}/{entity['RowKey']}")
    async with BlobServiceClient.from_connection_string(stack.storage_connection_string) as bs:
        container = bs.get_container_client(UPLOADS_CONTAINER)
        async for blob in container.list_blobs():
            if any(mark in blob.name for mark in marks):
                found.append(f"blob:{blob.name}")
    return found


class AnonymousApi(Api):
    """An Api that sends no credentials (AUTH_MODE=none stacks: every caller is anonymous)."""

    @property
    def auth(self) -> dict[str, str]:
        return {}
