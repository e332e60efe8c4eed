"""The composition root: lazy, once per event loop, overridable, and wired as documented."""

import asyncio
from pathlib import Path

import pytest

from function_app import bootstrap
from function_app.bootstrap import (
    app_services,
    build_services,
    override_app_services,
    reset_app_services,
)
from tests.fakes import fake_world, test_settings


@pytest.fixture(autouse=True)
def clean() -> None:
    reset_app_services()


def test_building_does_no_io_and_wires_the_settings() -> None:
    settings = test_settings(
        MAX_UPLOAD_BYTES=4242, SERVICEBUS_MAX_DELIVERY_COUNT=7, STREAM_POLL_SECONDS=0.05
    )
    svc = build_services(settings)  # no Azurite, no broker: must not connect
    assert svc.settings is settings
    assert svc.uploads.policy.max_bytes == 4242
    assert svc.streams.config.retry_ms == settings.STREAM_RETRY_MS
    assert svc.streams.config.fast_poll_seconds == 0.05
    assert svc.feeds.config.fast_poll_seconds == 0.05
    assert svc.stream_tokens.ttl_seconds == settings.STREAM_TOKEN_TTL_SECONDS


def test_jwt_mode_without_a_key_fails_naming_the_setting() -> None:
    from function_app.settings import SettingsError, load_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTH_MODE", "jwt")
        mp.delenv("JWT_SECRET", raising=False)
        mp.delenv("JWT_ISSUER", raising=False)
        mp.setenv("STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
        mp.setenv("ServiceBusConnection", "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true")
        with pytest.raises(SettingsError, match="JWT_SECRET"):
            load_settings()


def test_the_override_wins_until_removed() -> None:
    world = fake_world()
    override_app_services(world.services)
    assert app_services() is world.services
    override_app_services(None)
    assert bootstrap._override is None


def test_services_are_built_once_per_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    def fake_build(settings: object) -> object:
        built.append(object())
        return built[-1]

    monkeypatch.setattr(bootstrap, "build_services", fake_build)
    monkeypatch.setattr(bootstrap, "get_settings", lambda: test_settings())

    async def twice() -> tuple[object, object]:
        return app_services(), app_services()

    a1, a2 = asyncio.run(twice())
    b1, _ = asyncio.run(twice())
    assert a1 is a2
    assert b1 is not a1
    assert len(built) == 2


# --- settings fail fast, naming the setting -------------------------------------------------

LOCAL_BASE = {
    "STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true",
}
JWT_BASE = {**LOCAL_BASE, "AUTH_MODE": "jwt", "JWT_SECRET": "s" * 32, "JWT_AUDIENCE": "api://x"}


def settings_from(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> object:
    from function_app.settings import Settings, load_settings

    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {**LOCAL_BASE, "MAX_UPLOAD_BYTES": "20MB"},
            "MAX_UPLOAD_BYTES: Input should be a valid integer",
        ),
        (
            {**LOCAL_BASE, "UPLOAD_URL_TTL_SECONDS": "5"},
            "UPLOAD_URL_TTL_SECONDS: Input should be greater than or equal to 15",
        ),
        (
            {**LOCAL_BASE, "SERVICEBUS_MAX_DELIVERY_COUNT": "0"},
            "SERVICEBUS_MAX_DELIVERY_COUNT: Input should be greater than or equal to 1",
        ),
        (
            {**LOCAL_BASE, "STREAM_TOKEN_TTL_SECONDS": "999999"},
            "STREAM_TOKEN_TTL_SECONDS: Input should be less than or equal to 86400",
        ),
        ({**LOCAL_BASE, "AUTH_MODE": "oauth"}, "AUTH_MODE: Input should be 'none' or 'jwt'"),
        ({**LOCAL_BASE, "ALLOW_FAULT_INJECTION": "maybe"}, "ALLOW_FAULT_INJECTION: Input should"),
        ({**JWT_BASE, "JWT_SECRET": ""}, "JWT_SECRET or JWT_ISSUER: AUTH_MODE=jwt needs"),
        ({**JWT_BASE, "JWT_AUDIENCE": ""}, "JWT_AUDIENCE: AUTH_MODE=jwt needs"),
        ({**JWT_BASE, "JWT_JWKS_URL": "https://issuer.example/keys"}, "JWT_ISSUER: JWT_JWKS_URL"),
        ({"ServiceBusConnection": "x"}, "STORAGE_CONNECTION_STRING: set it"),
        ({"STORAGE_CONNECTION_STRING": "x"}, "ServiceBusConnection: set it"),
    ],
    ids=[
        "non-integer",
        "under-minimum",
        "zero-deliveries",
        "over-maximum",
        "unknown-auth-mode",
        "non-boolean",
        "jwt-without-secret-or-issuer",
        "jwt-without-audience",
        "jwks-without-issuer",
        "no-storage",
        "no-servicebus",
    ],
)
def test_a_bad_setting_fails_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], message: str
) -> None:
    from function_app.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        settings_from(monkeypatch, values)
    text = str(info.value)
    assert text.startswith("invalid app settings: ")
    assert message in text
    assert "\n" not in text
    assert "Value error" not in text
    assert "pydantic" not in text  # no documentation URL, no input echoed


def test_a_bad_value_is_not_echoed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from function_app.settings import SettingsError

    with pytest.raises(SettingsError) as info:
        settings_from(monkeypatch, {**LOCAL_BASE, "MAX_UPLOAD_BYTES": "sekrit-value"})
    assert "sekrit-value" not in str(info.value)


@pytest.mark.parametrize(
    "values",
    [
        JWT_BASE,
        {**LOCAL_BASE, "AUTH_MODE": "jwt", "JWT_ISSUER": "https://i.example", "JWT_AUDIENCE": "a"},
        {**JWT_BASE, "JWT_ISSUER": "https://i.example", "JWT_JWKS_URL": "https://i.example/k"},
        LOCAL_BASE,
    ],
    ids=["jwt-hs256", "jwt-oidc", "jwt-explicit-jwks", "none"],
)
def test_good_combinations_build(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    settings_from(monkeypatch, values)


def test_importing_the_app_builds_no_settings() -> None:
    """In Azure, settings are built on first use: a bad one must not hide every function."""
    import subprocess
    import sys

    code = (
        "import os; os.environ['MAX_UPLOAD_BYTES'] = 'not-a-number'; "
        "import main, function_app.settings as s; "
        "assert s.get_settings.cache_info().currsize == 0; print('indexed', len(main.BLUEPRINTS))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "indexed" in done.stdout
