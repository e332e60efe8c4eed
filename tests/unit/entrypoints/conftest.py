"""Entry-point tests: the real blueprints behind the local host's HTTP dispatch, over fakes."""

from collections.abc import AsyncIterator, Iterator

import azure.functions as func
import httpx
import pytest
from starlette.types import ASGIApp

import main
from devstack.host.http_app import build_http_app
from function_app.bootstrap import override_app_services
from tests.fakes import FakeWorld, fake_world


@pytest.fixture
def world() -> Iterator[FakeWorld]:
    w = fake_world()
    override_app_services(w.services)
    yield w
    override_app_services(None)


@pytest.fixture(scope="session")
def asgi_app() -> ASGIApp:
    # An app indexes its functions once (a second get_functions() raises), and other tests
    # index `main.app`: serve the same blueprints from a FunctionApp of our own.
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in main.BLUEPRINTS:
        app.register_functions(blueprint)
    return build_http_app(app.get_functions(), "api")


@pytest.fixture
async def api(world: FakeWorld, asgi_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client
