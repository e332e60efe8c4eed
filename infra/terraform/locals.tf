locals {
  # Same abbreviations as the Bicep stack: one file, two readers.
  abbrs    = jsondecode(file("${path.module}/../bicep/abbreviations.json"))
  location = coalesce(var.location, data.azurerm_resource_group.main.location)
  # Bicep uses uniqueString(); Terraform has none, so a stable hash of the same inputs.
  resource_token = substr(sha1(join("|", [data.azurerm_client_config.current.subscription_id, data.azurerm_resource_group.main.id, var.environment_name, local.location])), 0, 13)
  tags           = merge(var.tags, { "azd-env-name" = var.environment_name })

  jwt_issuer = coalesce(var.jwt_issuer, "https://login.microsoftonline.com/${data.azurerm_client_config.current.tenant_id}/v2.0")

  # Names the code and both stacks agree on (function_app/settings.py). The queues are
  # function_app/queues.json's (topology.tf).
  uploads_container_name    = "uploads"
  jobs_table_name           = "jobs"
  deployment_container_name = "app-package"
}
