// jobstream on Azure: Flex Consumption function app + storage + Service Bus + monitoring, all
// reached with one user-assigned managed identity. This file only wires the modules in app/.
// Deploy into an existing resource group with azd (azure.yaml; azd fills the ${...}
// placeholders in main.parameters.json), or with plain az, parameters inline:
//   az deployment group create -g <rg> -f infra/bicep/main.bicep \
//     -p environmentName=dev jwtAudience=api://<client-id> allowedOrigins='["http://localhost:8000"]'
// (main.parameters.json is azd's: az would pass its placeholders through as literal text.)
// Not enforced here: jwtAudience is required when authMode is 'jwt' (Bicep cannot make one
// parameter depend on another; the app's settings check fails every call without it, and the
// Terraform stack validates it). infra/terraform/ builds the same system (tests/infra prove
// parity).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Environment name (azd environment); feeds the unique resource-name token.')
param environmentName string

@description('Region for every resource; defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('Browser origins allowed to call the API and PUT uploads (https://..., or http://localhost:<port> for a local page). Empty: no cross-origin access.')
param allowedOrigins array = []

@allowed([
  'jwt'
  'none'
])
@description('AUTH_MODE: "jwt" (default) requires an Entra ID bearer token; "none" makes EVERY caller the same anonymous owner: anyone who finds the URL can upload and run jobs. Use "none" only for a throwaway demo.')
param authMode string = 'jwt'

@description('JWT_ISSUER: the OIDC issuer whose tokens are accepted (JWKS discovered from it). Defaults to this tenant\'s Entra ID v2 issuer.')
param jwtIssuer string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

@description('JWT_AUDIENCE: the API\'s app registration (Application ID URI or client id). Required when authMode is "jwt" (not enforced by the template: left empty, every function call fails the app\'s settings check).')
param jwtAudience string = ''

@description('JWT_REQUIRED_ROLES: app roles of which a token must carry one (its roles claim) unless it carries one of jwtRequiredScopes. Empty: no role or scope is required.')
param jwtRequiredRoles array = []

@description('JWT_REQUIRED_SCOPES: delegated scopes of which a token must carry one (its scp claim) unless it carries one of jwtRequiredRoles.')
param jwtRequiredScopes array = []

@description('JWT_ALLOWED_CLIENT_IDS: the client applications (azp or appid claim) whose tokens are accepted. Empty: any application in the tenant that gets a token for jwtAudience.')
param jwtAllowedClientIds array = []

@minValue(40)
@maxValue(1000)
@description('Flex Consumption maximum instance count.')
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory (MB).')
param instanceMemoryMB int = 2048

@minValue(2)
@maxValue(1000)
@description('HTTP requests one instance serves at once. Python defaults to 1, which would give every open SSE stream a whole instance.')
param httpPerInstanceConcurrency int = 100

@minValue(1)
@maxValue(365)
@description('Days after which uploaded files are deleted by a lifecycle rule.')
param uploadRetentionDays int = 7

@minValue(1)
@maxValue(5368709120)
@description('MAX_UPLOAD_BYTES: largest upload the API signs a URL for.')
param maxUploadBytes int = 20971520

@description('Tags added to every resource.')
param tags object = {}

@description('Create a custom role holding only Microsoft.ServiceBus/namespaces/queues/read and assign it on each queue, so the app can read queue runtime counts (GET /api/v1/queues/{name}/stats, queue_stats stream events, the Service Bus scale monitor). Needs Microsoft.Authorization/roleDefinitions/write (Owner or User Access Administrator); false skips it: jobs still run, the stats route answers 503 and scaling falls back to peeking.')
param grantQueueCountReader bool = true

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var allTags = union(tags, { 'azd-env-name': environmentName })

// The queue topology (the queues, the app setting naming each, the properties every queue
// gets): written once, in function_app/queues.json, which the app, devstack and the Terraform
// stack read too; nothing here names a queue.
var topology = loadJsonContent('../../function_app/queues.json')
var queueNames = [for queue in topology.queues: queue.name]
// Names the code and both stacks agree on (function_app/settings.py).
var uploadsContainerName = 'uploads'
var jobsTableName = 'jobs'
var deploymentContainerName = 'app-package'

module identity 'app/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: allTags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: allTags
  }
}

module hostStorage 'app/host-storage.bicep' = {
  name: 'host-storage'
  params: {
    name: '${abbrs.storageStorageAccounts}h${resourceToken}'
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
  }
}

module dataStorage 'app/data-storage.bicep' = {
  name: 'data-storage'
  params: {
    name: '${abbrs.storageStorageAccounts}d${resourceToken}'
    location: location
    tags: allTags
    uploadsContainerName: uploadsContainerName
    jobsTableName: jobsTableName
    allowedOrigins: allowedOrigins
    uploadRetentionDays: uploadRetentionDays
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: allTags
    queueNames: queueNames
    queueProperties: topology.queueProperties
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  params: {
    planName: '${abbrs.webServerFarms}${resourceToken}'
    name: '${abbrs.webSitesFunctions}api-${resourceToken}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    hostQueueEndpoint: hostStorage.outputs.queueEndpoint
    hostTableEndpoint: hostStorage.outputs.tableEndpoint
    deploymentContainerUrl: hostStorage.outputs.deploymentContainerUrl
    dataBlobEndpoint: dataStorage.outputs.blobEndpoint
    dataTableEndpoint: dataStorage.outputs.tableEndpoint
    uploadsContainerName: dataStorage.outputs.uploadsContainerName
    jobsTableName: dataStorage.outputs.jobsTableName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    allowedOrigins: allowedOrigins
    authMode: authMode
    jwtIssuer: jwtIssuer
    jwtAudience: jwtAudience
    jwtRequiredRoles: jwtRequiredRoles
    jwtRequiredScopes: jwtRequiredScopes
    jwtAllowedClientIds: jwtAllowedClientIds
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    maxUploadBytes: maxUploadBytes
    queues: topology.queues
  }
  // The app must not start before it may read its package and host storage.
  dependsOn: [
    rbac
  ]
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  params: {
    environmentName: environmentName
    grantQueueCountReader: grantQueueCountReader
    principalId: identity.outputs.principalId
    hostStorageName: hostStorage.outputs.name
    dataStorageName: dataStorage.outputs.name
    uploadsContainerName: dataStorage.outputs.uploadsContainerName
    jobsTableName: dataStorage.outputs.jobsTableName
    serviceBusName: serviceBus.outputs.name
    queueNames: queueNames
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// UPPER_SNAKE outputs: azd stores them in the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output API_BASE_URL string = 'https://${api.outputs.defaultHostName}/api/v1'
output AZURE_CLIENT_ID string = identity.outputs.clientId
output STORAGE_BLOB_ENDPOINT string = dataStorage.outputs.blobEndpoint
output STORAGE_TABLE_ENDPOINT string = dataStorage.outputs.tableEndpoint
output SERVICEBUS_FULLY_QUALIFIED_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
