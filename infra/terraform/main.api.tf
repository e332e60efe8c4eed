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

resource "azurerm_function_app_flex_consumption" "api" {
  name                = "${local.abbrs.webSitesFunctions}api-${local.resource_token}"
  resource_group_name = data.azurerm_resource_group.main.name
  location            = local.location
  service_plan_id     = azurerm_service_plan.main.id
  # azd finds the app to deploy by this tag (azure.yaml service "api").
  tags = merge(local.tags, { "azd-service-name" = "api" })

  runtime_name    = "python"
  runtime_version = "3.13"

  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.api.id

  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_mb
  # Python defaults to 1: each open SSE stream would hold a whole instance.
  http_concurrency = var.http_per_instance_concurrency

  https_only                    = true
  public_network_access_enabled = true
  # No publishing with basic credentials: deployments authenticate with Entra ID.
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.api.id]
  }

  site_config {
    minimum_tls_version = "1.2"
    http2_enabled       = true
    # The provider writes this to the APPLICATIONINSIGHTS_CONNECTION_STRING app setting. It
    # holds the ingestion endpoint and instrumentation key only; with local auth disabled the
    # key alone cannot send telemetry, so it is not a secret.
    application_insights_connection_string = azurerm_application_insights.main.connection_string

    # The API is called cross-origin when the page is hosted elsewhere.
    cors {
      allowed_origins     = var.allowed_origins
      support_credentials = false
    }
  }

  # App settings: the names function_app/settings.py reads (tests/infra check both stacks set
  # every one). FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION are not set: Flex
  # Consumption takes the runtime from runtime_name / runtime_version.
  app_settings = {
    PYTHON_SCRIPT_FILE_NAME = "main.py"

    # Functions host storage, identity-based.
    AzureWebJobsStorage__blobServiceUri  = azurerm_storage_account.host.primary_blob_endpoint
    AzureWebJobsStorage__queueServiceUri = azurerm_storage_account.host.primary_queue_endpoint
    AzureWebJobsStorage__tableServiceUri = azurerm_storage_account.host.primary_table_endpoint
    AzureWebJobsStorage__credential      = "managedidentity"
    AzureWebJobsStorage__clientId        = azurerm_user_assigned_identity.api.client_id

    # Telemetry, Entra-authenticated ingestion.
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD;ClientId=${azurerm_user_assigned_identity.api.client_id}"

    # The identity DefaultAzureCredential picks for the app's own SDK clients.
    AZURE_CLIENT_ID = azurerm_user_assigned_identity.api.client_id

    # Identity (see docs/deploy.md): jwt validates Entra ID tokens from JWT_ISSUER.
    AUTH_MODE    = var.auth_mode
    JWT_ISSUER   = local.jwt_issuer
    JWT_AUDIENCE = var.jwt_audience

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
    # Must equal the queues' max_delivery_count (main.servicebus.tf).
    SERVICEBUS_MAX_DELIVERY_COUNT = "5"

    # Streams rotate before Azure's 230 s front-end limit; EventSource resumes by itself.
    STREAM_MAX_AGE_SECONDS   = "200"
    STREAM_HEARTBEAT_SECONDS = "15"
    STREAM_RETRY_MS          = "2000"
    STREAM_TOKEN_TTL_SECONDS = "3600"
  }

  # The app must not start before it may read its package and host storage.
  depends_on = [
    azurerm_role_assignment.app,
    azurerm_role_assignment.queue_sender,
    azurerm_role_assignment.queue_receiver,
  ]
}
