"""Every client recipe in docs/recipes/, run as written against the local stack.

The followers (npm `eventsource`, `@microsoft/fetch-event-source`, Python `httpx-sse`, a
`curl -N` loop) follow a slow `paced-read` job on `stream_stack`, whose streams end with
`timeout` after 5 s: each must cross at least one server close and print every `job_update`
once, in order, to the terminal one. On a finished job whose last event was seen, each exits
on the 204 instead of retrying; with a credential the stream refuses, each stops.
The upload recipes (`@azure/storage-blob`, Python `azure-storage-blob`) store the presign's
content type and enqueue accepts the upload; the same SDK calls without the content type
option store `application/octet-stream`, and enqueue answers 415.
The npm packages come from tests/recipes (its own lock file): a recipe runs from a copy in a
directory under its node_modules, so Node resolves them. The browser `EventSource` recipe is
tests/browser/test_recipe_browser.py.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.blob import BlobClient, BlobServiceClient

from tests.browser.stream_stack import STREAM_SETTINGS, SeededJobs, StreamStack, submit_job
from tests.e2e.conftest import new_owner
from tests.support.stack import launch_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPES = REPO_ROOT / "docs" / "recipes"
NODE_PACKAGES = REPO_ROOT / "tests" / "recipes"
PYTHON = sys.executable
# A paced read of 1.5 MiB at 192 KiB/s: about 8 s, so the 5 s stream max age cuts it once or more.
PACED_BYTES = 3 * 512 * 1024
PACE = {"bytesPerSecond": 192 * 1024}
RUN_SECONDS = 120  # a guard against a recipe that loops forever, not a speed assertion

FOLLOWERS = {
    "eventsource": ["node", "follow-eventsource.mjs"],
    "fetch-event-source": ["node", "follow-fetch-event-source.mjs"],
    "httpx-sse": [PYTHON, "follow_httpx_sse.py"],
    "curl": ["bash", "follow-curl.sh"],
}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def updates(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def recipe_dir() -> Iterator[Path]:
    """A copy of docs/recipes under tests/recipes/node_modules, where Node finds the pinned
    packages."""
    if not (NODE_PACKAGES / "node_modules" / "eventsource").exists():
        pytest.fail("the recipes' npm packages are missing: npm ci --prefix tests/recipes")
    # Inside node_modules: ignored by git, and Node still looks in tests/recipes/node_modules.
    runs = NODE_PACKAGES / "node_modules" / ".recipe-runs"
    runs.mkdir(exist_ok=True)
    where = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
    try:
        for recipe in RECIPES.iterdir():
            shutil.copy(recipe, where / recipe.name)
        yield where
    finally:
        shutil.rmtree(where)


def run(recipe_dir: Path, command: list[str], env: Mapping[str, str]) -> Run:
    done = subprocess.run(
        command,
        cwd=recipe_dir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def text_of(size: int) -> bytes:
    line = b"a steady line of text for the paced reader\n"
    return (line * (size // len(line) + 1))[:size]


def submit(stack: StreamStack, owner: str, job: tuple[str, str], data: bytes, **extra: Any) -> Any:
    """Presign, PUT with plain HTTP, enqueue: the job's 202 data."""
    return submit_job(
        stack.api, "paced.txt", "text/plain", data, stack.headers(owner), job=job, extra=extra
    )


def follower_env(stack: StreamStack, accepted: Mapping[str, Any]) -> dict[str, str]:
    return {
        "JOBSTREAM_API": stack.api,
        "JOB_ID": accepted["jobId"],
        "STREAM_TOKEN": accepted["streamToken"],
    }


def run_each(recipe_dir: Path, envs: Mapping[str, Mapping[str, str]]) -> dict[str, Run]:
    """Every follower at once (one each, its own owner and job): they wait on the server's
    closes and Retry-After, not on the CPU, so running them side by side keeps the test short."""
    with ThreadPoolExecutor(len(envs)) as pool:
        futures = {
            client: pool.submit(run, recipe_dir, FOLLOWERS[client], env)
            for client, env in envs.items()
        }
        return {client: future.result() for client, future in futures.items()}


def test_each_follower_crosses_server_timeouts_to_the_terminal_event_losing_and_repeating_nothing(
    stream_stack: StreamStack, recipe_dir: Path
) -> None:
    owners = {client: new_owner(f"follow-{client}") for client in FOLLOWERS}
    accepted = {
        client: submit(
            stream_stack, owner, ("document-analysis", "paced-read"), text_of(PACED_BYTES), **PACE
        )
        for client, owner in owners.items()
    }
    runs = run_each(recipe_dir, {c: follower_env(stream_stack, job) for c, job in accepted.items()})
    for client, done in runs.items():
        assert done.code == 0, (client, done)
        sequences = [u["sequence"] for u in done.updates]
        assert sequences == list(range(1, len(sequences) + 1)), (client, sequences)
        assert done.updates[-1]["status"] == "completed", client
        assert {u["jobId"] for u in done.updates} == {accepted[client]["jobId"]}, client
        # It was cut by the server's max age and resumed (the recipe says so on stderr).
        assert "stream timed out at" in done.stderr, (client, done)
        # What it printed is the whole job: the status route agrees on the last sequence.
        with httpx.Client(timeout=30) as http:
            job = http.get(
                f"{stream_stack.api}/jobs/{accepted[client]['jobId']}",
                headers=stream_stack.headers(owners[client]),
            ).json()["data"]
        assert job["status"] == "completed", client
        assert job["lastEventId"] == sequences[-1], client


@pytest.fixture(scope="module")
def finished(stream_stack: StreamStack) -> tuple[dict[str, Any], int]:
    """A completed job, and its last sequence."""
    owner = new_owner("finished")
    accepted = submit(stream_stack, owner, ("document-analysis", "analyze-document"), b"# Done\n")
    with httpx.Client(timeout=30) as http:
        for _ in range(360):
            job = http.get(
                f"{stream_stack.api}/jobs/{accepted['jobId']}",
                headers=stream_stack.headers(owner),
            ).json()["data"]
            if job["status"] == "completed":
                return accepted, int(job["lastEventId"])
            subprocess.run(["sleep", "0.25"], check=True)
    pytest.fail(f"the job did not finish: {job}")


@pytest.mark.parametrize("client", list(FOLLOWERS))
def test_a_follower_exits_on_the_204_for_a_finished_job_it_has_seen(
    client: str,
    stream_stack: StreamStack,
    recipe_dir: Path,
    finished: tuple[dict[str, Any], int],
) -> None:
    accepted, last = finished
    env = {**follower_env(stream_stack, accepted), "LAST_EVENT_ID": str(last)}
    done = run(recipe_dir, FOLLOWERS[client], env)
    assert (done.code, done.stdout) == (0, ""), done
    assert "the job has finished" in done.stderr, done


@pytest.mark.parametrize("client", list(FOLLOWERS))
def test_a_follower_stops_when_the_stream_refuses_its_credential(
    client: str,
    stream_stack: StreamStack,
    recipe_dir: Path,
    finished: tuple[dict[str, Any], int],
) -> None:
    accepted, _ = finished
    env = {**follower_env(stream_stack, accepted), "STREAM_TOKEN": "not-a-token"}
    done = run(recipe_dir, FOLLOWERS[client], env)
    assert (done.code, done.stdout) == (2, ""), done
    assert "refused: 401" in done.stderr, done


# --- uploads ----------------------------------------------------------------------------------

UPLOADERS = {
    "@azure/storage-blob": ["node", "upload-storage-blob.mjs"],
    "azure-storage-blob": [PYTHON, "upload_azure_storage_blob.py"],
}
RESUME = b"Ada Lovelace\nExperience\nAnalyst, 1843\nSkills\nPython, mathematics\n"


def stored(stack: StreamStack, blob_name: str, container: str = "uploads") -> BlobClient:
    service = BlobServiceClient.from_connection_string(stack.stack.storage_connection_string)
    return service.get_blob_client(container, blob_name)


def upload_env(stack: StreamStack, owner: str) -> dict[str, str]:
    return {"JOBSTREAM_API": stack.api, "JOBSTREAM_TOKEN": stack.token(owner)}


def blob_of(stack: StreamStack, owner: str, job_id: str) -> str:
    with httpx.Client(timeout=30) as http:
        job = http.get(f"{stack.api}/jobs/{job_id}", headers=stack.headers(owner)).json()["data"]
    return str(job["blobName"])


@pytest.mark.parametrize("client", list(UPLOADERS))
def test_an_upload_recipe_stores_the_presigned_type_and_enqueue_accepts_it(
    client: str, stream_stack: StreamStack, recipe_dir: Path, tmp_path: Path
) -> None:
    owner = new_owner("uploader")
    resume = tmp_path / "ada.txt"
    resume.write_bytes(RESUME)
    done = run(recipe_dir, [*UPLOADERS[client], str(resume)], upload_env(stream_stack, owner))
    assert done.code == 0, done
    accepted = json.loads(done.stdout)
    assert accepted["status"] == "queued"
    assert accepted["jobName"] == "analyze-resume"
    blob = stored(stream_stack, blob_of(stream_stack, owner, accepted["jobId"]))
    assert blob.get_blob_properties().content_settings.content_type == "text/plain"


def test_the_js_recipe_sends_a_large_file_in_blocks(
    stream_stack: StreamStack, recipe_dir: Path, tmp_path: Path
) -> None:
    # Without `maxSingleShotSize` the SDK sends one Put Blob for anything under 256 MiB.
    owner = new_owner("blocks")
    notes = tmp_path / "notes.md"
    notes.write_bytes(text_of(9 * 1024 * 1024 + 5))  # three 4 MiB blocks
    command = [
        *UPLOADERS["@azure/storage-blob"],
        str(notes),
        "document-analysis",
        "analyze-document",
    ]
    done = run(recipe_dir, command, upload_env(stream_stack, owner))
    assert done.code == 0, done
    accepted = json.loads(done.stdout)
    blob = stored(stream_stack, blob_of(stream_stack, owner, accepted["jobId"]))
    committed = blob.get_block_list("committed")[0]
    assert [b.size for b in committed] == [4 * 1024 * 1024, 4 * 1024 * 1024, 1024 * 1024 + 5]
    assert blob.get_blob_properties().content_settings.content_type == "text/markdown"


# What the SDKs do without the content type option: the reviewer's finding, kept as a test.
SDK_UPLOAD_WITHOUT_TYPE = {
    "@azure/storage-blob": [
        "node",
        "--input-type=module",
        "-e",
        "import { BlockBlobClient } from '@azure/storage-blob';"
        "await new BlockBlobClient(process.env.UPLOAD_URL)"
        ".uploadData(Buffer.from(process.env.BODY));",
    ],
    "azure-storage-blob": [
        PYTHON,
        "-c",
        "import os; from azure.storage.blob import BlobClient;"
        "BlobClient.from_blob_url(os.environ['UPLOAD_URL']).upload_blob(os.environ['BODY'].encode())",
    ],
}


@pytest.mark.parametrize("client", list(SDK_UPLOAD_WITHOUT_TYPE))
def test_without_the_type_option_the_sdk_stores_octet_stream_and_enqueue_answers_415(
    client: str, stream_stack: StreamStack, recipe_dir: Path
) -> None:
    # A name without an extension: enqueue cannot tell the type from it, only from the blob.
    owner = new_owner("untyped")
    headers = stream_stack.headers(owner)
    with httpx.Client(timeout=30) as http:
        presigned = http.post(
            f"{stream_stack.api}/upload/presigned-url",
            json={"fileName": "ada-resume", "contentType": "text/plain"},
            headers=headers,
        )
        assert presigned.status_code == 201, presigned.text
        upload = presigned.json()["data"]
        env = {"UPLOAD_URL": upload["uploadUrl"], "BODY": RESUME.decode()}
        done = run(recipe_dir, SDK_UPLOAD_WITHOUT_TYPE[client], env)
        assert done.code == 0, done
        blob = stored(stream_stack, upload["blobName"])
        assert blob.get_blob_properties().content_settings.content_type == (
            "application/octet-stream"
        )
        enqueued = http.post(
            f"{stream_stack.api}/jobs",
            json={
                "queueName": "resume-analysis",
                "jobName": "analyze-resume",
                "data": {"blobName": upload["blobName"], "fileName": "ada-resume"},
            },
            headers=headers,
        )
    assert enqueued.status_code == 415, enqueued.text
    assert enqueued.json()["error"]["code"] == "unsupported_media_type"


# --- 429: over the caller's open streams --------------------------------------------------------


@pytest.fixture(scope="module")
def one_stream_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamStack]:
    """`stream_stack`'s settings with one open stream per caller."""
    settings = {**STREAM_SETTINGS, "LIMIT_STREAMS_PER_CALLER": "1"}
    with launch_stack(tmp_path_factory.mktemp("one-stream"), settings) as stack:
        yield StreamStack(stack, SeededJobs(stack.table_endpoint))


def hold_a_stream(stack: StreamStack, owner: str, job_id: str) -> threading.Thread:
    """Open `owner`'s one stream on a running job; the server ends it at its 5 s max age."""
    connected = threading.Event()

    def hold() -> None:
        with (
            httpx.Client(timeout=30) as http,
            http.stream(
                "GET", f"{stack.api}/jobs/{job_id}/stream", headers=stack.headers(owner)
            ) as response,
        ):
            assert response.status_code == 200
            for line in response.iter_lines():
                if line == "event: connected":
                    connected.set()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert connected.wait(30), "the held stream did not open"
    return holder


def test_each_follower_throttled_waits_retry_after_then_follows_to_the_end(
    one_stream_stack: StreamStack, recipe_dir: Path
) -> None:
    stack = one_stream_stack
    owners = {client: new_owner(f"throttled-{client}") for client in FOLLOWERS}
    accepted, slow = {}, {}
    for client, owner in owners.items():
        accepted[client] = submit(stack, owner, ("document-analysis", "analyze-document"), b"# A\n")
        slow[client] = submit(
            stack,
            owner,
            ("document-analysis", "paced-read"),
            text_of(2 * 1024 * 1024),
            bytesPerSecond=64 * 1024,  # 32 s: not finished while its stream is held
        )
    # Each owner's one stream is held on its slow job: each follower's first open is a 429.
    holders = [hold_a_stream(stack, owners[c], slow[c]["jobId"]) for c in FOLLOWERS]
    runs = run_each(recipe_dir, {c: follower_env(stack, job) for c, job in accepted.items()})
    for holder in holders:
        holder.join(30)
    with httpx.Client(timeout=30) as http:  # the next test's jobs must not wait behind them
        for client, job in slow.items():
            http.post(
                f"{stack.api}/jobs/{job['jobId']}/cancel", headers=stack.headers(owners[client])
            )
    for client, done in runs.items():
        assert done.code == 0, (client, done)
        assert "throttled: retrying in" in done.stderr, (client, done)
        sequences = [u["sequence"] for u in done.updates]
        assert sequences == list(range(1, len(sequences) + 1)), (client, sequences)
        assert done.updates[-1]["status"] == "completed", client


# --- the `retry:` hint rides in the `connected` frame ------------------------------------------

# fetch-event-source hands `onmessage` every frame, a data-less one included.
EVERY_MESSAGE = (
    "import { fetchEventSource } from '@microsoft/fetch-event-source';"
    "globalThis.window = globalThis;"
    "globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };"
    "const messages = [];"
    "await fetchEventSource(process.env.URL, {"
    "  headers: { Authorization: `Bearer ${process.env.STREAM_TOKEN}` }, openWhenHidden: true,"
    "  onmessage: (m) => messages.push(m), onerror: (e) => { throw e; } });"
    "console.log(JSON.stringify(messages));"
)


def test_fetch_event_source_gets_no_empty_message_the_retry_hint_comes_with_connected(
    stream_stack: StreamStack, recipe_dir: Path, finished: tuple[dict[str, Any], int]
) -> None:
    accepted, last = finished
    env = {
        "URL": f"{stream_stack.api}/jobs/{accepted['jobId']}/stream",
        "STREAM_TOKEN": accepted["streamToken"],
    }
    done = run(recipe_dir, ["node", "--input-type=module", "-e", EVERY_MESSAGE], env)
    assert done.code == 0, done
    messages = json.loads(done.stdout)
    assert [m for m in messages if not m["data"]] == []
    assert messages[0]["event"] == "connected"
    assert messages[0]["retry"] == int(STREAM_SETTINGS["STREAM_RETRY_MS"])
    assert [m["id"] for m in messages if m["event"] == "job_update"] == [
        str(n) for n in range(1, last + 1)
    ]


# fetch-event-source's own `onopen` on the 204: it throws, and the library retries; the script
# counts the requests through its `fetch` option and aborts at the third.
DEFAULT_ON_204 = (
    "import { fetchEventSource } from '@microsoft/fetch-event-source';"
    "globalThis.window = globalThis;"
    "globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };"
    "const stop = new AbortController(); let requests = 0;"
    "await fetchEventSource(process.env.URL, {"
    "  headers: { Authorization: `Bearer ${process.env.STREAM_TOKEN}`,"
    "             'Last-Event-ID': process.env.LAST_EVENT_ID },"
    "  openWhenHidden: true, signal: stop.signal,"
    "  fetch: async (url, init) => {"
    "    if (++requests === 3) stop.abort();"
    "    return fetch(url, init);"
    "  },"
    "  onmessage: () => {} });"
    "console.log(requests);"
)


def test_fetch_event_source_left_to_its_defaults_retries_the_204_the_recipe_stops(
    stream_stack: StreamStack, recipe_dir: Path, finished: tuple[dict[str, Any], int]
) -> None:
    accepted, last = finished
    env = {
        "URL": f"{stream_stack.api}/jobs/{accepted['jobId']}/stream",
        "STREAM_TOKEN": accepted["streamToken"],
        "LAST_EVENT_ID": str(last),
    }
    done = run(recipe_dir, ["node", "--input-type=module", "-e", DEFAULT_ON_204], env)
    assert (done.code, done.stdout.strip()) == (0, "3"), done  # it came back after the 204
