"""The azurerm provider is configured for this stack: storage through ARM only, Entra ID."""

import re
from typing import Any

from tests.infra import stacks

# azurerm resources that exist only on the storage data plane (no ARM path in azurerm 4.x).
DATA_PLANE_ONLY = {
    "azurerm_storage_blob",
    "azurerm_storage_queue",
    "azurerm_storage_share",
    "azurerm_storage_share_file",
    "azurerm_storage_share_directory",
    "azurerm_storage_table",
    "azurerm_storage_table_entity",
    "azurerm_storage_data_lake_gen2_filesystem",
    "azurerm_storage_data_lake_gen2_path",
}


def _provider(name: str) -> dict[str, Any]:
    for doc in stacks.terraform().documents:
        for block in doc.get("provider", []):
            if name in block:
                return dict(block[name])
    raise KeyError(name)


def _resources(rtype: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for doc in stacks.terraform().documents:
        for block in doc.get("resource", []):
            found.update(block.get(rtype, {}))
    return found


def test_storage_data_plane_is_off_and_entra_is_on() -> None:
    azurerm = _provider("azurerm")
    (features,) = azurerm["features"]
    (storage,) = features["storage"]
    assert storage["data_plane_available"] is False
    assert azurerm["storage_use_azuread"] is True


def test_no_storage_resource_needs_the_data_plane() -> None:
    used = stacks.terraform_resource_types()
    assert not used & DATA_PLANE_ONLY, sorted(used & DATA_PLANE_ONLY)
    accounts = _resources("azurerm_storage_account")
    assert set(accounts) == {"host", "data"}
    for name, account in accounts.items():
        # Rejected by the provider when data_plane_available = false.
        assert "queue_properties" not in account, name
        assert "static_website" not in account, name
    containers = _resources("azurerm_storage_container")
    assert containers
    for name, container in containers.items():
        # storage_account_id: the ARM API; storage_account_name would use the data plane.
        assert "storage_account_id" in container, name
        assert "storage_account_name" not in container, name


def _variable(name: str) -> dict[str, Any]:
    for doc in stacks.terraform().documents:
        for block in doc.get("variable", []):
            if name in block:
                return dict(block[name])
    raise KeyError(name)


def test_subscription_id_is_a_validated_optional_guid_both_providers_use() -> None:
    variable = _variable("subscription_id")
    assert variable["type"] == "string"
    assert variable["description"]
    # null falls back to ARM_SUBSCRIPTION_ID; nullable is not switched off.
    assert variable["default"] is None
    assert variable.get("nullable", True) is True
    (validation,) = variable["validation"]
    condition = validation["condition"]
    assert condition.startswith("${var.subscription_id == null ||"), condition
    match = re.search(r'regex\("([^"]+)", var\.subscription_id\)', condition)
    assert match, condition
    guid = re.compile(match.group(1))
    assert guid.fullmatch("0b1f6471-1bf0-4dda-aec3-cb9272f09590")
    assert guid.fullmatch("0B1F6471-1BF0-4DDA-AEC3-CB9272F09590")
    for wrong in ("", "my-subscription", "0b1f64711bf04ddaaec3cb9272f09590", "{0b1f6471-1bf0}"):
        assert not guid.fullmatch(wrong), wrong
    for provider in ("azurerm", "azapi"):
        assert _provider(provider)["subscription_id"] == "${var.subscription_id}", provider
