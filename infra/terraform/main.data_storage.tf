# The app's data: the uploads container browsers PUT into with a user delegation SAS, and the
# jobs table (job records + event log). Shared-key access is off, so every SAS must be a user
# delegation SAS and every call uses Entra ID.
resource "azurerm_storage_account" "data" {
  name                              = "${local.abbrs.storageStorageAccounts}d${local.resource_token}"
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
    # Browser uploads: a single PUT (x-ms-blob-type: BlockBlob) or Put Block / Put Block
    # List, plus the preflight OPTIONS. No GET: the SAS grants create/write only.
    dynamic "cors_rule" {
      for_each = length(var.allowed_origins) > 0 ? [1] : []
      content {
        allowed_origins    = var.allowed_origins
        allowed_methods    = ["PUT", "OPTIONS"]
        allowed_headers    = ["Content-Type", "Content-Length", "x-ms-blob-type", "x-ms-*"]
        exposed_headers    = ["ETag", "x-ms-request-id", "x-ms-*"]
        max_age_in_seconds = 3600
      }
    }
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }
}

resource "azurerm_storage_container" "uploads" {
  name                  = local.uploads_container_name
  storage_account_id    = azurerm_storage_account.data.id
  container_access_type = "private"
}

# azurerm_storage_table talks to the table data plane with the account key (disabled here);
# the ARM resource needs no key.
resource "azapi_resource" "jobs_table" {
  type      = "Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01"
  name      = local.jobs_table_name
  parent_id = "${azurerm_storage_account.data.id}/tableServices/default"
  body      = {}
}

# What the upload URL (create + write on one blob name) can leave behind: a block blob (the
# upload), an append blob, and snapshots of either (Create and Write both allow Snapshot
# Blob, so no SAS permission prevents them). Lifecycle rules take block and append blobs,
# snapshots and versions (versioning is off: none are made, the action is a safeguard), but
# not page blobs: the app's upload sweeper (UPLOAD_SWEEP_SCHEDULE) deletes those, refused and
# unused uploads (docs/storage.md).
resource "azurerm_storage_management_policy" "data" {
  storage_account_id = azurerm_storage_account.data.id

  rule {
    name    = "delete-old-uploads"
    enabled = true
    filters {
      blob_types   = ["blockBlob", "appendBlob"]
      prefix_match = ["${local.uploads_container_name}/"]
    }
    actions {
      base_blob {
        delete_after_days_since_creation_greater_than = var.upload_retention_days
      }
      snapshot {
        delete_after_days_since_creation_greater_than = 1
      }
      version {
        delete_after_days_since_creation = 1
      }
    }
  }
}
