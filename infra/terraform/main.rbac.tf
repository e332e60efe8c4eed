# Role assignments for the app's user-assigned identity: built-in data roles, plus one custom
# role holding a single read action (below), each at the narrowest scope the code path that
# needs it allows (same set as app/rbac.bicep).
locals {
  # Built-in role definition ids (same in every tenant).
  role_ids = {
    storage_blob_data_owner        = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    storage_blob_data_contributor  = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    storage_blob_delegator         = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
    storage_table_data_contributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
    service_bus_data_sender        = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"
    service_bus_data_receiver      = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
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

# Service Bus: every assignment is on a queue, none on the namespace.

# JobQueue.send (POST /api/v1/jobs): send one message per job to its queue.
resource "azurerm_role_assignment" "queue_sender" {
  for_each = azurerm_servicebus_queue.jobs

  scope              = each.value.id
  role_definition_id = "${local.role_definition_prefix}${local.role_ids.service_bus_data_sender}"
  principal_id       = azurerm_user_assigned_identity.api.principal_id
  principal_type     = "ServicePrincipal"
}

# The Service Bus triggers in function_app/entrypoints/sb_worker.py, on each queue and its
# dead-letter sub-queue: receive, complete, abandon, dead-letter.
resource "azurerm_role_assignment" "queue_receiver" {
  for_each = azurerm_servicebus_queue.jobs

  scope              = each.value.id
  role_definition_id = "${local.role_definition_prefix}${local.role_ids.service_bus_data_receiver}"
  principal_id       = azurerm_user_assigned_identity.api.principal_id
  principal_type     = "ServicePrincipal"
}

# Queue runtime counts (active, dead-lettered, scheduled messages), read by:
# - QueueStats (function_app/adapters/queue_stats.py,
#   ServiceBusAdministrationClient.get_queue_runtime_properties): GET /api/v1/queues/{name}/stats
#   and the queue_stats events of job streams; without the right the route answers 503;
# - the Functions Service Bus extension's scale monitor (GetQueueRuntimePropertiesAsync), which
#   otherwise falls back to peek-based estimation and scales less accurately.
# MicrosoftDocs/azure-docs PR #128626 ("Scaling permissions"): identity-based connections need
# Azure Service Bus Data Owner or a custom role with Microsoft.ServiceBus/namespaces/*/read.
# Data Owner would add Microsoft.ServiceBus/* (update and delete the queue) and every data
# action, so this role holds only the one read action, no data actions, and is assigned on
# each queue. grant_queue_count_reader = false skips it where the deployer may not create role
# definitions (docs/deploy.md says what degrades). Same role as app/rbac.bicep.
resource "azurerm_role_definition" "queue_count_reader" {
  count = var.grant_queue_count_reader ? 1 : 0

  # A uuid of a stable seed (known at plan), so the definition keeps its id across applies.
  role_definition_id = uuidv5("url", "${data.azurerm_resource_group.main.id}/jobstream-servicebus-queue-count-reader/${azurerm_servicebus_namespace.main.name}")
  name               = "jobstream Service Bus queue reader (${var.environment_name}, ${azurerm_servicebus_namespace.main.name})"
  description        = "Read a Service Bus queue's description and runtime counts (jobstream: queue stats, Functions scale monitor). No data actions."
  scope              = data.azurerm_resource_group.main.id
  assignable_scopes  = [data.azurerm_resource_group.main.id]

  permissions {
    actions          = ["Microsoft.ServiceBus/namespaces/queues/read"]
    not_actions      = []
    data_actions     = []
    not_data_actions = []
  }
}

resource "azurerm_role_assignment" "queue_count_reader" {
  for_each = var.grant_queue_count_reader ? azurerm_servicebus_queue.jobs : {}

  scope              = each.value.id
  role_definition_id = azurerm_role_definition.queue_count_reader[0].role_definition_resource_id
  principal_id       = azurerm_user_assigned_identity.api.principal_id
  principal_type     = "ServicePrincipal"
}
