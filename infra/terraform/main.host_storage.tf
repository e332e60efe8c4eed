# The Functions host's own storage (AzureWebJobsStorage: locks, keys, diagnostics) and the
# Flex Consumption deployment package container. Kept apart from the data account so the
# identity's Blob Data Owner role here says nothing about user uploads. No CORS: browsers
# never talk to this account.
resource "azurerm_storage_account" "host" {
  name                              = "${local.abbrs.storageStorageAccounts}h${local.resource_token}"
  resource_group_name               = data.azurerm_resource_group.main.name
  location                          = local.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = "LRS"
  access_tier                       = "Hot"
  allow_nested_items_to_be_public   = false
  cross_tenant_replication_enabled  = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  min_tls_version                   = "TLS1_2"
  public_network_access_enabled     = true
  https_traffic_only_enabled        = true
  infrastructure_encryption_enabled = true
  tags                              = local.tags

  network_rules {
    default_action = "Allow"
    bypass         = ["AzureServices"]
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }
}

resource "azurerm_storage_container" "deployment" {
  name                  = local.deployment_container_name
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}
