// Role assignments for the app's user-assigned identity: built-in data roles only, each at
// the narrowest scope the code path that needs it allows. Names are guid(scope, principal, role)
// so redeployments are idempotent.

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
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
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

// Service Bus, one assignment per queue (never the namespace). Azure Service Bus Data Owner
// is the only built-in data role holding Manage, and three code paths need, between them,
// Send, Listen and Manage on each queue:
// - JobQueue.send (POST /api/v1/jobs): send (Send);
// - the Service Bus triggers in function_app/entrypoints/sb_worker.py, on each queue and its
//   dead-letter sub-queue: receive, complete, abandon, dead-letter (Listen);
// - reading the queue's runtime counts, which Service Bus serves only to Manage: the Functions
//   scale controller's target-based scaling (queue length / per-instance target; without
//   Manage it cannot read the length and scales less accurately) and QueueStats
//   (ServiceBusAdministrationClient.get_queue_runtime_properties): without it
//   /api/v1/queues/{name}/stats answers 503 and job streams send no queue snapshots.
// Data Owner covers all three, so Sender and Receiver would only repeat it. Its extra power
// is management of these queues alone. docs/deploy.md gives the sources and the
// Sender + Receiver alternative.
resource queueDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in queueNames: {
    name: guid(queues[i].id, principalId, roles.serviceBusDataOwner)
    scope: queues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    }
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
