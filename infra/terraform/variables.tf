variable "subscription_id" {
  type        = string
  description = "Subscription to deploy into (a GUID). null: the ARM_SUBSCRIPTION_ID environment variable, which azurerm 4.x then requires (it no longer falls back to the Azure CLI's default subscription)."
  default     = null
  validation {
    condition     = var.subscription_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), or null to use ARM_SUBSCRIPTION_ID."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Existing resource group to deploy into (the Bicep stack deploys into one too)."
  validation {
    condition     = length(var.resource_group_name) > 0 && length(var.resource_group_name) <= 90
    error_message = "resource_group_name must be 1-90 characters."
  }
}

variable "environment_name" {
  type        = string
  description = "Environment name; feeds the unique resource-name token."
  validation {
    condition     = length(var.environment_name) >= 1 && length(var.environment_name) <= 64
    error_message = "environment_name must be 1-64 characters."
  }
}

variable "location" {
  type        = string
  description = "Region for every resource; null means the resource group's region."
  default     = null
}

variable "allowed_origins" {
  type        = list(string)
  description = "Browser origins allowed to call the API and PUT uploads (https://..., or http://localhost:<port> for a local page). Empty: no cross-origin access."
  default     = []
  validation {
    condition     = alltrue([for o in var.allowed_origins : can(regex("^(https://[^/*]+|http://(localhost|127\\.0\\.0\\.1)(:[0-9]+)?)$", o))])
    error_message = "Each origin must be https://host[:port] (no path, no wildcard) or http://localhost[:port]."
  }
}

variable "auth_mode" {
  type        = string
  description = "AUTH_MODE: \"jwt\" (default) requires an Entra ID bearer token; \"none\" makes EVERY caller the same anonymous owner: anyone who finds the URL can upload and run jobs. Use \"none\" only for a throwaway demo."
  default     = "jwt"
  validation {
    condition     = contains(["jwt", "none"], var.auth_mode)
    error_message = "auth_mode must be \"jwt\" or \"none\"."
  }
}

variable "jwt_issuer" {
  type        = string
  description = "JWT_ISSUER: the OIDC issuer whose tokens are accepted (JWKS discovered from it). null means this tenant's Entra ID v2 issuer."
  default     = null
  validation {
    condition     = var.jwt_issuer == null || can(regex("^https://", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  type        = string
  description = "JWT_AUDIENCE: the API's app registration (Application ID URI or client id). Required when auth_mode is \"jwt\"."
  default     = ""
  validation {
    condition     = var.auth_mode == "none" || length(var.jwt_audience) > 0
    error_message = "jwt_audience is required when auth_mode is \"jwt\"."
  }
}

variable "jwt_required_roles" {
  type        = list(string)
  description = "JWT_REQUIRED_ROLES: app roles of which a token must carry one (its roles claim) unless it carries one of jwt_required_scopes. Empty: no role or scope is required."
  default     = []
}

variable "jwt_required_scopes" {
  type        = list(string)
  description = "JWT_REQUIRED_SCOPES: delegated scopes of which a token must carry one (its scp claim) unless it carries one of jwt_required_roles."
  default     = []
}

variable "jwt_allowed_client_ids" {
  type        = list(string)
  description = "JWT_ALLOWED_CLIENT_IDS: the client applications (azp or appid claim) whose tokens are accepted. Empty: any application in the tenant that gets a token for jwt_audience."
  default     = []
}

variable "maximum_instance_count" {
  type        = number
  description = "Flex Consumption maximum instance count."
  default     = 100
  validation {
    condition     = var.maximum_instance_count >= 40 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count must be 40-1000."
  }
}

variable "instance_memory_mb" {
  type        = number
  description = "Flex Consumption instance memory (MB)."
  default     = 2048
  validation {
    condition     = contains([512, 2048, 4096], var.instance_memory_mb)
    error_message = "instance_memory_mb must be 512, 2048 or 4096."
  }
}

variable "http_per_instance_concurrency" {
  type        = number
  description = "HTTP requests one instance serves at once. Python defaults to 1, which would give every open SSE stream a whole instance."
  default     = 100
  validation {
    condition     = var.http_per_instance_concurrency >= 2 && var.http_per_instance_concurrency <= 1000
    error_message = "http_per_instance_concurrency must be 2-1000."
  }
}

variable "upload_retention_days" {
  type        = number
  description = "Days after which uploaded files are deleted by a lifecycle rule."
  default     = 7
  validation {
    condition     = var.upload_retention_days >= 1 && var.upload_retention_days <= 365
    error_message = "upload_retention_days must be 1-365."
  }
}

variable "max_upload_bytes" {
  type        = number
  description = "MAX_UPLOAD_BYTES: largest upload the API signs a URL for."
  default     = 20971520
  validation {
    condition     = var.max_upload_bytes >= 1 && var.max_upload_bytes <= 5368709120
    error_message = "max_upload_bytes must be 1 byte to 5 GiB."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "grant_queue_count_reader" {
  type        = bool
  description = "Create a custom role holding only Microsoft.ServiceBus/namespaces/queues/read and assign it on each queue, so the app can read queue runtime counts (GET /api/v1/queues/{name}/stats, queue_stats stream events, the Service Bus scale monitor). Needs Microsoft.Authorization/roleDefinitions/write (Owner or User Access Administrator); false skips it: jobs still run, the stats route answers 503 and scaling falls back to peeking."
  default     = true
}
