"""Check an HTTP answer against the published OpenAPI document (function_app/entrypoints/
openapi.py): its path and method are documented, its status is one the operation lists, and a
JSON body validates against that status's schema (jsonschema_rs, draft 2020-12, as OpenAPI
3.1 uses). The e2e suite runs every answer from the stack through `check_response`."""

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema_rs
import pytest

from function_app.entrypoints.openapi import openapi_document


class OutsideTheDocument(AssertionError):
    """An answer the document does not describe."""


@dataclass(frozen=True)
class _Path:
    template: str
    pattern: re.Pattern[str]
    literal_parts: int


@functools.cache
def _paths() -> tuple[_Path, ...]:
    found = []
    for template in openapi_document()["paths"]:
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        literals = sum(1 for part in template.split("/") if part and not part.startswith("{"))
        found.append(_Path(template, re.compile(f"{regex}/?"), literals))
    # Literal segments first: /api/v1/sse/stats before a parameter in that place.
    return tuple(sorted(found, key=lambda p: -p.literal_parts))


def operation_for(method: str, path: str) -> tuple[str, Mapping[str, Any]]:
    """The documented (template, operation) answering `method path`."""
    for candidate in _paths():
        if candidate.pattern.fullmatch(path):
            operation = openapi_document()["paths"][candidate.template].get(method.lower())
            if operation is None:
                raise OutsideTheDocument(f"{method} {path}: the document has no such method")
            return candidate.template, operation
    raise OutsideTheDocument(f"{method} {path}: the document has no such path")


@functools.cache
def _validator(template: str, method: str, status: str) -> Any:
    operation = openapi_document()["paths"][template][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": openapi_document()["components"],
        **schema,
    }
    return jsonschema_rs.validator_for(root)


def check_answer(
    method: str,
    path: str,
    status: int,
    content_type: str | None,
    body: bytes | None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Raise `OutsideTheDocument` unless the answer is one the document describes. `body` None:
    not read (a stream), only the status, media type and headers are checked; `headers` None:
    not checked (names are matched case-insensitively)."""
    template, operation = operation_for(method, path)
    where = f"{method} {path} -> {status}"
    responses = operation["responses"]
    if str(status) not in responses:
        raise OutsideTheDocument(f"{where}: status not documented (has {sorted(responses)})")
    if headers is not None:
        sent = {name.lower() for name in headers}
        for name, spec in responses[str(status)].get("headers", {}).items():
            if spec.get("required") and name.lower() not in sent:
                raise OutsideTheDocument(f"{where}: required header {name} missing")
    content = responses[str(status)].get("content")
    if content is None:
        if body:
            raise OutsideTheDocument(f"{where}: documented without a body, got {body[:200]!r}")
        return
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in content:
        raise OutsideTheDocument(f"{where}: media type {media_type!r}, documented {list(content)}")
    if media_type != "application/json" or body is None:
        return
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise OutsideTheDocument(f"{where}: body is not JSON: {body[:200]!r}") from exc
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in _validator(template, method.lower(), str(status)).iter_errors(value)
    ]
    if errors:
        raise OutsideTheDocument(f"{where}: body outside the document: {errors[:5]}")


def check_response(response: httpx.Response, *, read: bool = True) -> None:
    """`check_answer` for an httpx answer (`read=False`: a stream whose body is not read)."""
    url = urlsplit(str(response.request.url))
    check_answer(
        response.request.method,
        url.path,
        response.status_code,
        response.headers.get("content-type"),
        response.content if read else None,
        response.headers,
    )


def is_api_answer(response: httpx.Response) -> bool:
    """An answer of our API: not Azurite's, not a test's own proxy's, and not a CORS preflight
    (`OPTIONS`: the platform answers those, in Azure as on the local host; docs/api.md)."""
    request = response.request
    return request.url.path.startswith("/api/") and request.method != "OPTIONS"


def check_every_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on in this test, every httpx client's API answers go through `check_response`
    (streams unread: status and media type only)."""
    async_send = httpx.AsyncClient.send
    sync_send = httpx.Client.send

    async def checked_async_send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await async_send(self, request, **kwargs)
        if is_api_answer(response):
            check_response(response, read=not kwargs.get("stream", False))
        return response

    def checked_sync_send(
        self: httpx.Client, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = sync_send(self, request, **kwargs)
        if is_api_answer(response):
            check_response(response, read=not kwargs.get("stream", False))
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", checked_async_send)
    monkeypatch.setattr(httpx.Client, "send", checked_sync_send)


@functools.cache
def _event_validator(template: str, name: str) -> Any:
    operation = openapi_document()["paths"][template]["get"]
    events = operation["responses"]["200"]["content"]["text/event-stream"]["x-sse-events"]
    if name not in events:
        raise OutsideTheDocument(f"GET {template}: event {name!r} not documented ({list(events)})")
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": openapi_document()["components"],
        **events[name],
    }
    return jsonschema_rs.validator_for(root)


def check_event(path: str, name: str, payload: Any) -> None:
    """Raise `OutsideTheDocument` unless the stream at `path` documents event `name` with a
    `data:` schema that `payload` (the parsed JSON) satisfies."""
    template, _ = operation_for("GET", path)
    errors = [e.message for e in _event_validator(template, name).iter_errors(payload)]
    if errors:
        raise OutsideTheDocument(f"GET {path}: event {name!r} outside the document: {errors[:5]}")
