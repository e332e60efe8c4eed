"""A caller's feed over Server-Sent Events: every event of all their jobs on one connection.

`GET events` and `GET jobs/events` (seed 002's direct and proxied routes, the same stream):
`hello` first, `ping` every STREAM_HEARTBEAT_SECONDS (15 s by default), a `job` event per
job event (`feed_vocabulary`). Resume with `Last-Event-ID` (each `job` event's id) or
`?since=<epochMs>`; without either the stream starts now. Auth as for the job streams: the
Authorization header or `?token=` (a user token, or a feed token from
`POST v1/events/token`; a one-job stream token is refused).

`GET v1/queue/events` is the same feed in seed 000's catalogue (`queue_vocabulary`):
`queue-status` first, the caller's job events as `job-*` events, `queue-stats` every
QUEUE_STATS_SECONDS (with `worker-status` for each worker instance that came or went, and a
`system-alert` when the backlog passes BACKLOG_ALERT_THRESHOLD or falls back), `heartbeat`
after 30 s of silence. Resume as above.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.domain.errors import InvalidRequest, Unauthenticated
from function_app.domain.feed import resume_position
from function_app.domain.jobs import JobStatus
from function_app.entrypoints import queue_vocabulary as catalogue
from function_app.entrypoints.auth import caller_of, stream_caller_of
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.feed_vocabulary import control_payload, job_payload
from function_app.entrypoints.http_stream import EventStreamResponse
from function_app.entrypoints.response_models import FeedTokenOut, answer
from function_app.entrypoints.routes import at_routes
from function_app.entrypoints.schemas import iso
from function_app.entrypoints.sse import json_event
from function_app.services.queue_overview import CatalogueViewer
from function_app.services.streaming import (
    FeedConnected,
    FeedStream,
    FeedTimedOut,
    FeedUpdate,
    Heartbeat,
    Tick,
)

logger = logging.getLogger(__name__)

CATALOGUE_HEARTBEAT_SECONDS = 30.0  # seed 000: "sent every 30 seconds"

bp = func.Blueprint()  # type: ignore[no-untyped-call]


async def seed_feed_events(stream: FeedStream, retry_ms: int) -> AsyncIterator[bytes]:
    """The feed's bytes in seed 002's vocabulary. The `retry:` hint rides in the first block
    (`hello`): a block of its own is a data-less message some libraries hand on as empty."""
    async with aclosing(aiter(stream)) as items:
        async for item in items:
            match item:
                case FeedConnected(connection_id=connection_id, at=at):
                    yield json_event(
                        "hello",
                        control_payload("hello", at, connectionId=connection_id),
                        retry_ms=retry_ms,
                    )
                case FeedUpdate(entry=entry, resume_at=resume_at):
                    yield json_event("job", job_payload(entry), event_id=resume_at)
                case Heartbeat(at=at):
                    yield json_event("ping", control_payload("ping", at))
                case FeedTimedOut():
                    return  # max age: EventSource reconnects with its Last-Event-ID


async def catalogue_events(
    stream: FeedStream, viewer: CatalogueViewer, retry_ms: int, threshold: int
) -> AsyncIterator[bytes]:
    """The feed's bytes in seed 000's queue catalogue (`retry:` in the first block,
    `queue-status`)."""
    async with aclosing(aiter(stream)) as items:
        async for item in items:
            match item:
                case FeedConnected():
                    overview = await viewer.overview()
                    viewer.worker_changes(overview)  # who is online now: later changes only
                    yield json_event(
                        "queue-status", catalogue.queue_status(overview), retry_ms=retry_ms
                    )
                    if (level := viewer.backlog_level(overview)) == "warning":
                        alert = catalogue.system_alert(level, overview, threshold)
                        yield json_event("system-alert", alert)
                case FeedUpdate(entry=entry, resume_at=resume_at):
                    if entry.event.status is JobStatus.QUEUED:
                        estimate = await viewer.queued_estimate(entry)
                        name = "job-queued"
                        payload = catalogue.job_queued(
                            entry, estimate.position, estimate.wait_seconds
                        )
                    else:
                        ran = await viewer.run_seconds(entry) if entry.event.is_terminal else None
                        name, payload = catalogue.job_event(entry, ran)
                    yield json_event(name, payload, event_id=resume_at)
                case Tick():
                    overview = await viewer.overview()
                    yield json_event("queue-stats", catalogue.queue_stats(overview))
                    for change in viewer.worker_changes(overview):
                        yield json_event(
                            "worker-status", catalogue.worker_status(change, overview.at)
                        )
                    if (level := viewer.backlog_level(overview)) is not None:
                        yield json_event(
                            "system-alert", catalogue.system_alert(level, overview, threshold)
                        )
                case Heartbeat(at=at):
                    yield json_event("heartbeat", catalogue.heartbeat(at))
                case FeedTimedOut():
                    return


def _resume_position(req: Request) -> int | None:
    try:
        return resume_position(req.headers.get("last-event-id"), req.query_params.get("since"))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


@bp.route(route="v1/queue/events", methods=["GET"])
@answers_errors
async def queue_events(req: Request) -> Response:
    svc = app_services()
    caller = await stream_caller_of(req)
    settings = svc.settings
    stream = svc.feeds.open(
        caller,
        _resume_position(req),
        heartbeat_seconds=CATALOGUE_HEARTBEAT_SECONDS,
        tick_seconds=settings.QUEUE_STATS_SECONDS,
    )
    slot = svc.limits.stream(caller)  # 429 over the caller's open streams (nothing sent yet)
    logger.info("queue catalogue %s opened after %d", stream.connection_id, stream.after)
    return EventStreamResponse(
        catalogue_events(
            stream,
            svc.queue_catalogue.viewer(caller),
            svc.feeds.config.retry_ms,
            settings.BACKLOG_ALERT_THRESHOLD,
        ),
        slot=slot,
    )


@at_routes(bp, ["GET"], {"caller_events": "events", "caller_job_events": "jobs/events"})
async def caller_events(req: Request) -> Response:
    svc = app_services()
    caller = await stream_caller_of(req)
    stream = svc.feeds.open(caller, _resume_position(req))
    slot = svc.limits.stream(caller)  # 429 over the caller's open streams (nothing sent yet)
    logger.info("feed %s opened after %d", stream.connection_id, stream.after)
    return EventStreamResponse(
        seed_feed_events(stream, svc.feeds.config.retry_ms),
        slot=slot,
    )


@bp.route(route="v1/events/token", methods=["POST"])
@answers_errors
async def feed_token(req: Request) -> Response:
    """A short-lived token that reads the caller's feed (for `?token=` on `GET /api/events`)."""
    svc = app_services()
    caller = await caller_of(req)
    if not caller.may_write:
        raise Unauthenticated("a stream token cannot issue tokens", code="read_only_token")
    issued = await svc.stream_tokens.issue_feed(caller.owner)
    return JSONResponse(
        ok(
            answer(
                FeedTokenOut,
                {
                    "streamToken": issued.token,
                    "expiresAt": iso(issued.expires_at),
                    "eventsUrl": "/api/events",
                },
            )
        ),
        headers=NO_STORE,
    )
