# Service Bus namespace (Standard: duplicate detection needs it) with SAS auth disabled, and
# one queue per job family. The queue properties are the contract the worker relies on:
# max_delivery_count must equal the app's SERVICEBUS_MAX_DELIVERY_COUNT (tests/infra check it).
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
  lock_duration                           = "PT1M"
  max_delivery_count                      = 5
  default_message_ttl                     = "P1D"
  dead_lettering_on_message_expiration    = true
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = "PT10M"
  requires_session                        = false
}
