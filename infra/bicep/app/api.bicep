// Flex Consumption plan + the function app. Every connection is identity-based (the one
// user-assigned identity); no app setting holds a key or a connection string with a secret.

param planName string
param name string
param location string
param tags object

param identityId string
param identityClientId string

param hostBlobEndpoint string
param hostQueueEndpoint string
param hostTableEndpoint string
param deploymentContainerUrl string

param dataBlobEndpoint string
param dataTableEndpoint string
param uploadsContainerName string
param jobsTableName string

param serviceBusFullyQualifiedNamespace string
param applicationInsightsConnectionString string

param allowedOrigins array
param authMode string
param jwtIssuer string
param jwtAudience string
param jwtRequiredRoles array
param jwtRequiredScopes array
param jwtAllowedClientIds array

param maximumInstanceCount int
param instanceMemoryMB int
param httpPerInstanceConcurrency int
param maxUploadBytes int

@description('The queues of function_app/queues.json: each one\'s app setting names it, as the triggers bind %SETTING%.')
param queues array

// Each queue's app setting names it (function_app/queues.json): the triggers bind
// `%SETTING%`, so the host needs them. Appended to the settings below.
var queueSettings = [for queue in queues: { name: queue.setting, value: queue.name }]

// App settings: the names function_app/settings.py reads (tests/infra check both stacks set
// every one). FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION are not set: Flex
// Consumption takes the runtime from functionAppConfig.
var appSettings = [
  { name: 'PYTHON_SCRIPT_FILE_NAME', value: 'main.py' }

  // Functions host storage, identity-based.
  { name: 'AzureWebJobsStorage__blobServiceUri', value: hostBlobEndpoint }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: hostQueueEndpoint }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: hostTableEndpoint }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }

  // Telemetry, Entra-authenticated ingestion, as OpenTelemetry (docs/tracing.md): with
  // host.json `telemetryMode: OpenTelemetry`, the Python worker sets up Azure Monitor itself
  // (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY) and continues the host's trace into the
  // app's spans. TRACE_EXPORT is the local span export: none in Azure.
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD;ClientId=${identityClientId}' }
  { name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY', value: 'true' }
  { name: 'TRACE_EXPORT', value: 'none' }

  // The identity DefaultAzureCredential picks for the app's own SDK clients.
  { name: 'AZURE_CLIENT_ID', value: identityClientId }

  // Identity (see docs/deploy.md): jwt validates Entra ID tokens from JWT_ISSUER.
  { name: 'AUTH_MODE', value: authMode }
  { name: 'JWT_ISSUER', value: jwtIssuer }
  { name: 'JWT_AUDIENCE', value: jwtAudience }
  { name: 'JWT_REQUIRED_ROLES', value: join(jwtRequiredRoles, ',') }
  { name: 'JWT_REQUIRED_SCOPES', value: join(jwtRequiredScopes, ',') }
  { name: 'JWT_ALLOWED_CLIENT_IDS', value: join(jwtAllowedClientIds, ',') }

  // Uploads + event log.
  { name: 'STORAGE_BLOB_ENDPOINT', value: dataBlobEndpoint }
  { name: 'STORAGE_TABLE_ENDPOINT', value: dataTableEndpoint }
  { name: 'UPLOADS_CONTAINER', value: uploadsContainerName }
  { name: 'JOBS_TABLE', value: jobsTableName }
  { name: 'MAX_UPLOAD_BYTES', value: string(maxUploadBytes) }
  { name: 'ALLOWED_CONTENT_TYPES', value: 'application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document,text/plain,text/markdown' }
  { name: 'UPLOAD_URL_TTL_SECONDS', value: '600' }

  // Service Bus trigger + sender, identity-based connection "ServiceBusConnection".
  { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: serviceBusFullyQualifiedNamespace }
  { name: 'ServiceBusConnection__credential', value: 'managedidentity' }
  { name: 'ServiceBusConnection__clientId', value: identityClientId }
  // SERVICEBUS_MAX_DELIVERY_COUNT is not set: the app reads it from function_app/queues.json,
  // as the queues are created from it.

  // Streams rotate before Azure's 230 s front-end limit; EventSource resumes by itself.
  { name: 'STREAM_MAX_AGE_SECONDS', value: '200' }
  { name: 'STREAM_HEARTBEAT_SECONDS', value: '15' }
  { name: 'STREAM_RETRY_MS', value: '2000' }
  { name: 'LONG_POLL_WAIT_SECONDS', value: '25' }
  // A watched job's poll interval while it moves (docs/scaling.md: latency against reads).
  { name: 'STREAM_POLL_SECONDS', value: '0.1' }
  { name: 'STREAM_TOKEN_TTL_SECONDS', value: '600' }
  { name: 'STREAM_TOKEN_GRACE_SECONDS', value: '60' }

  // Per-caller limits (docs/limits.md): streams and rates per instance, running jobs across.
  { name: 'LIMIT_STREAMS_PER_CALLER', value: '100' }
  { name: 'LIMIT_ENQUEUES_PER_MINUTE', value: '120' }
  { name: 'LIMIT_PRESIGNS_PER_MINUTE', value: '240' }
  { name: 'LIMIT_RUNNING_JOBS_PER_CALLER', value: '50' }

  // The queue catalogue (GET /api/v1/queue/events): worker heartbeats, stats, backlog alert.
  { name: 'WORKER_HEARTBEAT_SECONDS', value: '15' }
  { name: 'WORKER_OFFLINE_SECONDS', value: '60' }
  { name: 'QUEUE_STATS_SECONDS', value: '10' }
  { name: 'BACKLOG_ALERT_THRESHOLD', value: '15' }

  // A failed delivery waits 2 s x 2^(delivery - 1) before it is abandoned.
  { name: 'WORKER_RETRY_DELAY_SECONDS', value: '2' }

  // Bounded work per job: a run's time limit; the memory an extraction's child may add.
  { name: 'JOB_TIME_LIMIT_SECONDS', value: '180' }
  { name: 'EXTRACTION_MEMORY_LIMIT_MB', value: '256' }

  // The sweeper (a timer function): resend unsent jobs, end jobs no worker reports on.
  { name: 'SWEEP_SCHEDULE', value: '0 * * * * *' }
  { name: 'SWEEP_RESEND_SECONDS', value: '60' }
  { name: 'WORKER_LOST_SECONDS', value: '900' }
  { name: 'SWEEP_QUEUED_LOST_SECONDS', value: '93600' }

  // The upload sweeper (a timer function): deletes append/page blobs, snapshots, and
  // uploads no job claimed within a day (docs/storage.md).
  { name: 'UPLOAD_SWEEP_SCHEDULE', value: '0 */10 * * * *' }
  { name: 'UNUSED_UPLOAD_TTL_SECONDS', value: '86400' }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy by this tag (azure.yaml service "api").
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(appSettings, queueSettings)
      // The API is called cross-origin when the page is hosted elsewhere.
      cors: {
        allowedOrigins: allowedOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: {
          http: {
            // Python defaults to 1: each open SSE stream would hold a whole instance.
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
  }
}

// No publishing with basic credentials: deployments authenticate with Entra ID.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
