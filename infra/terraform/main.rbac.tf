# Role assignments for the app's user-assigned identity: built-in data roles only, each at
# the narrowest scope the code path that needs it allows (same set as app/rbac.bicep).
locals {
  # Built-in role definition ids (same in every tenant).
  role_ids = {
    storage_blob_data_owner        = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    storage_blob_data_contributor  = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    storage_blob_delegator         = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
    storage_table_data_contributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
    service_bus_data_owner         = "090c5cfd-751d-490a-894a-3ce6f1109419"
    monitoring_metrics_publisher   = "3913510d-42f4-4e42-8a64-420c390055eb"
  }
  role_definition_prefix = "/subscriptions/${data.azurerm_client_config.current.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"

  role_assignments = {
    # Functions host (AzureWebJobsStorage__blobServiceUri): host locks, keys and the Flex
    # Consumption deployment package container; the host creates its own containers, so the
    # role is at the host account, which holds nothing but host state.
    host_blob_owner = {
      scope = azurerm_storage_account.host.id
      role  = local.role_ids.storage_blob_data_owner
    }
    # Functions host (AzureWebJobsStorage__tableServiceUri): the host's diagnostic-events table.
    host_table_contributor = {
      scope = azurerm_storage_account.host.id
      role  = local.role_ids.storage_table_data_contributor
    }
    # UploadSigner: a user delegation SAS only grants what its signer may do, so create/write
    # SAS URLs need write here; the enqueue check (blob exists, size, type) and the worker's
    # streaming read need read. Scoped to the uploads container only.
    uploads_blob_contributor = {
      scope = azurerm_storage_container.uploads.id
      role  = local.role_ids.storage_blob_data_contributor
    }
    # UploadSigner: get_user_delegation_key is an account-level action (Storage Blob Delegator
    # is the built-in role that holds only it); the data role above bounds what the SAS can do.
    data_blob_delegator = {
      scope = azurerm_storage_account.data.id
      role  = local.role_ids.storage_blob_delegator
    }
    # EventLog / job records and the stream-token key row: read, insert, update in the jobs table.
    jobs_table_contributor = {
      scope = azapi_resource.jobs_table.id
      role  = local.role_ids.storage_table_data_contributor
    }
    # APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Entra-authenticated telemetry ingestion.
    telemetry_publisher = {
      scope = azurerm_application_insights.main.id
      role  = local.role_ids.monitoring_metrics_publisher
    }
  }
}

resource "azurerm_role_assignment" "app" {
  for_each = local.role_assignments

  scope              = each.value.scope
  role_definition_id = "${local.role_definition_prefix}${each.value.role}"
  principal_id       = azurerm_user_assigned_identity.api.principal_id
  principal_type     = "ServicePrincipal"
}

# Service Bus, one assignment per queue (never the namespace). Azure Service Bus Data Owner
# is the only built-in data role holding Manage, and three code paths need, between them,
# Send, Listen and Manage on each queue:
# - JobQueue.send (POST /api/v1/jobs): send (Send);
# - the Service Bus triggers in function_app/entrypoints/sb_worker.py, on each queue and its
#   dead-letter sub-queue: receive, complete, abandon, dead-letter (Listen);
# - reading the queue's runtime counts, which Service Bus serves only to Manage: the Functions
#   scale controller's target-based scaling (queue length / per-instance target; without
#   Manage it cannot read the length and scales less accurately) and QueueStats
#   (ServiceBusAdministrationClient.get_queue_runtime_properties): without it
#   /api/v1/queues/{name}/stats answers 503 and job streams send no queue snapshots.
# Data Owner covers all three, so Sender and Receiver would only repeat it. Its extra power
# is management of these queues alone. docs/deploy.md gives the sources and the
# Sender + Receiver alternative. Same assignments as app/rbac.bicep.
resource "azurerm_role_assignment" "queue_data_owner" {
  for_each = azurerm_servicebus_queue.jobs

  scope              = each.value.id
  role_definition_id = "${local.role_definition_prefix}${local.role_ids.service_bus_data_owner}"
  principal_id       = azurerm_user_assigned_identity.api.principal_id
  principal_type     = "ServicePrincipal"
}
