"""Shared pytest configuration: real-process fixtures live in tests/support/."""

import pytest
from _pytest.terminal import TerminalReporter

from tests.support.chaos import print_report

pytest_plugins = [
    "tests.support.azurite",
    "tests.support.servicebus",
    "tests.support.stack",
    "tests.browser.stream_stack",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Playwright's sync API keeps its own event loop running in the main thread while its
    session-scoped browser lives; an asyncio test after it could not start its loop
    ("Runner.run() cannot be called from a running event loop"). Every test under
    tests/browser/ is a browser test, marked or not. The sort is stable, so every other test
    keeps its order.
    """
    for item in items:
        if "browser" in item.path.parts and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """The fault suite's table (tests/support/chaos.py), when chaos tests ran."""
    print_report(terminalreporter)
