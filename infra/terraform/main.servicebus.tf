# Service Bus namespace (Standard: duplicate detection needs it) with SAS auth disabled, and
# one queue per queue of function_app/queues.json (topology.tf), with the file's properties: the
# contract the worker relies on (the app reads its MaxDeliveryCount from the same file).
resource "azurerm_servicebus_namespace" "main" {
  name                          = "${local.abbrs.serviceBusNamespaces}${local.resource_token}"
  resource_group_name           = data.azurerm_resource_group.main.name
  location                      = local.location
  sku                           = "Standard"
  local_auth_enabled            = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  tags                          = local.tags
}

resource "azurerm_servicebus_queue" "jobs" {
  for_each = toset(local.queue_names)

  name                                    = each.value
  namespace_id                            = azurerm_servicebus_namespace.main.id
  lock_duration                           = local.queue_properties.LockDuration
  max_delivery_count                      = local.queue_properties.MaxDeliveryCount
  default_message_ttl                     = local.queue_properties.DefaultMessageTimeToLive
  dead_lettering_on_message_expiration    = local.queue_properties.DeadLetteringOnMessageExpiration
  requires_duplicate_detection            = local.queue_properties.RequiresDuplicateDetection
  duplicate_detection_history_time_window = local.queue_properties.DuplicateDetectionHistoryTimeWindow
  requires_session                        = local.queue_properties.RequiresSession
}
