"""The caller of an HTTP request: the Authorization header; stream routes also take `?token=`.
`counted_write` is how the two write routes with a per-minute limit (presign, enqueue) begin.
"""

from collections.abc import Callable

from azurefunctions.extensions.http.fastapi import Request
from pydantic import BaseModel

from function_app.bootstrap import Services, app_services
from function_app.domain.identity import Caller
from function_app.entrypoints.schemas import parse_body, read_body
from function_app.services.limits import CallerLimits


async def caller_of(req: Request) -> Caller:
    """From the Authorization header only (`?token=` is ignored here)."""
    return await app_services().authenticator.authenticate(
        req.headers.get("authorization"), None, allow_query_token=False
    )


async def stream_caller_of(req: Request) -> Caller:
    """From the Authorization header, else `?token=` (EventSource cannot send headers)."""
    return await app_services().authenticator.authenticate(
        req.headers.get("authorization"), req.query_params.get("token"), allow_query_token=True
    )


async def counted_write[M: BaseModel](
    req: Request, model: type[M], count: Callable[[CallerLimits, Caller], None]
) -> tuple[M, Services, Caller]:
    """The request's body as `model`, the app's services and the caller, once `count` (a
    `CallerLimits` method: `enqueue`, `presign`) has counted the caller against its limit.
    In that order: a bad body is a 400 or 415 before a missing caller's 401, then a 429."""
    body = parse_body(model, await read_body(req))
    svc = app_services()
    caller = await caller_of(req)
    count(svc.limits, caller)
    return body, svc, caller
