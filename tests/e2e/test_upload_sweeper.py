"""The upload sweeper on the local stack (Azurite has no lifecycle rules: this timer is what
deletes leftovers there). A stack of its own sweeps every second and counts an upload unused
after 4 s: append and page blobs and snapshots made with the upload URL are deleted, an old
upload no job claimed is deleted, an upload a job used is kept."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Api, new_owner
from tests.e2e.test_upload_checks import RESUME, presigned, stored
from tests.support.stack import LocalStack, launch_stack

pytestmark = pytest.mark.e2e

UNUSED_SECONDS = 4
SWEEP_WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def sweeping_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {
        "UPLOAD_SWEEP_SCHEDULE": "* * * * * *",
        "UNUSED_UPLOAD_TTL_SECONDS": str(UNUSED_SECONDS),
    }
    with launch_stack(tmp_path_factory.mktemp("sweeping-stack"), env) as stack:
        yield stack


@pytest.fixture
async def carol(sweeping_stack: LocalStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Api(sweeping_stack, http, new_owner("carol"))


async def put(api: Api, blob_type: str = "BlockBlob") -> dict[str, Any]:
    upload = await presigned(api, "cv.txt", "text/plain")
    url, headers = upload["uploadUrl"], {**upload["headers"], "x-ms-blob-type": blob_type}
    if blob_type == "PageBlob":
        headers["x-ms-blob-content-length"] = str(1024**4)
        response = await api.http.put(url, headers=headers)
    elif blob_type == "AppendBlob":
        response = await api.http.put(url, headers=headers)
    else:
        response = await api.http.put(url, content=RESUME, headers=headers)
    assert response.status_code == 201, response.text
    return upload


async def test_leftovers_and_unused_uploads_are_swept_and_used_ones_kept(carol: Api) -> None:
    unused = await put(carol)
    unused_at = time.monotonic()
    page, append = await put(carol, "PageBlob"), await put(carol, "AppendBlob")
    while await stored(carol, page["blobName"]) and time.monotonic() < unused_at + 30:
        await asyncio.sleep(0.2)
    if time.monotonic() - unused_at < UNUSED_SECONDS - 1:  # a sweep ran before the TTL
        assert await stored(carol, unused["blobName"]) == [""], "deleted before its TTL"
    used = await put(carol)
    job = await carol.enqueue(
        "document-analysis", "analyze-document", {"blobName": used["blobName"]}
    )
    assert job.status_code == 202, job.text
    done = await carol.wait_terminal(job.json()["data"]["jobId"])
    assert done["status"] == "completed", done
    snap = await carol.http.put(f"{used['uploadUrl']}&comp=snapshot")
    assert snap.status_code == 201, snap.text  # after the enqueue: only the sweep sees it

    async def state() -> dict[str, list[str]]:
        names = {"page": page, "append": append, "unused": unused, "used": used}
        return {k: await stored(carol, v["blobName"]) for k, v in names.items()}

    wanted = {"page": [], "append": [], "unused": [], "used": [""]}
    deadline = time.monotonic() + SWEEP_WAIT_SECONDS
    seen = await state()
    while seen != wanted and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        seen = await state()
    assert seen == wanted
    logged = carol.stack.log_path.read_text(encoding="utf-8", errors="replace")
    assert f"upload sweep: deleted {unused['blobName']} (unused)" in logged
    assert f"upload sweep: deleted {page['blobName']} (PageBlob)" in logged
