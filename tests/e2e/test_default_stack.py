"""The stack as `make run` starts it (AUTH_MODE=none, the local default), over HTTP only:
no token needed, the demo page is served, and health names a dependency that goes away."""

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import Api
from tests.support.stack import LocalStack, launch_default_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Module-scoped, not shared: the last test here stops this stack's Service Bus emulator.
    with launch_default_stack(tmp_path_factory.mktemp("default-stack")) as stack:
        yield stack


class AnonymousApi(Api):
    @property
    def auth(self) -> dict[str, str]:
        return {}


@pytest.fixture
async def anonymous(default_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield AnonymousApi(default_stack, http, "anonymous")


async def test_a_job_runs_without_any_token(anonymous: Api) -> None:
    job = await anonymous.submit("document-analysis", "analyze-document", "a.txt", b"no auth here")

    done = await anonymous.wait_terminal(job["jobId"])

    assert done["status"] == "completed", done
    assert done["result"]["sizeBytes"] == len(b"no auth here")


async def test_the_demo_page_and_its_files_are_served(anonymous: Api) -> None:
    page = await anonymous.http.get(f"{anonymous.stack.base_url}/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()


async def test_the_emulators_fault_hook_is_off(anonymous: Api) -> None:
    """Only a stack with ALLOW_FAULT_INJECTION=true (the test stacks) may drop connections."""
    response = await anonymous.http.post(
        f"{anonymous.stack.servicebus_admin_url}/faults/drop-connections"
    )
    assert response.status_code == 403, response.text


async def test_health_names_service_bus_when_it_stops_answering(anonymous: Api) -> None:
    # Runs last in this module: it stops this stack's emulator (a child of the stack).
    stack = anonymous.stack
    healthy = await anonymous.http.get(f"{stack.api}/health")
    assert healthy.status_code == 200, healthy.text
    assert stack.servicebus_pid is not None

    os.kill(stack.servicebus_pid, signal.SIGTERM)
    for _ in range(100):
        response = await anonymous.http.get(f"{stack.api}/health")
        if response.status_code != 200:
            break
        await asyncio.sleep(0.2)

    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "dependency_unavailable"
    assert [d["dependency"] for d in error["details"]] == ["servicebus"]
    assert "Traceback" not in response.text
