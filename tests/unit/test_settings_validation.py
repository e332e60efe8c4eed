"""Every setting is checked as it is read, from the environment as the host gives it: a bad
value fails with one line naming the setting; lists become typed; empty optionals are unset."""

import pytest

from function_app.settings import (
    DEFAULT_ALLOWED_CONTENT_TYPES,
    Settings,
    SettingsError,
    load_settings,
)

LOCAL = {
    "STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://127.0.0.1;UseDevelopmentEmulator=true",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Only the local basics set: every other field the app reads is unset."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in LOCAL.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_the_content_types_are_a_set_parsed_from_the_comma_separated_setting(
    env: pytest.MonkeyPatch,
) -> None:
    assert frozenset(DEFAULT_ALLOWED_CONTENT_TYPES) == load_settings().ALLOWED_CONTENT_TYPES
    env.setenv("ALLOWED_CONTENT_TYPES", " Text/Plain ,application/pdf,, text/plain ")
    assert frozenset({"text/plain", "application/pdf"}) == load_settings().ALLOWED_CONTENT_TYPES


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("ALLOWED_CONTENT_TYPES", "pdf,text/plain", "not a content type (type/subtype): 'pdf'"),
        ("ALLOWED_CONTENT_TYPES", " , ", "empty: list the content types"),
        ("SERVICEBUS_EMULATOR_ADMIN_URL", "127.0.0.1:5673", "not an http(s) URL with a host"),
        ("SERVICEBUS_EMULATOR_ADMIN_URL", "http://127.0.0.1:port", "its port is not a number"),
        ("STORAGE_BLOB_ENDPOINT", "ftp://x.blob.core.windows.net", "not an http(s) URL"),
        ("STORAGE_TABLE_ENDPOINT", "https://", "not an http(s) URL with a host"),
        ("JWT_ISSUER", "login.microsoftonline.com/t/v2.0", "not an http(s) URL"),
        ("JWT_JWKS_URL", "keys.json", "not an http(s) URL"),
        ("UPLOADS_CONTAINER", "Uploads", "not a blob container name"),
        ("UPLOADS_CONTAINER", "up--loads", "not a blob container name"),
        ("JOBS_TABLE", "jobs-table", "not a table name"),
        ("JOBS_TABLE", "1jobs", "not a table name"),
        ("AZURE_CLIENT_ID", "my-identity", "not a client id (a GUID)"),
        ("ServiceBusConnection__fullyQualifiedNamespace", "sb://x.servicebus.windows.net", "host"),
        ("AUTH_MODE", "basic", "Input should be 'none' or 'jwt'"),
        ("MAX_UPLOAD_BYTES", "0", "greater than or equal to 1"),
        ("UPLOAD_URL_TTL_SECONDS", "7200", "less than or equal to 3600"),
        ("STREAM_MAX_AGE_SECONDS", "2", "greater than or equal to 5"),
        ("STREAM_HEARTBEAT_SECONDS", "0", "greater than 0"),
        ("STREAM_RETRY_MS", "ten", "valid integer"),
        ("STREAM_POLL_SECONDS", "0.001", "greater than or equal to 0.02"),
        ("STREAM_POLL_SECONDS", "2", "less than or equal to 1"),
        ("STREAM_TOKEN_TTL_SECONDS", "30", "greater than or equal to 60"),
        ("SERVICEBUS_MAX_DELIVERY_COUNT", "101", "less than or equal to 100"),
        ("ALLOW_FAULT_INJECTION", "maybe", "valid boolean"),
    ],
)
def test_a_bad_value_fails_with_one_line_naming_the_setting(
    env: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid app settings: {name}: "), message
    assert problem in message
    assert "\n" not in message
    assert "Value error" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERVICEBUS_EMULATOR_ADMIN_URL", "http://127.0.0.1:5673"),
        ("STORAGE_BLOB_ENDPOINT", "https://stjobs.blob.core.windows.net/"),
        ("JWT_ISSUER", "https://login.microsoftonline.com/tenant/v2.0"),
        ("UPLOADS_CONTAINER", "f0123abcd-uploads"),
        ("JOBS_TABLE", "f0123abcdjobs"),
        ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
        ("ServiceBusConnection__fullyQualifiedNamespace", "sb-x.servicebus.windows.net"),
    ],
)
def test_a_good_value_is_kept_as_given(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    assert getattr(load_settings(), name) == value


@pytest.mark.parametrize(
    "name",
    ["SERVICEBUS_EMULATOR_ADMIN_URL", "JWT_SECRET", "JWT_AUDIENCE", "AZURE_CLIENT_ID"],
)
def test_an_optional_setting_left_empty_is_unset(env: pytest.MonkeyPatch, name: str) -> None:
    env.setenv(name, "  ")
    assert getattr(load_settings(), name) is None


@pytest.mark.parametrize("name", ["JWT_SECRET", "STREAM_TOKEN_SECRET"])
def test_a_secret_shorter_than_an_hs256_key_is_refused(env: pytest.MonkeyPatch, name: str) -> None:
    env.setenv("AUTH_MODE", "jwt")
    env.setenv("JWT_AUDIENCE", "api://jobstream")
    env.setenv("JWT_SECRET", "j" * 32)
    env.setenv(name, "short-secret")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert name in str(refused.value)
    assert "at least 32 characters" in str(refused.value)
    env.setenv(name, "k" * 32)
    assert load_settings().AUTH_MODE == "jwt"


def test_hs256_in_azure_needs_an_issuer(env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTH_MODE", "jwt")
    env.setenv("JWT_AUDIENCE", "api://jobstream")
    env.setenv("JWT_SECRET", "j" * 32)
    assert load_settings().JWT_ISSUER is None  # locally: the secret alone is enough
    env.setenv("WEBSITE_INSTANCE_ID", "a1b2c3")  # what Azure sets on every instance
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "JWT_ISSUER: in Azure, HS256 tokens" in str(refused.value)
    env.setenv("JWT_ISSUER", "https://issuer.example/")
    assert load_settings().JWT_ISSUER == "https://issuer.example/"


@pytest.mark.parametrize(
    "name", ["JWT_REQUIRED_ROLES", "JWT_REQUIRED_SCOPES", "JWT_ALLOWED_CLIENT_IDS"]
)
def test_the_token_grants_are_sets_parsed_from_comma_separated_settings(
    env: pytest.MonkeyPatch, name: str
) -> None:
    assert getattr(load_settings(), name) == frozenset()
    env.setenv(name, " Jobs.ReadWrite, , 1b2c3d4e-0000-4000-8000-000000000000 ")
    assert getattr(load_settings(), name) == frozenset(
        {"Jobs.ReadWrite", "1b2c3d4e-0000-4000-8000-000000000000"}
    )
    env.setenv(name, "")
    assert getattr(load_settings(), name) == frozenset()


def test_stream_tokens_are_short_lived_by_default(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.STREAM_TOKEN_TTL_SECONDS, settings.STREAM_TOKEN_GRACE_SECONDS) == (600, 60)
