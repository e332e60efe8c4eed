"""The published contract: an OpenAPI 3.1 document built from the models the routes use.

`openapi_routes.ROUTES` holds one `Operation` per (method, route) the app registers; a test
fails when the app has a route that is missing there. Request bodies come from `schemas.py`
(the models the handlers parse), answers from `response_models.py` (the models every answer
passes through) and `event_page_schemas.py`, stream events from `event_models.py`: no schema
is written twice. To add a route, add its `Operation` to `ROUTES`.

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
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from function_app.entrypoints import response_models as out
from function_app.entrypoints.openapi_routes import (
    ALWAYS,
    ERROR_CODES,
    ERROR_DESCRIPTIONS,
    EVENT_MAPS,
    REF,
    ROUTES,
    Auth,
    Operation,
)

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


def _headers(names: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
    return {
        name: {**HEADERS[name], "required": name in REQUIRED_HEADERS and name not in optional}
        for name in names
    }


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
        # A success's Retry-After (the long poll's "ask again") comes only when it applies.
        "headers": _headers(("Cache-Control", *op.success_headers), optional=("Retry-After",)),
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
