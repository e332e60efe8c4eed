"""A caller's feed over Server-Sent Events: every event of all their jobs on one connection.

`GET events` and `GET jobs/events` (seed 002's direct and proxied routes, the same stream):
`hello` first, `ping` every STREAM_HEARTBEAT_SECONDS (15 s by default), a `job` event per
job event (`feed_vocabulary`). Resume with `Last-Event-ID` (each `job` event's id) or
`?since=<epochMs>`; without either the stream starts now. Auth as for the job streams: the
Authorization header or `?token=` (a user token, or a feed token from
`POST v1/events/token`; a one-job stream token is refused).
"""

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.domain.errors import InvalidRequest, Unauthenticated
from function_app.domain.feed import resume_position
from function_app.entrypoints.auth import caller_of, stream_caller_of
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.feed_vocabulary import control_payload, job_payload
from function_app.entrypoints.http_stream import EventStreamResponse
from function_app.entrypoints.routes import at_routes
from function_app.entrypoints.schemas import iso
from function_app.entrypoints.sse import STREAM_HEADERS, json_event, retry_hint
from function_app.services.streaming import (
    FeedConnected,
    FeedStream,
    FeedTimedOut,
    FeedUpdate,
    Heartbeat,
)

logger = logging.getLogger(__name__)

bp = func.Blueprint()  # type: ignore[no-untyped-call]


async def seed_feed_events(stream: FeedStream, retry_ms: int) -> AsyncIterator[bytes]:
    """The feed's bytes in seed 002's vocabulary."""
    yield retry_hint(retry_ms)
    async with aclosing(aiter(stream)) as items:
        async for item in items:
            match item:
                case FeedConnected(connection_id=connection_id, at=at):
                    yield json_event(
                        "hello", control_payload("hello", at, connectionId=connection_id)
                    )
                case FeedUpdate(entry=entry, resume_at=resume_at):
                    yield json_event("job", job_payload(entry), event_id=resume_at)
                case Heartbeat(at=at):
                    yield json_event("ping", control_payload("ping", at))
                case FeedTimedOut():
                    return  # max age: EventSource reconnects with its Last-Event-ID


@at_routes(bp, ["GET"], {"caller_events": "events", "caller_job_events": "jobs/events"})
async def caller_events(req: Request) -> Response:
    svc = app_services()
    caller = await stream_caller_of(req)
    try:
        position = resume_position(req.headers.get("last-event-id"), req.query_params.get("since"))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    stream = svc.feeds.open(caller, position)
    logger.info("feed %s opened after %d", stream.connection_id, stream.after)
    return EventStreamResponse(
        seed_feed_events(stream, svc.feeds.config.retry_ms),
        headers=dict(STREAM_HEADERS),
        media_type="text/event-stream",
    )


@bp.route(route="v1/events/token", methods=["POST"])
@answers_errors
async def feed_token(req: Request) -> Response:
    """A short-lived token that reads the caller's feed (for `?token=` on `GET /api/events`)."""
    svc = app_services()
    caller = await caller_of(req)
    if not caller.may_write:
        raise Unauthenticated("a stream token cannot issue tokens", code="read_only_token")
    token = await svc.stream_tokens.issue_feed(caller.owner)
    return JSONResponse(
        ok(
            {
                "streamToken": token,
                "expiresAt": iso(datetime.fromtimestamp(svc.stream_tokens.expires_at(), UTC)),
                "eventsUrl": "/api/events",
            }
        ),
        headers=NO_STORE,
    )
