"""`EventStreamResponse` under ASGI 2.3 (what uvicorn speaks): the stream runs in the
request's own task with one listener beside it; a client leaving ends it and closes the
generator; a cancel from outside (server shutdown) still propagates."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from function_app.entrypoints.http_stream import EventStreamResponse

SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}


class Client:
    """`receive` and `send` of one connection; `leave()` makes `receive` say disconnect."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.first_body = asyncio.Event()
        self._gone = asyncio.Event()

    def leave(self) -> None:
        self._gone.set()

    async def receive(self) -> dict[str, Any]:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            self.first_body.set()


class Frames:
    """A stream that sends one frame then waits for ever; notes its task and its closing."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.closed = False

    async def __call__(self) -> AsyncIterator[bytes]:
        self.task = asyncio.current_task()
        try:
            yield b"data: one\n\n"
            await asyncio.Event().wait()
        finally:
            self.closed = True


async def test_the_stream_runs_in_the_requests_own_task_not_a_task_group_child() -> None:
    frames, client = Frames(), Client()
    response = EventStreamResponse(frames())
    serving = asyncio.create_task(response(SCOPE, client.receive, client.send))  # type: ignore[arg-type]
    await asyncio.wait_for(client.first_body.wait(), timeout=5)
    assert frames.task is serving
    client.leave()
    await asyncio.wait_for(serving, timeout=5)


async def test_a_client_leaving_ends_the_response_closes_the_stream_and_frees_the_slot() -> None:
    released: list[bool] = []

    class Slot:
        def release(self) -> None:
            released.append(True)

    frames, client = Frames(), Client()
    response = EventStreamResponse(frames(), slot=Slot())  # type: ignore[arg-type]
    serving = asyncio.create_task(response(SCOPE, client.receive, client.send))  # type: ignore[arg-type]
    await asyncio.wait_for(client.first_body.wait(), timeout=5)
    client.leave()
    await asyncio.wait_for(serving, timeout=5)  # returns normally: no CancelledError
    assert not serving.cancelled()
    assert frames.closed
    assert released == [True]
    assert serving.cancelling() == 0


async def test_a_cancel_from_outside_still_cancels_the_response() -> None:
    frames, client = Frames(), Client()
    response = EventStreamResponse(frames())
    serving = asyncio.create_task(response(SCOPE, client.receive, client.send))  # type: ignore[arg-type]
    await asyncio.wait_for(client.first_body.wait(), timeout=5)
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert frames.closed


async def test_a_stream_that_ends_by_itself_leaves_no_listener_behind() -> None:
    async def two() -> AsyncIterator[bytes]:
        yield b"data: a\n\n"
        yield b"data: b\n\n"

    client = Client()
    before = len(asyncio.all_tasks())
    await EventStreamResponse(two())(
        SCOPE,
        client.receive,  # type: ignore[arg-type]
        client.send,  # type: ignore[arg-type]
    )
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
    bodies = [m.get("body") for m in client.sent if m["type"] == "http.response.body"]
    assert bodies == [b"data: a\n\n", b"data: b\n\n", b""]


async def _nothing() -> AsyncIterator[bytes]:
    yield b""


def test_every_stream_sends_the_same_headers_as_starlette_would_built_once() -> None:
    # Each open stream keeps its response (and so its header list) for its whole life: the
    # pairs are encoded once and shared, each response has its own list (middleware adds).
    from fastapi.responses import StreamingResponse

    from function_app.entrypoints.sse import STREAM_HEADERS

    first, second = EventStreamResponse(_nothing()), EventStreamResponse(_nothing())
    starlette = StreamingResponse(
        _nothing(), headers=dict(STREAM_HEADERS), media_type="text/event-stream"
    )
    assert first.raw_headers == starlette.raw_headers
    assert (first.status_code, first.media_type, first.background) == (
        200,
        starlette.media_type,
        None,
    )
    assert first.raw_headers is not second.raw_headers
    assert all(a is b for a, b in zip(first.raw_headers, second.raw_headers, strict=True))


async def test_the_disconnect_listener_is_a_method_holding_no_closure() -> None:
    # One listener task per open stream: its coroutine is the response's own method, not a
    # nested function (a function object and two cells more, for every stream).
    frames, client = Frames(), Client()
    response = EventStreamResponse(frames())
    before = asyncio.all_tasks()
    serving = asyncio.create_task(response(SCOPE, client.receive, client.send))  # type: ignore[arg-type]
    await asyncio.wait_for(client.first_body.wait(), timeout=5)
    listeners = [t for t in asyncio.all_tasks() - before if t is not serving]
    assert [t.get_coro().cr_code for t in listeners] == [  # type: ignore[union-attr]
        EventStreamResponse._listen.__code__
    ]
    client.leave()
    await asyncio.wait_for(serving, timeout=5)
    assert frames.closed
