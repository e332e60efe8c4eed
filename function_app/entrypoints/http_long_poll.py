"""A job's events by long polling, for clients whose streams a buffering proxy holds back.

`GET v1/jobs/{jobId}/events?after=N`: the events after id `N` (`N` or `N.k`, as the
stream's ids), as JSON in the success envelope, each with the id, name and payload the stream
gives it (`sse.Groups`). Answers at once when there are events or the job has ended,
otherwise when the next event comes or after `?wait=` seconds (at most, and by default,
LONG_POLL_WAIT_SECONDS), with none. Auth and visibility as the stream (`?token=` or the
Authorization header; someone else's job is 404); each request holds one of the caller's
open-stream slots while it waits (429 over the limit, before anything is read).
"""

import math

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from function_app.bootstrap import app_services
from function_app.domain.errors import InvalidRequest
from function_app.entrypoints.auth import stream_caller_of
from function_app.entrypoints.errors import NO_STORE, answers_errors, ok
from function_app.entrypoints.event_page_schemas import JobEventsPageOut, StreamEventOut
from function_app.entrypoints.sse import Groups
from function_app.entrypoints.stream_vocabularies import (
    STEPS,
    Position,
    parse_position,
    parse_vocabularies,
)
from function_app.services.streaming import EventPage

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def parse_wait(raw: str | None, longest: float) -> float | None:
    """`?wait=`: seconds, 0 up to `longest`; absent: None (the longest)."""
    if raw is None or raw == "":
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (0 <= seconds <= longest):
        raise InvalidRequest(
            f"wait must be a number of seconds from 0 to {longest:g}",
            details=[{"field": "wait", "maximum": longest}],
        )
    return seconds


def parse_limit(raw: str | None, largest: int) -> int | None:
    """`?limit=`: how many stored events at most, 1 up to `largest`; absent: None."""
    if raw is None or raw == "":
        return None
    if not raw.isdecimal() or not 1 <= int(raw) <= largest:
        raise InvalidRequest(
            f"limit must be a whole number from 1 to {largest}",
            details=[{"field": "limit", "maximum": largest}],
        )
    return int(raw)


def page_out(
    page: EventPage, position: Position, vocabularies: tuple[str, ...]
) -> JobEventsPageOut:
    """The answer: the page's events as the stream names them, and where to ask next."""
    context = page.previous is not None
    groups = Groups(vocabularies, position, context=context)
    stored = ([page.previous] if page.previous is not None else []) + list(page.events)
    events = [StreamEventOut.of(named) for event in stored for named in groups.named(event)]
    if page.events:
        after = str(page.last_sequence)
    elif page.after < position.complete_through or position.part == 0:
        after = str(page.after)
    else:
        after = f"{position.sequence}.{position.part}"
    return JobEventsPageOut(
        jobId=page.job_id,
        events=events,
        after=after,
        finished=page.finished,
        more=page.more,
        retryAfterMs=None if page.finished else 0,
    )


@bp.route(route="v1/jobs/{jobId}/events", methods=["GET"])
@answers_errors
async def job_events(req: Request) -> Response:
    svc = app_services()
    config = svc.streams.config
    caller = await stream_caller_of(req)
    query = req.query_params
    try:
        position = parse_position(query.get("after"))
        vocabularies = parse_vocabularies(query.get("events"))
    except ValueError as exc:
        raise InvalidRequest(str(exc).replace("Last-Event-ID / since", "after")) from None
    wait = parse_wait(query.get("wait"), config.long_poll_wait_seconds)
    limit = parse_limit(query.get("limit"), config.page_size)
    slot = svc.limits.stream(caller)  # 429 over the caller's open streams, before any read
    try:
        page = await svc.streams.poll(
            caller,
            str(req.path_params.get("jobId", "")),
            position.complete_through,
            wait_seconds=wait,
            limit=limit,
            context=STEPS in vocabularies,
        )
    finally:
        slot.release()
    body = page_out(page, position, vocabularies)
    headers = dict(NO_STORE)
    if body.retry_after_ms is not None:
        headers["Retry-After"] = str(math.ceil(body.retry_after_ms / 1000))
    return JSONResponse(ok(body.body()), headers=headers)
