"""Driving the demo page (web/index.html) as a person does: the API base and the bearer token
sit in its closed "Settings" disclosure, the raw result behind its "Raw JSON" one."""

import json
from typing import Any

from playwright.sync_api import Page


def open_settings(page: Page) -> None:
    """Open the settings disclosure (a click on its summary), unless it is open already."""
    if page.get_attribute("#settings", "open") is None:
        page.click("#settings summary")


def fill_token(page: Page, token: str) -> None:
    open_settings(page)
    page.fill("#token", token)


def raw_result(page: Page) -> Any:
    """The completed job's result as the page holds it (`#result-json`, behind its disclosure)."""
    return json.loads(page.text_content("#result-json") or "null")
