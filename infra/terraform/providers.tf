provider "azurerm" {
  features {}
  # Shared-key access is disabled on every storage account: the provider must use Entra ID
  # for any storage data-plane call it makes.
  storage_use_azuread = true
}

provider "azapi" {}

data "azurerm_client_config" "current" {}

data "azurerm_resource_group" "main" {
  name = var.resource_group_name
}
