"""The azurerm provider is configured for this stack: storage through ARM only, Entra ID."""

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
