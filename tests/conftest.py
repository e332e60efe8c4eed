"""Shared pytest configuration: real-process fixtures live in tests/support/."""

pytest_plugins = [
    "tests.support.azurite",
    "tests.support.servicebus",
    "tests.support.stack",
    "tests.browser.stream_stack",
]
