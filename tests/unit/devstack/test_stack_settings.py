import socket

import pytest

from devstack.azurite import AzuriteProcess
from devstack.servicebus.launcher import EmulatorProcess
from devstack.stack import StackError, faults_allowed, point_app_at_emulators, require_free
from tests.fakes import test_settings


class FakeAzurite:
    connection_string = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;...:41000"


class FakeEmulator:
    connection_string = "Endpoint=sb://127.0.0.1:41001;...;UseDevelopmentEmulator=true"
    admin_url = "http://127.0.0.1:41002"


def point(environ: dict[str, str]) -> list[str]:
    azurite: AzuriteProcess = FakeAzurite()  # type: ignore[assignment]
    emulator: EmulatorProcess = FakeEmulator()  # type: ignore[assignment]
    return point_app_at_emulators(environ, azurite, emulator)


def test_settings_naming_the_local_emulators_get_the_running_endpoints() -> None:
    environ = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "ServiceBusConnection": "Endpoint=sb://127.0.0.1:5672;UseDevelopmentEmulator=true",
        "SERVICEBUS_EMULATOR_ADMIN_URL": "http://127.0.0.1:5673",
    }

    changed = point(environ)

    assert environ["AzureWebJobsStorage"] == FakeAzurite.connection_string
    assert environ["STORAGE_CONNECTION_STRING"] == FakeAzurite.connection_string
    assert environ["ServiceBusConnection"] == FakeEmulator.connection_string
    assert environ["SERVICEBUS_EMULATOR_ADMIN_URL"] == FakeEmulator.admin_url
    assert set(changed) == set(environ)


def test_settings_pointing_at_azure_are_kept() -> None:
    azure_storage = "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=x;"
    azure_bus = "Endpoint=sb://prod.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v"
    environ = {
        "AzureWebJobsStorage": azure_storage,
        "STORAGE_CONNECTION_STRING": azure_storage,
        "ServiceBusConnection": azure_bus,
        "SERVICEBUS_EMULATOR_ADMIN_URL": "https://admin.example.test",
    }

    assert point(environ) == []
    assert environ["ServiceBusConnection"] == azure_bus
    assert environ["STORAGE_CONNECTION_STRING"] == azure_storage


def test_a_taken_port_is_named_in_the_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(StackError, match=f"{port} \\(Azurite blob\\)"):
            require_free({port: "Azurite blob"})


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("", False), ("false", False), ("0", False), ("true", True), ("True", True), ("1", True),
     ("yes", True), ("on", True), ("maybe", False)],
)  # fmt: skip
def test_the_emulators_fault_hook_follows_allow_fault_injection_as_settings_parse_it(
    value: str, allowed: bool
) -> None:
    assert faults_allowed({"ALLOW_FAULT_INJECTION": value}) is allowed
    if value != "maybe":
        assert (
            test_settings(ALLOW_FAULT_INJECTION=value or "false").ALLOW_FAULT_INJECTION is allowed
        )
