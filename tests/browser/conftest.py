"""Headless Debian Chromium driven by Playwright (no browser download: /usr/bin/chromium),
and the stack as `make run` starts it (AUTH_MODE=none) for code that sends no token."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.support.stack import LocalStack, launch_default_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium missing: run `make chromium` (apt-get install -y chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def anonymous_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The local stack in its default AUTH_MODE=none: every caller is `anonymous`."""
    with launch_default_stack(tmp_path_factory.mktemp("anonymous-stack")) as stack:
        yield stack


@pytest.fixture
def page(chromium_context: BrowserContext) -> Iterator[Page]:
    """A fresh page; the test fails if the page threw an uncaught error meanwhile."""
    page = chromium_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        page.close()
    assert errors == [], errors
