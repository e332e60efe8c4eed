provider "azurerm" {
  features {
    storage {
      # Every storage resource here goes through ARM: accounts (blob_properties is the ARM
      # blobServices resource), containers (created by storage_account_id), the lifecycle
      # policy, and the jobs table (azapi). Without this, azurerm 4.x also reads each
      # account's queue and static-website properties over the storage data plane at
      # plan/apply: with shared keys off that is an Entra call the deployer may not be
      # authorised for (403), and it needs a network path to the accounts. Consequence:
      # queue_properties and static_website cannot be set; neither is used
      # (tests/infra/test_terraform_provider.py).
      data_plane_available = false
    }
  }
  # Shared-key access is disabled on every storage account: should a storage data-plane call
  # ever be made, it must use Entra ID.
  storage_use_azuread = true

  # azurerm 4.x requires a subscription: this variable, or (null) ARM_SUBSCRIPTION_ID.
  subscription_id = var.subscription_id
}

# The same subscription for azapi (null: ARM_SUBSCRIPTION_ID).
provider "azapi" {
  subscription_id = var.subscription_id
}

data "azurerm_client_config" "current" {}

data "azurerm_resource_group" "main" {
  name = var.resource_group_name
}
