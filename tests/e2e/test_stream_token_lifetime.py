"""Stream tokens are short-lived but outlive their job, on the real local stack: a token past
its own expiry still streams a job that runs (EventSource reconnects reuse one URL), and a
token of a finished job stops reading it once both its expiry and the grace are past.

The stack signs stream tokens with a known STREAM_TOKEN_SECRET, so the test can mint tokens
that expired long ago, exactly as the app would have issued them then.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest

from function_app.services.stream_tokens import (
    STREAM_TOKEN_AUDIENCE,
    STREAM_TOKEN_ISSUER,
    STREAM_TOKEN_TYPE,
)
from tests.e2e.conftest import Api, new_owner
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e

STREAM_SECRET = "e2e-stream-token-secret-0123456789abcdef"
GRACE_SECONDS = 2


@pytest.fixture(scope="module")
def token_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = {
        "STREAM_TOKEN_SECRET": STREAM_SECRET,
        "STREAM_TOKEN_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    with launch_stack(tmp_path_factory.mktemp("token-stack"), settings) as stack:
        yield stack


@pytest.fixture
async def api(token_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Api(token_stack, http, new_owner("tina"))


def stream_token(owner: str, job_id: str, *, issued_ago: int, ttl: int = 600) -> str:
    """A one-job token as the app issues it, issued `issued_ago` seconds ago."""
    now = int(time.time())
    claims = {
        "iss": STREAM_TOKEN_ISSUER,
        "aud": STREAM_TOKEN_AUDIENCE,
        "sub": owner,
        "jid": job_id,
        "iat": now - issued_ago,
        "exp": now - issued_ago + ttl,
    }
    return jwt.encode(claims, STREAM_SECRET, algorithm="HS256", headers={"typ": STREAM_TOKEN_TYPE})


async def first_bytes(api: Api, job_id: str, token: str) -> tuple[int, str, bytes]:
    """Open the job's stream with `?token=`: its status, content type and first chunk."""
    url = f"{api.stack.api}/jobs/{job_id}/stream"
    async with api.http.stream("GET", url, params={"token": token}) as response:
        chunk = await anext(response.aiter_bytes(), b"")
        return response.status_code, response.headers.get("content-type", ""), chunk


def error_code(response: httpx.Response) -> Any:
    return response.json()["error"]["code"]


async def test_enqueue_issues_a_short_lived_token(api: Api) -> None:
    job = await api.submit("document-analysis", "analyze-document", "a.txt", b"short lived")
    claims = jwt.decode(job["streamToken"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600


async def test_a_token_past_its_expiry_still_streams_a_running_job(api: Api) -> None:
    # 512 KiB at 64 KiB/s: the job runs for about 8 s.
    job = await api.submit(
        "document-analysis", "paced-read", "slow.txt", b"x" * 512 * 1024, {"bytesPerSecond": 65536}
    )
    expired = stream_token(api.owner, job["jobId"], issued_ago=7200)
    status, content_type, chunk = await first_bytes(api, job["jobId"], expired)
    assert status == 200
    assert content_type.startswith("text/event-stream")
    assert chunk
    read = await api.http.get(
        f"{api.stack.api}/jobs/{job['jobId']}", headers={"Authorization": f"Bearer {expired}"}
    )
    assert read.status_code == 200, read.text
    assert read.json()["data"]["status"] not in {"completed", "failed", "cancelled"}


async def test_a_finished_jobs_token_stops_reading_it_after_its_expiry_and_the_grace(
    api: Api,
) -> None:
    job = await api.submit("document-analysis", "analyze-document", "b.txt", b"soon over")
    done = await api.wait_terminal(job["jobId"])
    assert done["status"] == "completed"
    expired = stream_token(api.owner, job["jobId"], issued_ago=7200)
    status_url = f"{api.stack.api}/jobs/{job['jobId']}"
    # The issued token is within its 600 s: it reads the finished job.
    issued = await api.http.get(
        status_url, headers={"Authorization": f"Bearer {job['streamToken']}"}
    )
    assert issued.status_code == 200, issued.text
    await asyncio.sleep(GRACE_SECONDS + 0.5)
    refused = await api.http.get(status_url, headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401
    assert error_code(refused) == "token_expired"
    streamed = await api.http.get(f"{status_url}/stream", params={"token": expired})
    assert streamed.status_code == 401
    assert error_code(streamed) == "token_expired"
    # The owner's own credential still reads it.
    assert (await api.status(job["jobId"])).status_code == 200
