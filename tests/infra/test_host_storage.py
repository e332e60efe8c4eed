"""The Functions host reaches its storage with the identity only: no plain `AzureWebJobsStorage`.

A plain `AzureWebJobsStorage` setting (a connection string, even an empty one) takes precedence
over the `AzureWebJobsStorage__*` identity settings; with shared keys disabled the host then
cannot reach its storage. azurerm's function app resources write such a setting themselves
(hashicorp/terraform-provider-azurerm#29693, #29149, #30732), so the Terraform stack declares the
site with azapi and must not fall back to them.
"""

from tests.infra import stacks

IDENTITY_SETTINGS = {
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
}

# Settings that hold (or name) a key-based storage connection string.
KEY_BASED_SETTINGS = {
    "AzureWebJobsStorage",
    "DEPLOYMENT_STORAGE_CONNECTION_STRING",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
}

# azurerm resources that add their own AzureWebJobsStorage app setting to the site.
SETTING_INJECTING_RESOURCES = {
    "azurerm_function_app_flex_consumption",
    "azurerm_linux_function_app",
    "azurerm_windows_function_app",
    "azurerm_function_app",
    "azurerm_linux_function_app_slot",
    "azurerm_windows_function_app_slot",
}


def test_host_storage_is_identity_based_in_both_stacks() -> None:
    for stack in stacks.both():
        settings = stack.app_settings
        missing = IDENTITY_SETTINGS - set(settings)
        assert not missing, (stack.name, missing)
        assert settings["AzureWebJobsStorage__credential"].value == "managedidentity"
        assert not settings["AzureWebJobsStorage__clientId"].literal, stack.name
        leaked = {name for name in settings if name in KEY_BASED_SETTINGS}
        assert not leaked, f"{stack.name} sets {sorted(leaked)}"


def test_terraform_site_is_not_left_to_azurerms_function_app_resources() -> None:
    used = stacks.terraform_resource_types() & SETTING_INJECTING_RESOURCES
    assert not used, f"{sorted(used)} would add a key-based AzureWebJobsStorage setting"
    site = stacks.terraform_resource("azapi_resource", "api")
    assert site["type"].startswith("Microsoft.Web/sites@")
    # The app settings the site sends are exactly the local map: nothing is merged in.
    listed = site["body"]["properties"]["siteConfig"]["appSettings"]
    assert listed == "${" + stacks.TF_APP_SETTINGS_EXPRESSION + "}"
