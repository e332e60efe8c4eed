# Version pins. azurerm >= 4.40 for azurerm_function_app_flex_consumption.http_concurrency;
# azapi for the jobs table, which azurerm can only create over the shared-key data plane.
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.40"
    }
    azapi = {
      source  = "Azure/azapi"
      version = "~> 2.5"
    }
  }
}
