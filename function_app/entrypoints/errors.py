"""One place that turns errors into the contract's envelope and HTTP status (docs/api.md).

`answers_errors` wraps an HTTP function: a `DomainError` becomes
`{"success": false, "error": {code, message, details}}` with its status; a pydantic
`ValidationError` becomes 400 `invalid_request` with the fields at fault; anything else is
logged with a correlation id and answered 500 `internal_error` with that id and nothing more:
never a stack trace.

A `DependencyUnavailable` (503) carries text built from SDK exceptions (host names, request
ids, sometimes account names): it is logged with a correlation id, and the client gets only a
fixed message per dependency, the dependency's name and that id.

`WWW-Authenticate` follows RFC 6750: a request without a token gets `Bearer realm="..."` only;
a bad token adds `error="invalid_token"`; a valid stream token used beyond its one job's
reads, or a user token without the roles, scopes or client the API requires, adds
`error="insufficient_scope"`.

A `Throttled` (429, a per-caller limit) sends `Retry-After` with its whole seconds.
"""

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response
from pydantic import ValidationError

from function_app.domain.errors import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    InvalidRequest,
    NotFound,
    Throttled,
    TooLarge,
    Unauthenticated,
    Unprocessable,
    UnsupportedType,
)
from function_app.entrypoints.telemetry import traced
from function_app.services.health import NOT_ANSWERING

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidRequest, 400),
    (Unauthenticated, 401),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (UnsupportedType, 415),
    (Unprocessable, 422),
    (Throttled, 429),
    (DependencyUnavailable, 503),
)

NO_STORE = {"Cache-Control": "no-store"}
REALM = "jobstream"

# What a client is told when a dependency fails: fixed text, never the SDK's.
DEPENDENCY_MESSAGES = {
    "storage": "storage is unavailable; try again shortly",
    "servicebus": "servicebus is unavailable; try again shortly",
    "identity": "the identity provider is unavailable; try again shortly",
}
UNKNOWN_DEPENDENCY_MESSAGE = "a dependency is unavailable; try again shortly"

Handler = Callable[[Request], Awaitable[Response]]


def ok(data: Any) -> dict[str, Any]:
    """The success envelope."""
    return {"success": True, "data": data}


def error_body(code: str, message: str, details: Sequence[Any] = ()) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": list(details)}}


def status_for(error: DomainError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 400


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def www_authenticate(error: Unauthenticated) -> str:
    """The RFC 6750 challenge: no `error` attribute when no token was sent."""
    if error.code == "unauthenticated":
        return f'Bearer realm="{REALM}"'
    if error.code in {"read_only_token", "insufficient_scope"}:
        return f'Bearer realm="{REALM}", error="insufficient_scope"'
    return f'Bearer realm="{REALM}", error="invalid_token"'


def dependency_message(dependency: str) -> str:
    return DEPENDENCY_MESSAGES.get(dependency, UNKNOWN_DEPENDENCY_MESSAGE)


def dependency_unavailable_response(
    problems: Mapping[str, str], correlation_id: str
) -> JSONResponse:
    """The one 503 shape, for requests and health alike: a detail per failing dependency
    (`dependency`, a fixed `problem`, the `correlationId` under which the cause is logged)
    and a fixed message; the failure's own text stays in the log."""
    names = list(problems)
    if len(names) == 1:
        message = dependency_message(names[0])
    else:
        message = f"unavailable: {', '.join(names)}; try again shortly"
    details = [
        {"dependency": name, "problem": problem, "correlationId": correlation_id}
        for name, problem in problems.items()
    ]
    return JSONResponse(
        error_body(DependencyUnavailable.code, message, details),
        503,
        headers={**NO_STORE, "Retry-After": "5"},
    )


def domain_error_response(error: DomainError, where: str = "request") -> JSONResponse:
    """The envelope for `error`; `where` (e.g. "POST /api/v1/jobs") goes to the log only."""
    if isinstance(error, DependencyUnavailable):
        correlation_id = new_correlation_id()
        logger.warning(
            "%s: %s unavailable: %s; correlation id %s",
            where,
            error.dependency,
            error.message,
            correlation_id,
        )
        return dependency_unavailable_response({error.dependency: NOT_ANSWERING}, correlation_id)
    headers = dict(NO_STORE)
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = www_authenticate(error)
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(error.retry_after)
    body = error_body(error.code, error.message, error.details)
    return JSONResponse(body, status_for(error), headers=headers)


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    """Where and why, without echoing the input back."""
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "problem": e["msg"],
            "type": e["type"],
        }
        for e in error.errors(include_url=False, include_input=False)
    ][:20]


def answers_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def answering(req: Request) -> Response:
        try:
            return await handler(req)
        except DomainError as exc:
            return domain_error_response(exc, f"{req.method} {req.url.path}")
        except ValidationError as exc:
            return JSONResponse(
                error_body("invalid_request", "the request is invalid", validation_details(exc)),
                400,
                headers=NO_STORE,
            )
        except Exception:
            correlation_id = new_correlation_id()
            logger.exception(
                "%s %s failed; correlation id %s", req.method, req.url.path, correlation_id
            )
            return JSONResponse(
                error_body(
                    "internal_error",
                    "something went wrong on our side",
                    [{"correlationId": correlation_id}],
                ),
                500,
                headers=NO_STORE,
            )

    # Every request runs in a span of its own, named for its function (docs/tracing.md).
    return traced(handler.__name__, answering)
