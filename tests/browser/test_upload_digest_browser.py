"""The JS client hashes a file with WebCrypto (`crypto.subtle.digest`) in a real Chromium,
declares the SHA-256 at presign and enqueue, and the worker verifies it; over the client's
`sha256MaxBytes` (or with 0) it sends none and the job still runs."""

import hashlib
import json
from typing import Any

import pytest
from playwright.sync_api import Page, Request

from tests.support.stack import LocalStack

pytestmark = pytest.mark.browser

JOB_WAIT_MS = 90_000
CONTENT = "Ada Lovelace\nada@example.com\n\nExperience\n2019 - Present  Engineer\n" * 50

RUN = """async ([content, maxBytes]) => {
  const { JobstreamClient, sha256Hex } = await import('/web/jobstream-client.js');
  const file = new File([content], 'cv.txt', { type: 'text/plain' });
  const client = new JobstreamClient({ apiBase: '/api/v1', sha256MaxBytes: maxBytes });
  const final = await client.run(file, { jobName: 'analyze-document' });
  const job = await client.status(final.jobId || final.job_id);
  return { digest: await sha256Hex(file), job };
}"""


def presign_bodies(page: Page) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.url.endswith("/upload/presigned-url") and request.method == "POST":
            seen.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    return seen


def test_the_js_client_declares_the_webcrypto_digest_and_the_worker_verifies_it(
    page: Page, anonymous_stack: LocalStack
) -> None:
    expected = hashlib.sha256(CONTENT.encode()).hexdigest()
    bodies = presign_bodies(page)
    page.goto(f"{anonymous_stack.base_url}/")
    page.set_default_timeout(JOB_WAIT_MS)

    outcome = page.evaluate(RUN, [CONTENT, 64 * 1024 * 1024])

    assert outcome["digest"] == expected
    assert bodies[-1]["sha256"] == expected
    job = outcome["job"]
    assert job["status"] == "completed", job
    assert job["data"]["sha256"] == expected
    assert job["result"]["sha256"] == expected
    assert job["result"]["sha256Verified"] is True


def test_a_file_over_the_clients_digest_limit_is_sent_without_one(
    page: Page, anonymous_stack: LocalStack
) -> None:
    bodies = presign_bodies(page)
    page.goto(f"{anonymous_stack.base_url}/")
    page.set_default_timeout(JOB_WAIT_MS)

    outcome = page.evaluate(RUN, [CONTENT, 100])

    assert "sha256" not in bodies[-1]
    job = outcome["job"]
    assert job["status"] == "completed", job
    assert "sha256" not in job["data"]
    assert job["result"]["sha256Verified"] is False
