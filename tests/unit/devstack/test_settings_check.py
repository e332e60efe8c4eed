"""The local host builds the app's settings once at start-up and stops on a bad one."""

import uuid
from pathlib import Path

import pytest

from devstack.host.loader import AppSettingsError, check_app_settings
from function_app.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
GOOD_ENV = {
    "STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true",
}


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def app_with_settings(root: Path, body: str) -> str:
    """A package `<unique>/settings.py` under `root`; returns its `module:function`."""
    package = f"cfg_{uuid.uuid4().hex}"
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("", encoding="utf-8")
    (root / package / "settings.py").write_text(body, encoding="utf-8")
    return f"{package}.settings:get_settings"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("MAX_UPLOAD_BYTES", "twenty", "MAX_UPLOAD_BYTES: Input should be a valid integer"),
        ("UPLOAD_URL_TTL_SECONDS", "7200", "UPLOAD_URL_TTL_SECONDS: Input should be less than"),
        ("AUTH_MODE", "basic", "AUTH_MODE: Input should be 'none' or 'jwt'"),
    ],
)
def test_the_apps_own_settings_are_checked(
    app_env: pytest.MonkeyPatch, setting: str, value: str, message: str
) -> None:
    app_env.setenv(setting, value)

    with pytest.raises(AppSettingsError) as info:
        check_app_settings(REPO_ROOT, "function_app.settings:load_settings")

    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_jwt_without_an_audience_is_refused_at_start_up(app_env: pytest.MonkeyPatch) -> None:
    app_env.setenv("AUTH_MODE", "jwt")
    app_env.setenv("JWT_SECRET", "s" * 32)

    with pytest.raises(AppSettingsError, match="JWT_AUDIENCE"):
        check_app_settings(REPO_ROOT, "function_app.settings:load_settings")


def test_good_settings_pass(app_env: pytest.MonkeyPatch) -> None:
    assert check_app_settings(REPO_ROOT, "function_app.settings:load_settings") is True


def test_the_default_check_is_the_apps_cached_builder() -> None:
    from devstack.host.loader import DEFAULT_SETTINGS_CHECK

    # The app's get_settings caches: what the host builds is what the app then uses.
    assert DEFAULT_SETTINGS_CHECK == "function_app.settings:get_settings"


def test_only_the_first_line_of_the_error_is_reported(tmp_path: Path) -> None:
    check = app_with_settings(
        tmp_path,
        "def get_settings():\n    raise ValueError('X_SETTING: bad\\nsecond line')\n",
    )

    with pytest.raises(AppSettingsError) as info:
        check_app_settings(tmp_path, check)

    assert str(info.value) == "X_SETTING: bad"


def test_the_builder_is_called_once(tmp_path: Path) -> None:
    check = app_with_settings(
        tmp_path, "CALLS = []\n\ndef get_settings():\n    CALLS.append(1)\n    return object()\n"
    )

    assert check_app_settings(tmp_path, check) is True

    import importlib

    assert importlib.import_module(check.split(":")[0]).CALLS == [1]


def test_an_app_without_that_module_is_not_checked(tmp_path: Path) -> None:
    # Another app served by the host (e.g. the integration tests' tiny app): nothing to call,
    # even though this repository's function_app is importable from the test's sys.path.
    assert check_app_settings(tmp_path, "function_app.settings:load_settings") is False
    assert check_app_settings(tmp_path, f"absent_{uuid.uuid4().hex}.settings:x") is False


def test_a_malformed_check_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AppSettingsError, match="module:function"):
        check_app_settings(tmp_path, "function_app.settings")
