"""A local stack tuned for stream tests, and helpers to write a job's events straight to its log.

`stream_stack` starts `python -m devstack` like `local_stack` (`launch_stack`: AUTH_MODE=jwt,
free ports, in-memory Azurite, temp dir, stopped by pid) but with a short stream max age
(5 s), a 1 s heartbeat and a 200 ms retry hint, so timeouts, resumes and heartbeats happen
within a test.
`long_stream_stack` is the same with a 300 s max age and the host's access log on: there a
stream ends within a test only if the server closes it for a reason other than its age (a
terminal event, the client going away), and the log shows every request line as logged.
`proxied_stack` is `long_stream_stack` open to every origin, and `proxied` a proxy that buffers
whole responses in front of it (`tests.support.buffering_proxy`).
`SeededJobs` records jobs and events through the real Table event log adapter on the stack's
Azurite, the way the worker does: tests can drive a job step by step while watching it.
"""

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.azurite import DEV_ACCOUNT, DEV_KEY
from function_app.adapters.table_storage import TableStorage
from function_app.domain.jobs import EventDraft, Job, JobEvent, JobStatus
from tests.support.buffering_proxy import buffering_proxy
from tests.support.stack import LocalStack, launch_stack

STREAM_SETTINGS = {
    "STREAM_MAX_AGE_SECONDS": "5",
    "STREAM_HEARTBEAT_SECONDS": "1",
    "STREAM_RETRY_MS": "200",
}
# Long enough that no test outlives a stream: what ends one is never its age.
LONG_STREAM_MAX_AGE_SECONDS = 300
LONG_STREAM_SETTINGS = {
    **STREAM_SETTINGS,
    "STREAM_MAX_AGE_SECONDS": str(LONG_STREAM_MAX_AGE_SECONDS),
}
JOBS_TABLE = "jobs"


@dataclass(frozen=True)
class SeededJobs:
    """Writes jobs and their events through the real adapter (a fresh client per call)."""

    table_endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint={self.table_endpoint};"
        )

    def _storage(self) -> TableStorage:
        return TableStorage.from_connection_string(self.connection_string, JOBS_TABLE)

    async def create(self, owner: str) -> str:
        job_id = f"seed-{uuid.uuid4().hex}"
        job = Job(job_id, owner, "resume-analysis", "analyze-resume", {}, datetime.now(UTC))
        storage = self._storage()
        try:
            await storage.event_log.create(
                job, EventDraft(JobStatus.QUEUED, 0, "queued", "Job queued")
            )
        finally:
            await storage.close()
        return job_id

    async def record(self, job_id: str, *drafts: EventDraft) -> list[JobEvent]:
        storage = self._storage()
        events = []
        try:
            for draft in drafts:
                _, event = await storage.event_log.append(job_id, lambda _job, d=draft: d)
                assert event is not None
                events.append(event)
        finally:
            await storage.close()
        return events

    async def finished(self, owner: str, steps: int = 4) -> tuple[str, int]:
        """A completed job with `steps` progress events: (job id, last sequence)."""
        job_id = await self.create(owner)
        events = await self.record(job_id, *run_drafts(steps), completed())
        return job_id, events[-1].sequence


def started() -> EventDraft:
    return EventDraft(JobStatus.STARTED, 0, "initializing", "Job started")


def progress(percent: int) -> EventDraft:
    return EventDraft(JobStatus.IN_PROGRESS, percent, "analyzing", f"{percent}% analysed")


def run_drafts(steps: int) -> list[EventDraft]:
    return [started(), *(progress(min(99, 10 * (i + 1))) for i in range(steps - 1))]


def completed() -> EventDraft:
    return EventDraft(JobStatus.COMPLETED, 100, "done", "Done", result={"score": 42})


@dataclass(frozen=True)
class StreamStack:
    stack: LocalStack
    jobs: SeededJobs

    @property
    def api(self) -> str:
        return self.stack.api

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def headers(self, owner: str) -> dict[str, str]:
        return self.stack.headers(owner)

    def token(self, owner: str) -> str:
        return self.stack.token(owner)


def submit_job(
    api: str,
    file_name: str,
    content_type: str,
    data: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    job: tuple[str, str] = ("resume-analysis", "analyze-resume"),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Presign, PUT the bytes to Azurite, enqueue `job` (queue, job name; `analyze-resume` by
    default) through the API, `extra` added to its data.

    Returns the 202 data. `headers` carries the caller's identity (none in AUTH_MODE=none).
    """
    auth = dict(headers or {})
    with httpx.Client(timeout=30) as http:
        presigned = http.post(
            f"{api}/upload/presigned-url",
            json={"fileName": file_name, "contentType": content_type, "size": len(data)},
            headers=auth,
        )
        assert presigned.status_code == 201, presigned.text
        upload = presigned.json()["data"]
        put = http.put(upload["uploadUrl"], content=data, headers=upload["headers"])
        assert put.status_code == 201, put.text
        enqueued = http.post(
            f"{api}/jobs",
            json={
                "queueName": job[0],
                "jobName": job[1],
                "data": {"blobName": upload["blobName"], "fileName": file_name, **(extra or {})},
            },
            headers=auth,
        )
        assert enqueued.status_code == 202, enqueued.text
        accepted: dict[str, Any] = enqueued.json()["data"]
        return accepted


@pytest.fixture(scope="session")
def stream_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamStack]:
    # Every origin allowed (`--cors '*'`): the cross-origin tests serve the page from ports
    # picked after the stack started.
    with launch_stack(
        tmp_path_factory.mktemp("stream-stack"), STREAM_SETTINGS, ["--cors", "*"]
    ) as stack:
        yield StreamStack(stack, SeededJobs(stack.table_endpoint))


@pytest.fixture(scope="session")
def long_stream_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamStack]:
    """`stream_stack` with a 300 s stream max age and the host's access log on."""
    with launch_stack(
        tmp_path_factory.mktemp("long-stream-stack"), LONG_STREAM_SETTINGS, ["--access-log"]
    ) as stack:
        yield StreamStack(stack, SeededJobs(stack.table_endpoint))


@pytest.fixture(scope="session")
def proxied_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamStack]:
    """`long_stream_stack`'s settings with every origin allowed (`--cors '*'`): a page served
    through a proxy is on the proxy's origin, and uploads straight to Azurite."""
    with launch_stack(
        tmp_path_factory.mktemp("proxied-stack"), LONG_STREAM_SETTINGS, ["--cors", "*"]
    ) as stack:
        yield StreamStack(stack, SeededJobs(stack.table_endpoint))


@pytest.fixture(scope="session")
def proxied(proxied_stack: StreamStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a proxy that buffers whole responses (`tests.support.buffering_proxy`)
    in front of `proxied_stack`'s host: its API and demo page, as seen through it."""
    with buffering_proxy(proxied_stack.base_url, tmp_path_factory.mktemp("proxy")) as base:
        yield base
