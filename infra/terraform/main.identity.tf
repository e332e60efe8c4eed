# The one user-assigned identity the function app uses for everything: host storage,
# deployment package, uploads, jobs table, Service Bus and Application Insights ingestion.
resource "azurerm_user_assigned_identity" "api" {
  name                = "${local.abbrs.managedIdentityUserAssignedIdentities}api-${local.resource_token}"
  resource_group_name = data.azurerm_resource_group.main.name
  location            = local.location
  tags                = local.tags
}
