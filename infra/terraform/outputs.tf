# Same UPPER_SNAKE names as infra/bicep/main.bicep (azd reads them for either provider).
output "AZURE_LOCATION" {
  description = "Region the resources are in."
  value       = local.location
}

output "AZURE_TENANT_ID" {
  description = "Tenant of the subscription."
  value       = data.azurerm_client_config.current.tenant_id
}

output "AZURE_FUNCTION_APP_NAME" {
  description = "Name of the function app (code deployment target)."
  value       = azapi_resource.api.name
}

output "API_BASE_URL" {
  description = "Base URL of the API; the demo page's API base."
  value       = "https://${azapi_resource.api.output.properties.defaultHostName}/api/v1"
}

output "AZURE_CLIENT_ID" {
  description = "Client id of the app's user-assigned identity."
  value       = azurerm_user_assigned_identity.api.client_id
}

output "STORAGE_BLOB_ENDPOINT" {
  description = "Blob endpoint of the data account (uploads)."
  value       = azurerm_storage_account.data.primary_blob_endpoint
}

output "STORAGE_TABLE_ENDPOINT" {
  description = "Table endpoint of the data account (jobs table)."
  value       = azurerm_storage_account.data.primary_table_endpoint
}

output "SERVICEBUS_FULLY_QUALIFIED_NAMESPACE" {
  description = "Service Bus namespace host name."
  value       = "${azurerm_servicebus_namespace.main.name}.servicebus.windows.net"
}
