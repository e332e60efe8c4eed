"""The caller of an HTTP request: the Authorization header; stream routes also take `?token=`."""

from azurefunctions.extensions.http.fastapi import Request

from function_app.bootstrap import app_services
from function_app.domain.identity import Caller


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
