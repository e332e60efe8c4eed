# Flex Consumption plan + the function app. Every connection is identity-based (the one
# user-assigned identity); no app setting holds a key or a connection string with a secret.
resource "azurerm_service_plan" "main" {
  name                = "${local.abbrs.webServerFarms}${local.resource_token}"
  resource_group_name = data.azurerm_resource_group.main.name
  location            = local.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

# App settings: the names function_app/settings.py reads (tests/infra check both stacks set
# every one, and nothing else). FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION are
# not set: Flex Consumption takes the runtime from functionAppConfig.runtime.
#
# There is deliberately no plain `AzureWebJobsStorage`: the host would take that connection
# string over the AzureWebJobsStorage__* identity settings below, and with shared keys off
# the host could not start (tests/infra/test_host_storage.py).
locals {
  app_settings = {
    PYTHON_SCRIPT_FILE_NAME = "main.py"

    # Functions host storage, identity-based.
    AzureWebJobsStorage__blobServiceUri  = azurerm_storage_account.host.primary_blob_endpoint
    AzureWebJobsStorage__queueServiceUri = azurerm_storage_account.host.primary_queue_endpoint
    AzureWebJobsStorage__tableServiceUri = azurerm_storage_account.host.primary_table_endpoint
    AzureWebJobsStorage__credential      = "managedidentity"
    AzureWebJobsStorage__clientId        = azurerm_user_assigned_identity.api.client_id

    # Telemetry, Entra-authenticated ingestion. The connection string holds the ingestion
    # endpoint and instrumentation key only; with local auth disabled the key alone cannot
    # send telemetry, so it is not a secret.
    APPLICATIONINSIGHTS_CONNECTION_STRING     = azurerm_application_insights.main.connection_string
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD;ClientId=${azurerm_user_assigned_identity.api.client_id}"
    # As OpenTelemetry (docs/tracing.md): with host.json `telemetryMode: OpenTelemetry`, the
    # Python worker sets up Azure Monitor itself and continues the host's trace into the
    # app's spans. TRACE_EXPORT is the local span export: none in Azure.
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY = "true"
    TRACE_EXPORT                                = "none"

    # The identity DefaultAzureCredential picks for the app's own SDK clients.
    AZURE_CLIENT_ID = azurerm_user_assigned_identity.api.client_id

    # Identity (see docs/deploy.md): jwt validates Entra ID tokens from JWT_ISSUER.
    AUTH_MODE              = var.auth_mode
    JWT_ISSUER             = local.jwt_issuer
    JWT_AUDIENCE           = var.jwt_audience
    JWT_REQUIRED_ROLES     = join(",", var.jwt_required_roles)
    JWT_REQUIRED_SCOPES    = join(",", var.jwt_required_scopes)
    JWT_ALLOWED_CLIENT_IDS = join(",", var.jwt_allowed_client_ids)

    # Uploads + event log.
    STORAGE_BLOB_ENDPOINT  = azurerm_storage_account.data.primary_blob_endpoint
    STORAGE_TABLE_ENDPOINT = azurerm_storage_account.data.primary_table_endpoint
    UPLOADS_CONTAINER      = azurerm_storage_container.uploads.name
    JOBS_TABLE             = azapi_resource.jobs_table.name
    MAX_UPLOAD_BYTES       = tostring(var.max_upload_bytes)
    ALLOWED_CONTENT_TYPES  = "application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document,text/plain,text/markdown"
    UPLOAD_URL_TTL_SECONDS = "600"

    # Service Bus trigger + sender, identity-based connection "ServiceBusConnection".
    ServiceBusConnection__fullyQualifiedNamespace = "${azurerm_servicebus_namespace.main.name}.servicebus.windows.net"
    ServiceBusConnection__credential              = "managedidentity"
    ServiceBusConnection__clientId                = azurerm_user_assigned_identity.api.client_id
    # The queue-name settings are local.queue_settings (topology.tf),
    # merged in below; SERVICEBUS_MAX_DELIVERY_COUNT is not set: the app reads it from
    # function_app/queues.json, as the queues are created from it.

    # Streams rotate before Azure's 230 s front-end limit; EventSource resumes by itself.
    STREAM_MAX_AGE_SECONDS     = "200"
    STREAM_HEARTBEAT_SECONDS   = "15"
    STREAM_RETRY_MS            = "2000"
    STREAM_TOKEN_TTL_SECONDS   = "600"
    STREAM_TOKEN_GRACE_SECONDS = "60"
    # The long-poll route's wait for a new event (clients behind buffering proxies).
    LONG_POLL_WAIT_SECONDS = "25"
    # A watched job's poll interval while it moves (docs/scaling.md: latency against reads).
    STREAM_POLL_SECONDS = "0.1"

    # Per-caller limits (docs/limits.md): streams and rates per instance, running jobs across.
    LIMIT_STREAMS_PER_CALLER      = "100"
    LIMIT_ENQUEUES_PER_MINUTE     = "120"
    LIMIT_PRESIGNS_PER_MINUTE     = "240"
    LIMIT_RUNNING_JOBS_PER_CALLER = "50"

    # The queue catalogue (GET /api/v1/queue/events): worker heartbeats, stats, backlog alert.
    WORKER_HEARTBEAT_SECONDS = "15"
    WORKER_OFFLINE_SECONDS   = "60"
    QUEUE_STATS_SECONDS      = "10"
    BACKLOG_ALERT_THRESHOLD  = "15"

    # A failed delivery waits 2 s x 2^(delivery - 1) before it is abandoned.
    WORKER_RETRY_DELAY_SECONDS = "2"

    # Bounded work per job: a run's time limit; the memory an extraction's child may add.
    JOB_TIME_LIMIT_SECONDS     = "180"
    EXTRACTION_MEMORY_LIMIT_MB = "256"

    # The sweeper (a timer function): resend unsent jobs, end jobs no worker reports on.
    SWEEP_SCHEDULE            = "0 * * * * *"
    SWEEP_RESEND_SECONDS      = "60"
    WORKER_LOST_SECONDS       = "900"
    SWEEP_QUEUED_LOST_SECONDS = "93600"

    # The upload sweeper (a timer function): deletes append/page blobs, snapshots, and
    # uploads no job claimed within a day (docs/storage.md).
    UPLOAD_SWEEP_SCHEDULE     = "0 */10 * * * *"
    UNUSED_UPLOAD_TTL_SECONDS = "86400"
  }
}

# The site is an azapi_resource (the same ARM body as app/api.bicep), not
# azurerm_function_app_flex_consumption. With storage_authentication_type set to an identity,
# azurerm 4.x still writes its own `AzureWebJobsStorage` app setting, a connection string
# built with an empty account key, and re-adds it on every update; that plain setting wins
# over AzureWebJobsStorage__* and the host fails to reach its storage with shared keys off:
#   https://github.com/hashicorp/terraform-provider-azurerm/issues/29693
#   https://github.com/hashicorp/terraform-provider-azurerm/issues/29149
#   https://github.com/hashicorp/terraform-provider-azurerm/issues/30732
#   https://github.com/Azure/azure-functions-host/issues/11796
# Workarounds on top of the azurerm resource (an empty `AzureWebJobsStorage`, or an
# azapi_update_resource rewriting config/appsettings) leave a setting the host still reads,
# or never converge (the provider strips the setting on read and re-injects it on update,
# #33211). Writing the site through ARM directly, as Azure's own Terraform module for web
# sites does since v0.21.0, sends exactly the settings below. Revisit when
# hashicorp/terraform-provider-azurerm#29099 (flex consumption backend storage) ships.
resource "azapi_resource" "api" {
  type      = "Microsoft.Web/sites@2024-04-01"
  name      = "${local.abbrs.webSitesFunctions}api-${local.resource_token}"
  parent_id = data.azurerm_resource_group.main.id
  location  = local.location
  # azd finds the app to deploy by this tag (azure.yaml service "api").
  tags = merge(local.tags, { "azd-service-name" = "api" })

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.api.id]
  }

  body = {
    kind = "functionapp,linux"
    properties = {
      serverFarmId = azurerm_service_plan.main.id
      httpsOnly    = true
      siteConfig = {
        minTlsVersion = "1.2"
        ftpsState     = "Disabled"
        http20Enabled = true
        appSettings   = [for name, value in merge(local.app_settings, local.queue_settings) : { name = name, value = value }]
        # The API is called cross-origin when the page is hosted elsewhere.
        cors = {
          allowedOrigins     = var.allowed_origins
          supportCredentials = false
        }
      }
      functionAppConfig = {
        deployment = {
          storage = {
            type  = "blobContainer"
            value = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
            authentication = {
              type                           = "UserAssignedIdentity"
              userAssignedIdentityResourceId = azurerm_user_assigned_identity.api.id
            }
          }
        }
        scaleAndConcurrency = {
          maximumInstanceCount = var.maximum_instance_count
          instanceMemoryMB     = var.instance_memory_mb
          triggers = {
            http = {
              # Python defaults to 1: each open SSE stream would hold a whole instance.
              perInstanceConcurrency = var.http_per_instance_concurrency
            }
          }
        }
        runtime = {
          name    = "python"
          version = "3.13"
        }
      }
    }
  }

  response_export_values = ["properties.defaultHostName"]

  # The app must not start before it may read its package and host storage.
  depends_on = [
    azurerm_role_assignment.app,
    azurerm_role_assignment.queue_sender,
    azurerm_role_assignment.queue_receiver,
    azurerm_role_assignment.queue_count_reader,
  ]
}

# No publishing with basic credentials: deployments authenticate with Entra ID.
resource "azapi_resource" "ftp_basic_auth" {
  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = "ftp"
  parent_id = azapi_resource.api.id
  body = {
    properties = {
      allow = false
    }
  }
}

resource "azapi_resource" "scm_basic_auth" {
  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = "scm"
  parent_id = azapi_resource.api.id
  body = {
    properties = {
      allow = false
    }
  }
}
