"""The host's HTTP routing in process (httpx over ASGI); streaming is proven over real
HTTP in tests/integration/test_local_host.py."""

import weakref
from pathlib import Path
from typing import Any

import azure.functions as func
import httpx
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response
from azurefunctions.extensions.http.fastapi.web import WebApp
from starlette.types import Message, Receive, Scope, Send

from devstack.host.http_app import build_http_app

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="v1/items/{itemId}", methods=["GET"])
async def get_item(req: Request) -> Response:
    return JSONResponse({"id": req.path_params["itemId"], "q": req.query_params.get("q")})


@app.route(route="v1/items/{itemId}", methods=["DELETE"])
async def delete_item(req: Request) -> Response:
    return Response(status_code=204)


@app.route(route="v1/items/special", methods=["GET"])
async def special(req: Request) -> Response:
    return JSONResponse({"special": True})


@app.route(route="v1/echo", methods=["POST"])
async def echo(req: Request) -> Response:
    return Response(await req.body(), media_type=req.headers.get("content-type"))


@app.route(route="v1/boom", methods=["GET"])
async def boom(req: Request) -> Response:
    raise RuntimeError("secret internals")


HELD: dict[str, Any] = {}


class Recording(Response):
    """Notes, when the host sends it, the scope it is given and whether the function's
    Request is still alive (a stream's response is sent for minutes)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        HELD["scope"] = scope
        HELD["request alive"] = HELD["request"]() is not None
        await super().__call__(scope, receive, send)


@app.route(route="v1/held", methods=["GET"])
async def held(req: Request) -> Response:
    HELD["request"] = weakref.ref(req)
    return Recording(b"ok")


FUNCTIONS = app.get_functions()  # the app validates names once: index it once


def client(web_root: Path | None = None, cors: tuple[str, ...] = ()) -> httpx.AsyncClient:
    asgi = build_http_app(FUNCTIONS, "api", web_root, cors)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://host")


async def test_path_and_query_params_reach_the_function() -> None:
    async with client() as http:
        response = await http.get("/api/v1/items/abc", params={"q": "x"})

    assert response.status_code == 200
    assert response.json() == {"id": "abc", "q": "x"}


async def test_the_method_selects_the_function() -> None:
    async with client() as http:
        response = await http.delete("/api/v1/items/abc")

    assert response.status_code == 204


async def test_a_literal_route_wins_over_a_parameter() -> None:
    async with client() as http:
        response = await http.get("/api/v1/items/special")

    assert response.json() == {"special": True}


async def test_the_body_reaches_the_function() -> None:
    async with client() as http:
        response = await http.post(
            "/api/v1/echo", content=b"hello", headers={"content-type": "x/y"}
        )

    assert response.content == b"hello"
    assert response.headers["content-type"] == "x/y"


async def test_a_body_declared_over_the_limit_is_refused_before_the_function_runs() -> None:
    async with client() as http:
        response = await http.post(
            "/api/v1/echo",
            content=b"x",
            headers={"content-type": "x/y", "content-length": str(101 * 1024 * 1024)},
        )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_unknown_route_is_a_404_envelope() -> None:
    async with client() as http:
        response = await http.get("/api/v1/nothing")

    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "not_found"


async def test_a_wrong_method_is_a_405_envelope_naming_the_allowed_ones() -> None:
    async with client() as http:
        response = await http.put("/api/v1/items/abc")

    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_an_exception_is_a_500_envelope_without_internals() -> None:
    async with client() as http:
        response = await http.get("/api/v1/boom")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_cors_preflight_is_answered() -> None:
    async with client(cors=("*",)) as http:
        response = await http.options(
            "/api/v1/echo",
            headers={
                "Origin": "http://page.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_the_demo_page_is_served_with_content_types(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>demo</h1>", encoding="utf-8")
    (tmp_path / "app.js").write_text("console.log(1)", encoding="utf-8")

    async with client(web_root=tmp_path) as http:
        index = await http.get("/")
        script = await http.get("/web/app.js")
        missing = await http.get("/web/nope.css")

    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "demo" in index.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert missing.status_code == 404


async def test_the_response_is_sent_with_the_servers_scope_and_without_the_request() -> None:
    # No copy of the scope per call, and the Request (parsed URL, query, headers) is let go
    # before the response is sent: an open stream holds neither for its whole life.
    asgi = build_http_app(FUNCTIONS, "api")
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/held",
        "raw_path": b"/api/v1/held",
        "query_string": b"q=1",
        "root_path": "",
        "headers": [(b"host", b"host")],
        "server": ("host", 80),
        "client": ("127.0.0.1", 1),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi(scope, receive, send)
    assert sent[0]["status"] == 200
    assert HELD["scope"] is scope
    assert scope["path_params"] == {}
    assert HELD["request alive"] is False


# Paths the worker's catch-all route (`/{path:path}`) does not match, and some it does.
# (`$` also matches before a last newline: one at the very end still reaches the function.)
UNMATCHED_BY_THE_WORKER = [
    "/api/v1/items/%C3%8E%0Ax",
    "/api/v1/items/a%0Ab",
    "/api/v1/items/%0A%0A",
]
MATCHED_BY_THE_WORKER = ["/api/v1/items/%C3%8E%0A", "/api/v1/items/a%09b", "/api/v1/items/a%0Db"]


def worker_server_app() -> Any:
    """The FastAPI app the worker's HTTP v2 server runs, with its one catch-all route."""
    web_app = WebApp()

    @web_app.route
    async def catch_all(request: Request) -> Response:
        return Response(b"reached")

    return web_app.get_app()


async def test_a_path_the_workers_route_does_not_match_gets_fastapis_404_as_in_the_worker() -> None:
    async with (
        client() as http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=worker_server_app()), base_url="http://worker"
        ) as worker,
    ):
        for path in UNMATCHED_BY_THE_WORKER:
            ours = await http.get(path)
            theirs = await worker.get(path)
            assert (theirs.status_code, theirs.json()) == (404, {"detail": "Not Found"}), path
            assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), path
            assert ours.headers["content-type"] == theirs.headers["content-type"]
            assert "cache-control" not in ours.headers
        for path in MATCHED_BY_THE_WORKER:
            assert (await worker.get(path)).content == b"reached", path
            assert (await http.get(path)).status_code == 200, path
