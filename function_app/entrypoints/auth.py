"""The caller of an HTTP request (header only: `?token=` is for stream routes)."""

from azurefunctions.extensions.http.fastapi import Request

from function_app.bootstrap import services
from function_app.domain.identity import Caller


async def caller_of(req: Request) -> Caller:
    return await services().authenticator.authenticate(
        req.headers.get("authorization"), None, allow_query_token=False
    )
