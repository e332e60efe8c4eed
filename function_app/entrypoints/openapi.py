"""The published contract: an OpenAPI 3.1 document built from the models the routes use.

`ROUTES` holds one `Operation` per (method, route) the app registers, as the blueprints spell
it (without the host's `api/` prefix); a test fails when the app has a route that is missing
here. Request bodies come from `schemas.py` (the models the handlers parse), answers from
`response_models.py` (the models every answer passes through), stream events from
`event_models.py`: no schema is written twice. To add a route, add its `Operation`.

Stream routes are `text/event-stream`; their events are listed under the media type as
`x-sse-events` (event name -> the `$ref` of its `data:` payload), and each payload is a named
schema under `components.schemas`, so generators emit a type for it; so is each stream's whole
map (`JobStreamEvents`, `FeedEvents`, `CatalogueEvents`: event name -> payload).

`python -m function_app.entrypoints.openapi` prints the document (`make types` feeds it to
openapi-typescript).
"""

import copy
import functools
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from function_app.entrypoints import event_models as ev
from function_app.entrypoints import response_models as out
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
JOB_STREAM_PARAMS = (
    JOB_ID,
    TOKEN,
    LAST_EVENT_ID,
    Param("since", "query", "as Last-Event-ID, for clients that cannot set it", {"type": "string"}),
    Param(
        "events",
        "query",
        "a comma-separated subset of the vocabularies `jobstream`, `steps` (default both)",
        {"type": "string"},
    ),
    Param("queueName", "query", "the job's queue, when the client knows it", {"type": "string"}),
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

HEADERS: Mapping[str, Mapping[str, Any]] = {
    "Cache-Control": {"description": "`no-store` on API answers", "schema": {"type": "string"}},
    "Location": {"description": "the job's status URL", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when an Idempotency-Key replay answered an earlier job",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {"description": "whole seconds to wait", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "an RFC 6750 challenge", "schema": {"type": "string"}},
    "X-Accel-Buffering": {"description": "`no`: do not buffer", "schema": {"type": "string"}},
}
ERROR_HEADERS: Mapping[int, tuple[str, ...]] = {
    401: ("WWW-Authenticate",),
    429: ("Retry-After",),
    503: ("Retry-After",),
}

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "a user token (AUTH_MODE=jwt or entra), or a stream / feed token on the"
        " routes that take one; with AUTH_MODE=none no credential is needed",
    },
    "queryToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "a stream or feed token (or user token) as ?token=, on stream routes",
    },
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for op in ROUTES:
        for model in (op.answer, op.request, *(op.events or {}).values()):
            if model is not None:
                found.setdefault(model.__name__, model)
    found.setdefault(out.ErrorEnvelope.__name__, out.ErrorEnvelope)
    return list(found.values())


def _component_schemas() -> dict[str, Any]:
    models = _models()
    requests = {op.request for op in ROUTES if op.request is not None}
    keyed = [(m, "validation" if m in requests else "serialization") for m in models]
    _, top = models_json_schema(keyed, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    for status, codes in ERROR_CODES.items():
        schemas[f"Error{status}"] = _error_schema(schemas[out.ErrorEnvelope.__name__], codes)
    for name, events in EVENT_MAPS.items():
        schemas[name] = {
            "type": "object",
            "description": "each event name of the stream and the schema of its data",
            "properties": {event: _ref(model) for event, model in events.items()},
            "required": list(events),
            "additionalProperties": False,
        }
    return schemas


def _error_schema(envelope: Mapping[str, Any], codes: Sequence[str]) -> dict[str, Any]:
    """The error envelope with `error.code` narrowed to this status's codes."""
    schema = copy.deepcopy(dict(envelope))
    error = schema["properties"]["error"]
    return {
        **schema,
        "properties": {
            **schema["properties"],
            "error": {"allOf": [error, {"properties": {"code": {"enum": list(codes)}}}]},
        },
    }


# Always sent where they are listed (Idempotent-Replayed only on a replay).
REQUIRED_HEADERS = frozenset(
    {"Cache-Control", "Location", "Retry-After", "WWW-Authenticate", "X-Accel-Buffering"}
)


def _headers(names: Sequence[str]) -> dict[str, Any]:
    return {name: {**HEADERS[name], "required": name in REQUIRED_HEADERS} for name in names}


def _success(op: Operation) -> dict[str, Any]:
    if op.events is not None:
        events = {name: _ref(model) for name, model in op.events.items()}
        return {
            "description": "a Server-Sent Events stream; each event's `data:` is JSON",
            "headers": _headers(("Cache-Control", "X-Accel-Buffering")),
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string", "description": "SSE frames (docs/api.md)"},
                    "x-sse-events": events,
                }
            },
        }
    if op.answer is None:  # the document itself
        return {
            "description": "this OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    envelope = {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"const": True}, "data": _ref(op.answer)},
        "additionalProperties": False,
    }
    success: dict[str, Any] = {
        "description": op.summary,
        "headers": _headers(("Cache-Control", *op.success_headers)),
        "content": {"application/json": {"schema": envelope}},
    }
    if op.links:
        success["links"] = {name: dict(link) for name, link in op.links.items()}
    return success


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): _success(op)}
    if op.no_content:
        responses["204"] = {
            "description": "the job ended and the client has every event: stop reconnecting"
        }
    if op.answer is None and op.events is None:
        return responses
    for status in sorted({*op.errors, *ALWAYS}):
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "headers": _headers(("Cache-Control", *ERROR_HEADERS.get(status, ()))),
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=f"Error{status}")}}
            },
        }
    return responses


def _security(auth: Auth) -> list[dict[str, list[str]]]:
    if auth == "none":
        return []
    if auth == "user":
        return [{"bearer": []}, {}]
    return [{"bearer": []}, {"queryToken": []}, {}]


def _operation(op: Operation) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": _security(op.auth),
        "responses": _responses(op),
    }
    if op.params:
        spec["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.where == "path",
                "description": p.description,
                "schema": dict(p.schema),
            }
            for p in op.params
        ]
    if op.request is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.request)}},
        }
    return spec


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once; callers must not change it)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in ROUTES:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jobstream",
            "version": "1",
            "description": "Uploads, jobs and live progress; the prose is docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": _component_schemas(), "securitySchemes": SECURITY_SCHEMES},
    }


if __name__ == "__main__":
    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
