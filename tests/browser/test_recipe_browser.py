"""The browser `EventSource` recipe (docs/recipes/follow-browser.js), as written, in Chromium.

On `stream_stack` (streams end with `timeout` after 5 s) it follows a slow `paced-read` job
across the server's closes to its terminal `job_update`, every event once and in order; on a
finished job whose last event it has seen it resolves `finished` on the 204 (no reopening);
with a credential the stream refuses it rejects with the error's code.
"""

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.stream_stack import StreamStack
from tests.e2e.conftest import new_owner
from tests.e2e.test_recipes import PACE, PACED_BYTES, submit, text_of

pytestmark = pytest.mark.browser

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "follow-browser.js"
RUN_MS = 90_000

FOLLOW = """async ({ api, jobId, streamToken, lastEventId }) => {
  const updates = [];
  try {
    const outcome = await followJob({ api, jobId, streamToken, lastEventId,
      onUpdate: (update) => updates.push(update) });
    return { outcome, updates };
  } catch (error) {
    return { error: error.code, status: error.status, updates };
  }
}"""


def follow(page: Page, stack: StreamStack, accepted: dict[str, Any], **more: Any) -> Any:
    page.goto(f"{stack.base_url}/")
    page.add_script_tag(content=RECIPE.read_text(encoding="utf-8"))
    args = {
        "api": stack.api,
        "jobId": accepted["jobId"],
        "streamToken": accepted["streamToken"],
        "lastEventId": None,
        **more,
    }
    page.set_default_timeout(RUN_MS)
    return page.evaluate(FOLLOW, args)


def stream_requests(page: Page, job_id: str) -> list[str]:
    opened: list[str] = []
    page.on(
        "request",
        lambda request: (
            opened.append(request.url) if f"/jobs/{job_id}/stream" in request.url else None
        ),
    )
    return opened


def test_the_browser_recipe_follows_a_job_across_server_timeouts_to_its_end(
    stream_stack: StreamStack, page: Page
) -> None:
    owner = new_owner("browser-recipe")
    accepted = submit(
        stream_stack, owner, ("document-analysis", "paced-read"), text_of(PACED_BYTES), **PACE
    )
    opened = stream_requests(page, accepted["jobId"])
    answer = follow(page, stream_stack, accepted)
    assert answer["outcome"] == "completed", answer
    sequences = [u["sequence"] for u in answer["updates"]]
    assert sequences == list(range(1, len(sequences) + 1)), sequences
    assert answer["updates"][-1]["status"] == "completed"
    assert len(opened) >= 2, opened  # the server closed it at its max age; EventSource resumed
    with httpx.Client(timeout=30) as http:
        job = http.get(
            f"{stream_stack.api}/jobs/{accepted['jobId']}", headers=stream_stack.headers(owner)
        ).json()["data"]
    assert job["lastEventId"] == sequences[-1]


def test_the_browser_recipe_resolves_finished_on_the_204_and_stops_on_a_refusal(
    stream_stack: StreamStack, page: Page
) -> None:
    owner = new_owner("browser-recipe-done")
    accepted = submit(stream_stack, owner, ("document-analysis", "analyze-document"), b"# Done\n")
    ended = follow(page, stream_stack, accepted)
    assert ended["outcome"] == "completed", ended
    last = ended["updates"][-1]["sequence"]

    opened = stream_requests(page, accepted["jobId"])
    again = follow(page, stream_stack, accepted, lastEventId=str(last))
    assert again == {"outcome": "finished", "updates": []}
    # The EventSource's own request and the one asking why it closed: no reopening.
    assert len(opened) == 2, opened

    refused = follow(page, stream_stack, {**accepted, "streamToken": "not-a-token"})
    assert (refused["status"], refused["updates"]) == (401, []), refused
    assert refused["error"]
