"""The composition root: lazy, once per event loop, overridable, and wired as documented."""

import asyncio

import pytest

from function_app import bootstrap
from function_app.bootstrap import build_services, override_services, reset_services, services
from tests.fakes import fake_world, test_settings


@pytest.fixture(autouse=True)
def clean() -> None:
    reset_services()


def test_building_does_no_io_and_wires_the_settings() -> None:
    settings = test_settings(MAX_UPLOAD_BYTES=4242, SERVICEBUS_MAX_DELIVERY_COUNT=7)
    svc = build_services(settings)  # no Azurite, no broker: must not connect
    assert svc.settings is settings
    assert svc.uploads.policy.max_bytes == 4242
    assert svc.streams.config.retry_ms == settings.STREAM_RETRY_MS
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
    override_services(world.services)
    assert services() is world.services
    override_services(None)
    assert bootstrap._override is None


def test_services_are_built_once_per_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    def fake_build(settings: object) -> object:
        built.append(object())
        return built[-1]

    monkeypatch.setattr(bootstrap, "build_services", fake_build)
    monkeypatch.setattr(bootstrap, "get_settings", lambda: test_settings())

    async def twice() -> tuple[object, object]:
        return services(), services()

    a1, a2 = asyncio.run(twice())
    b1, _ = asyncio.run(twice())
    assert a1 is a2
    assert b1 is not a1
    assert len(built) == 2
