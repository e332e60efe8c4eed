"""The stack as `make run` starts it (AUTH_MODE=none, the local default), over HTTP only:
no token needed, the demo page is served, and health names a dependency that goes away."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import AnonymousApi, Api
from tests.support.stack import REPO_ROOT, LocalStack, launch_default_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Module-scoped, not shared: the last test here stops this stack's Service Bus emulator.
    with launch_default_stack(tmp_path_factory.mktemp("default-stack")) as stack:
        yield stack


@pytest.fixture
async def anonymous(default_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield AnonymousApi(default_stack, http, "anonymous")


async def test_a_job_runs_without_any_token(anonymous: Api) -> None:
    job = await anonymous.submit("document-analysis", "analyze-document", "a.txt", b"no auth here")

    done = await anonymous.wait_terminal(job["jobId"])

    assert done["status"] == "completed", done
    assert done["result"]["sizeBytes"] == len(b"no auth here")


def preflight_headers(origin: str, method: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type",
    }


async def test_no_other_website_may_call_the_local_api_or_put_uploads(anonymous: Api) -> None:
    # The sample's Host.CORS lists the demo page's origins, not "*": a page on any other site
    # the developer visits cannot read the API's answers (AUTH_MODE=none: no token stops it).
    http, api = anonymous.http, anonymous.stack.api
    evil = "http://evil.example"
    api_preflight = await http.options(f"{api}/jobs", headers=preflight_headers(evil, "POST"))
    assert "access-control-allow-origin" not in api_preflight.headers
    listed = await http.get(f"{api}/queues", headers={"Origin": evil})
    assert listed.status_code == 200
    assert "access-control-allow-origin" not in listed.headers

    presigned = await http.post(f"{api}/upload/presigned-url", json={"fileName": "cv.txt"})
    upload_url = presigned.json()["data"]["uploadUrl"]
    blob_preflight = await http.options(upload_url, headers=preflight_headers(evil, "PUT"))
    assert "access-control-allow-origin" not in blob_preflight.headers
    # The demo page, served by the host itself, still uploads to Azurite across origins.
    own = anonymous.stack.base_url
    allowed = await http.options(upload_url, headers=preflight_headers(own, "PUT"))
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == own


async def test_seed_001s_workflow_names_its_upload_only_by_file_name(anonymous: Api) -> None:
    """Presign with only fileName, PUT with only x-ms-blob-type (no Content-Type), enqueue at
    v1/queue/add with data {resumeId, fileName}: as seed 001's "Complete Workflow" does."""
    http, api = anonymous.http, anonymous.stack.api
    presigned = await http.post(f"{api}/upload/presigned-url", json={"fileName": "cv.txt"})
    assert presigned.status_code == 201, presigned.text
    data = presigned.json()["data"]
    text = b"Jane Doe\njane@example.com\n\nExperience\nEngineer 2019-2024\n\nSkills\nPython"
    put = await http.put(data["uploadUrl"], content=text, headers={"x-ms-blob-type": "BlockBlob"})
    assert put.status_code == 201, put.text
    body = {
        "queueName": "resume-analysis",
        "jobName": "analyze-resume",
        "data": {"resumeId": "resume-123", "fileName": data["fileName"]},
    }
    queued = await http.post(f"{api}/queue/add", json=body)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["data"]["jobId"]

    done = await anonymous.wait_terminal(job_id)

    assert done["status"] == "completed", done.get("error")
    assert done["blobName"] == data["blobName"]
    assert done["data"] == {"resumeId": "resume-123", "fileName": "cv.txt"}
    assert done["result"]["data"]["resumeId"] == "resume-123"
    status = await http.get(f"{api}/jobs/{job_id}/status")
    assert status.json()["data"]["result"] == done["result"]
    # The upload is used now: the same request again says how to go on.
    again = await http.post(f"{api}/queue/add", json=body)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "upload_already_used"


async def test_the_demo_page_and_its_files_are_served(anonymous: Api) -> None:
    page = await anonymous.http.get(f"{anonymous.stack.base_url}/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()


def readme_quick_start() -> str:
    """The bash block under the README's "First job in a minute", as a reader pastes it."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## First job in a minute", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


async def test_the_readmes_quick_start_runs_as_pasted(anonymous: Api) -> None:
    block = readme_quick_start()
    assert "API=${API:-http://127.0.0.1:7071/api/v1}" in block  # make run's default
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=REPO_ROOT,
        env={**os.environ, "API": anonymous.stack.api},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # The stream ran to the job's end, then the status was read: the last printed JSON.
    assert "event: job_update" in done.stdout or "event: completed" in done.stdout, done.stdout
    summary = json.loads(done.stdout[done.stdout.rindex("{\n") :])
    assert summary["status"] == "completed", summary
    assert isinstance(summary["score"], int)
    assert "Python" in summary["skills"]


@pytest.mark.parametrize(
    "sample", ["ada-lovelace-resume.txt", "ada-lovelace-resume.pdf", "grace-hopper-resume.docx"]
)
async def test_each_sample_file_completes_with_a_summary(anonymous: Api, sample: str) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "jobstream_client",
            f"samples/{sample}",
            "--api",
            anonymous.stack.api,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Score "), done.stdout
    assert f"for {sample} (" in done.stdout.splitlines()[0]


async def test_make_demo_runs_the_samples_against_a_running_stack(anonymous: Api) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        ["make", "-s", "demo", f"DEMO_API={anonymous.stack.api}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    scores = [line for line in done.stdout.splitlines() if line.startswith("Score ")]
    assert len(scores) == 2, done.stdout


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
