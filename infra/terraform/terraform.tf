# Version pins. azapi for the function app (main.api.tf: azurerm's flex consumption resource
# writes a key-based AzureWebJobsStorage) and the jobs table (azurerm can only create it over
# the shared-key data plane); azapi 2.x takes `body` as an HCL object and exposes `output`.
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
