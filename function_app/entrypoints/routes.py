"""One handler at several routes: the contract's aliases (`v1/queue/add` for `v1/jobs`,
`.../status` for the job, `v1/sse/job/...` for the stream) without a copy per route.

The Functions host indexes one function per route, each under its own name, so `at_routes`
registers a thin function per (name, route) that awaits the handler, with the errors answered
as the contract says (`answers_errors`).
"""

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from function_app.entrypoints.errors import answers_errors

Handler = Callable[[Request], Awaitable[Response]]


def at_routes(
    bp: func.Blueprint, methods: Sequence[str], routes: Mapping[str, str]
) -> Callable[[Handler], Handler]:
    """Register the decorated handler at each route of `routes` (function name -> route)."""

    def register(handler: Handler) -> Handler:
        for name, route in routes.items():
            endpoint = _named(handler, name)
            bp.route(route=route, methods=list(methods))(answers_errors(endpoint))
        return handler

    return register


def _named(handler: Handler, name: str) -> Handler:
    @functools.wraps(handler)
    async def endpoint(req: Request) -> Response:
        return await handler(req)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint
