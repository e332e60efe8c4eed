"""The Service Bus connection the triggers name is the identity-based one both stacks set.

`function_app/entrypoints/sb_worker.py` binds every trigger to `connection=CONNECTION`; the
Functions host resolves that name from `{CONNECTION}__fullyQualifiedNamespace`,
`{CONNECTION}__credential` and `{CONNECTION}__clientId`. Renaming the constant without the
settings (or the reverse) would leave the triggers without a connection in Azure.
"""

from collections.abc import Callable
from typing import Any

import pytest

from function_app.entrypoints.sb_worker import CONNECTION
from tests.infra import stacks

SUFFIXES = ("fullyQualifiedNamespace", "credential", "clientId")


def _accessor(value: Any) -> str:
    """pycep's nested property accessor as dotted text: serviceBus.outputs.x."""
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
        operands = value["operator"]["operands"]
        return f"{_accessor(operands['operand_1'])}.{_accessor(operands['operand_2'])}"
    assert isinstance(value, str), value
    return value


def _bicep_api_param(name: str) -> str:
    """What main.bicep passes to app/api.bicep for one of its parameters."""
    params = stacks.bicep_document("main.bicep")["modules"]["api"]["config"]["params"]
    return _accessor(params[name])


@pytest.mark.parametrize("stack", [stacks.bicep, stacks.terraform], ids=["bicep", "tf"])
def test_the_trigger_connection_is_identity_based(stack: Callable[[], stacks.Stack]) -> None:
    settings = stack().app_settings
    named = {name for name in settings if name.split("__")[0] == CONNECTION}
    assert named == {f"{CONNECTION}__{suffix}" for suffix in SUFFIXES}, sorted(named)
    assert settings[f"{CONNECTION}__credential"].value == "managedidentity"
    assert settings[f"{CONNECTION}__credential"].literal
    for suffix in ("fullyQualifiedNamespace", "clientId"):
        assert not settings[f"{CONNECTION}__{suffix}"].literal, suffix
    # The client id is the app's one user-assigned identity, as for host storage and the SDKs.
    client_id = settings[f"{CONNECTION}__clientId"].value
    assert client_id == settings["AZURE_CLIENT_ID"].value
    assert client_id == settings["AzureWebJobsStorage__clientId"].value


def test_bicep_wires_the_namespace_and_identity_into_the_connection() -> None:
    settings = stacks.bicep().app_settings
    namespace = settings[f"{CONNECTION}__fullyQualifiedNamespace"].value
    client_id = settings[f"{CONNECTION}__clientId"].value
    assert _bicep_api_param(namespace) == "serviceBus.outputs.fullyQualifiedNamespace"
    assert _bicep_api_param(client_id) == "identity.outputs.clientId"
    # The site runs as that identity.
    assert _bicep_api_param("identityId") == "identity.outputs.id"
    outputs = stacks.bicep_document("main.bicep")["outputs"]
    assert _accessor(outputs["SERVICEBUS_FULLY_QUALIFIED_NAMESPACE"]["value"]) == (
        "serviceBus.outputs.fullyQualifiedNamespace"
    )


def test_terraform_wires_the_namespace_and_identity_into_the_connection() -> None:
    settings = stacks.terraform().app_settings
    assert settings[f"{CONNECTION}__fullyQualifiedNamespace"].value == (
        "${azurerm_servicebus_namespace.main.name}.servicebus.windows.net"
    )
    assert settings[f"{CONNECTION}__clientId"].value == (
        "${azurerm_user_assigned_identity.api.client_id}"
    )
    site = stacks.terraform_resource("azapi_resource", "api")
    (identity,) = site["identity"]
    assert identity["identity_ids"] == ["${azurerm_user_assigned_identity.api.id}"]
