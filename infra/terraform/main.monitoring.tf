# Log Analytics + workspace-based Application Insights. Local (instrumentation-key) auth is
# disabled: telemetry is accepted only from Entra-authenticated senders, i.e. the app's
# identity holding Monitoring Metrics Publisher (main.rbac.tf).
resource "azurerm_log_analytics_workspace" "main" {
  name                = "${local.abbrs.operationalInsightsWorkspaces}${local.resource_token}"
  resource_group_name = data.azurerm_resource_group.main.name
  location            = local.location
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = local.tags
}

resource "azurerm_application_insights" "main" {
  name                          = "${local.abbrs.insightsComponents}${local.resource_token}"
  resource_group_name           = data.azurerm_resource_group.main.name
  location                      = local.location
  workspace_id                  = azurerm_log_analytics_workspace.main.id
  application_type              = "web"
  local_authentication_disabled = true
  tags                          = local.tags
}
