// Role assignments for the app's user-assigned identity: built-in data roles, plus one custom
// role holding a single read action (below), each at the narrowest scope the code path that
// needs it allows. Names are guid(scope, principal, role) so redeployments are idempotent.

@description('Environment name; part of the custom role\'s display name.')
param environmentName string
@description('Create the custom queue-count reader role and assign it on each queue (see below).')
param grantQueueCountReader bool
param principalId string
param hostStorageName string
param dataStorageName string
param uploadsContainerName string
param jobsTableName string
param serviceBusName string
param queueNames array
param applicationInsightsName string

// Built-in role definition ids (same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageName
}

resource dataBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource uploadsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobService
  name: uploadsContainerName
}

resource dataTableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource jobsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: dataTableService
  name: jobsTableName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusName
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = [
  for queueName in queueNames: {
    parent: serviceBus
    name: queueName
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Functions host (AzureWebJobsStorage__blobServiceUri): host locks, keys and the Flex
// Consumption deployment package container; the host creates its own containers, so the
// role is at the host account, which holds nothing but host state.
resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, principalId, roles.storageBlobDataOwner)
  scope: hostStorage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Functions host (AzureWebJobsStorage__tableServiceUri): the host's diagnostic-events table.
resource hostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostStorage.id, principalId, roles.storageTableDataContributor)
  scope: hostStorage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// UploadSigner: a user delegation SAS only grants what its signer may do, so create/write
// SAS URLs need write here; the enqueue check (blob exists, size, type) and the worker's
// streaming read need read. Scoped to the uploads container only.
resource uploadsBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploadsContainer.id, principalId, roles.storageBlobDataContributor)
  scope: uploadsContainer
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// UploadSigner: get_user_delegation_key is an account-level action (Storage Blob Delegator
// is the built-in role that holds only it); the data role above bounds what the SAS can do.
resource dataBlobDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataStorage.id, principalId, roles.storageBlobDelegator)
  scope: dataStorage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)
  }
}

// EventLog / job records and the stream-token key row: read, insert, update in the jobs table.
resource jobsTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobsTable.id, principalId, roles.storageTableDataContributor)
  scope: jobsTable
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// Service Bus: every assignment is on a queue, none on the namespace.

// JobQueue.send (POST /api/v1/jobs): send one message per job to its queue.
resource queueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in queueNames: {
    name: guid(queues[i].id, principalId, roles.serviceBusDataSender)
    scope: queues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    }
  }
]

// The Service Bus triggers in function_app/entrypoints/sb_worker.py, on each queue and its
// dead-letter sub-queue: receive, complete, abandon, dead-letter.
resource queueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in queueNames: {
    name: guid(queues[i].id, principalId, roles.serviceBusDataReceiver)
    scope: queues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    }
  }
]

// Queue runtime counts (active, dead-lettered, scheduled messages), read by:
// - QueueStats (function_app/adapters/queue_stats.py,
//   ServiceBusAdministrationClient.get_queue_runtime_properties): GET /api/v1/queues/{name}/stats
//   and the queue_stats events of job streams; without the right the route answers 503;
// - the Functions Service Bus extension's scale monitor (GetQueueRuntimePropertiesAsync), which
//   otherwise falls back to peek-based estimation and scales less accurately.
// MicrosoftDocs/azure-docs PR #128626 ("Scaling permissions"): identity-based connections need
// Azure Service Bus Data Owner or a custom role with Microsoft.ServiceBus/namespaces/*/read.
// Data Owner would add Microsoft.ServiceBus/* (update and delete the queue) and every data
// action, so this role holds only the one read action, no data actions, and is assigned on
// each queue. grantQueueCountReader = false skips it where the deployer may not create role
// definitions (docs/deploy.md says what degrades).
// The definition's name is a guid of a stable seed, so redeployments update it in place.
var queueCountReaderRoleName = guid(resourceGroup().id, serviceBusName, 'jobstream-servicebus-queue-count-reader')

resource queueCountReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (grantQueueCountReader) {
  name: queueCountReaderRoleName
  properties: {
    roleName: 'jobstream Service Bus queue reader (${environmentName}, ${serviceBusName})'
    description: 'Read a Service Bus queue\'s description and runtime counts (jobstream: queue stats, Functions scale monitor). No data actions.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.ServiceBus/namespaces/queues/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource queueCountReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in (grantQueueCountReader ? queueNames : []): {
    name: guid(queues[i].id, principalId, queueCountReaderRoleName)
    scope: queues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueCountReaderRoleName)
    }
    dependsOn: [
      queueCountReaderRole
    ]
  }
]

// APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Entra-authenticated telemetry ingestion.
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}
