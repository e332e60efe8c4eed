"""The routes the published OpenAPI document describes (`openapi.py` builds it): one
`Operation` per (method, route) the app registers, as the blueprints spell it (without the
host's `api/` prefix), with every status it can answer, its parameters, its request and answer
models and the OpenAPI links from its answer. A test fails when the app registers a route
that is missing here. To add a route, add its `Operation` to `ROUTES`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from function_app.entrypoints import event_models as ev
from function_app.entrypoints import response_models as out
from function_app.entrypoints.event_page_schemas import JobEventsPageOut
from function_app.entrypoints.schemas import EnqueueIn, PresignIn

ROUTE_PREFIX = "api"
# Each stream's events as one schema too (event name -> payload), for client generators.
EVENT_MAPS: Mapping[str, Mapping[str, type[BaseModel]]] = {
    "JobStreamEvents": ev.JOB_STREAM_EVENTS,
    "FeedEvents": ev.FEED_EVENTS,
    "CatalogueEvents": ev.CATALOGUE_EVENTS,
}
REF = "#/components/schemas/{model}"

Auth = Literal["user", "stream", "none"]

# Every error code by status (docs/api.md, "Error codes"); each error response lists its own.
ERROR_CODES: Mapping[int, tuple[str, ...]] = {
    400: (
        "invalid_request",
        "malformed_json",
        "invalid_file_name",
        "invalid_idempotency_key",
        "unknown_queue",
        "unknown_job_name",
    ),
    401: (
        "unauthenticated",
        "invalid_token",
        "token_expired",
        "read_only_token",
        "insufficient_scope",
    ),
    404: ("not_found", "blob_not_found", "unknown_queue"),
    409: (
        "job_finished",
        "ambiguous_upload",
        "upload_already_used",
        "idempotency_key_reused",
        "idempotency_in_progress",
        "upload_changed",
    ),
    413: ("request_too_large", "file_too_large"),
    415: ("unsupported_media_type",),
    422: (
        "empty_upload",
        "unsupported_blob_type",
        "upload_has_snapshots",
        "type_mismatch",
        "checksum_mismatch",
    ),
    429: ("throttled",),
    500: ("internal_error",),
    503: ("dependency_unavailable",),
}
ERROR_DESCRIPTIONS: Mapping[int, str] = {
    400: "the body or a parameter is malformed",
    401: "no credential, or one that is not accepted here",
    404: "no such resource, or not the caller's",
    409: "the request conflicts with the resource's state",
    413: "the body or the declared file is too large",
    415: "the content type is not accepted",
    422: "the upload failed its checks",
    429: "over a per-caller limit",
    500: "a bug on our side (details: correlationId)",
    503: "a dependency did not answer",
}
# Every route can answer these (docs/api.md, "Routes at a glance").
ALWAYS = (500, 503)


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header"]
    description: str
    schema: Mapping[str, Any]


JOB_ID = Param("jobId", "path", "the job's id", {"type": "string"})
QUEUE_NAME = Param("queueName", "path", "a queue of this deployment", {"type": "string"})
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    "1-200 printable ASCII characters, no spaces: a retry with the same key and body"
    " answers the same job",
    {"type": "string", "minLength": 1, "maxLength": 200},
)
TOKEN = Param(
    "token",
    "query",
    "a stream token (or user token) for clients that cannot send headers (EventSource)",
    {"type": "string"},
)
LAST_EVENT_ID = Param(
    "Last-Event-ID",
    "header",
    "resume after this event id (EventSource sends it)",
    {"type": "string"},
)
VOCABULARIES = Param(
    "events",
    "query",
    "a comma-separated subset of the vocabularies `jobstream`, `steps` (default both)",
    {"type": "string"},
)
JOB_STREAM_PARAMS = (
    JOB_ID,
    TOKEN,
    LAST_EVENT_ID,
    Param("since", "query", "as Last-Event-ID, for clients that cannot set it", {"type": "string"}),
    VOCABULARIES,
    Param("queueName", "query", "the job's queue, when the client knows it", {"type": "string"}),
)
LONG_POLL_PARAMS = (
    JOB_ID,
    TOKEN,
    Param("after", "query", "the last event id the client has (`N` or `N.k`)", {"type": "string"}),
    Param("wait", "query", "seconds to wait for an event, 0 up to the longest", {"type": "string"}),
    Param("limit", "query", "stored events at most in one page", {"type": "string"}),
    VOCABULARIES,
)
FEED_PARAMS = (
    TOKEN,
    LAST_EVENT_ID,
    Param("since", "query", "resume after this time (epoch milliseconds)", {"type": "string"}),
)


@dataclass(frozen=True)
class Operation:
    """One (method, route) of the app and everything it can answer."""

    method: Literal["get", "post"]
    route: str  # as the blueprint registers it, e.g. "v1/jobs/{jobId}"
    operation_id: str
    summary: str
    tag: str
    auth: Auth
    status: int  # the success status
    answer: type[BaseModel] | None = None  # the success body's `data` (JSON routes)
    events: Mapping[str, type[BaseModel]] | None = None  # a stream route's events
    request: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    no_content: bool = False  # also answers 204 (a stream with nothing left to send)
    success_headers: tuple[str, ...] = ()
    # OpenAPI links from the success answer to the operations it enables (by operationId).
    links: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def path(self) -> str:
        return f"/{ROUTE_PREFIX}/{self.route}"


def _job_links(*operation_ids: str) -> dict[str, dict[str, Any]]:
    """Links to operations on the job this answer names (`data.jobId`)."""
    return {
        target: {"operationId": target, "parameters": {"path.jobId": "$response.body#/data/jobId"}}
        for target in operation_ids
    }


# presign -> (PUT the file) -> enqueue naming the blob -> status, cancel.
PRESIGN_LINKS = {
    "enqueueJob": {
        "operationId": "enqueueJob",
        "description": "after the PUT to uploadUrl: enqueue a job on the uploaded blob",
        "requestBody": {"data": {"blobName": "$response.body#/data/blobName"}},
    }
}
JOB_LINKS = ("getJob", "getJobStatus", "cancelJob", "streamJob")


def _enqueue(route: str, operation_id: str, summary: str) -> Operation:
    return Operation(
        "post", route, operation_id, summary, "jobs", "user", 202,
        answer=out.JobAcceptedOut, request=EnqueueIn,
        errors=(400, 401, 404, 409, 413, 415, 422, 429),
        params=(IDEMPOTENCY_KEY,), success_headers=("Location", "Idempotent-Replayed"),
        links=_job_links(*JOB_LINKS),
    )  # fmt: skip


def _status(route: str, operation_id: str, summary: str) -> Operation:
    return Operation(
        "get", route, operation_id, summary, "jobs", "stream", 200,
        answer=out.JobOut, errors=(401, 404), params=(JOB_ID,),
        links=_job_links("cancelJob"),
    )  # fmt: skip


def _job_stream(route: str, operation_id: str, summary: str) -> Operation:
    return Operation(
        "get", route, operation_id, summary, "streams", "stream", 200,
        events=ev.JOB_STREAM_EVENTS, errors=(400, 401, 404, 429), params=JOB_STREAM_PARAMS,
        no_content=True,
    )  # fmt: skip


def _feed(route: str, operation_id: str, summary: str) -> Operation:
    return Operation(
        "get", route, operation_id, summary, "streams", "stream", 200,
        events=ev.FEED_EVENTS, errors=(400, 401, 429), params=FEED_PARAMS,
    )  # fmt: skip


ROUTES: tuple[Operation, ...] = (
    Operation(
        "post", "v1/upload/presigned-url", "presignUpload", "An upload URL for one new blob",
        "uploads", "user", 201, answer=out.PresignedUploadOut, request=PresignIn,
        errors=(400, 401, 413, 415, 429), links=PRESIGN_LINKS,
    ),
    _enqueue("v1/jobs", "enqueueJob", "Enqueue a job"),
    _enqueue("v1/queue/add", "queueAdd", "Enqueue a job (the same handler as POST v1/jobs)"),
    _status("v1/jobs/{jobId}", "getJob", "A job's status and result"),
    _status("v1/jobs/{jobId}/status", "getJobStatus", "The same answer as GET v1/jobs/{jobId}"),
    Operation(
        "post", "v1/jobs/{jobId}/cancel", "cancelJob", "Ask a job to stop", "jobs", "user", 202,
        answer=out.JobOut, errors=(401, 404, 409), params=(JOB_ID,),
        links=_job_links("getJob"),
    ),
    _job_stream("v1/jobs/{jobId}/stream", "streamJob", "The job's live progress (SSE)"),
    _job_stream("v1/sse/job/{jobId}", "sseJob", "The same stream as GET v1/jobs/{jobId}/stream"),
    Operation(
        "get", "v1/jobs/{jobId}/events", "jobEvents",
        "The job's events by long polling (a stream's fallback behind buffering proxies)",
        "streams", "stream", 200, answer=JobEventsPageOut, errors=(400, 401, 404, 429),
        params=LONG_POLL_PARAMS, success_headers=("Retry-After",),
    ),
    Operation(
        "get", "v1/sse/stats", "streamStats", "This instance's open streams", "streams", "user",
        200, answer=out.StreamStatsOut, errors=(401,),
    ),
    _feed("events", "callerEvents", "Every event of all the caller's jobs (SSE, seed 002)"),
    _feed("jobs/events", "callerJobEvents", "The same feed as GET events (seed 002's proxy)"),
    Operation(
        "post", "v1/events/token", "feedToken", "A feed token for ?token= on GET events",
        "streams", "user", 200, answer=out.FeedTokenOut, errors=(401, 429),
    ),
    Operation(
        "get", "v1/queue/events", "queueEvents", "The caller's feed in seed 000's catalogue (SSE)",
        "streams", "stream", 200, events=ev.CATALOGUE_EVENTS, errors=(400, 401, 429),
        params=FEED_PARAMS,
    ),
    Operation(
        "get", "v1/queues/{queueName}/stats", "queueStats", "Message counts of a queue", "system",
        "user", 200, answer=out.QueueStatsOut, errors=(401, 404), params=(QUEUE_NAME,),
    ),
    Operation(
        "get", "v1/queues", "listQueues", "The queues and the job names each accepts", "system",
        "none", 200, answer=out.CatalogOut,
    ),
    Operation(
        "get", "v1/health", "health", "Are storage and Service Bus answering", "system", "none",
        200, answer=out.HealthOut,
    ),
    Operation(
        "get", "v1/openapi.json", "openapi", "This document", "system", "none", 200,
    ),
)  # fmt: skip
