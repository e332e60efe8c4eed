// Service Bus namespace (Standard: duplicate detection needs it) with SAS auth disabled, and
// one queue per queue of function_app/queues.json (main.bicep loads it), with the file's
// properties: the contract the worker relies on (the app reads its MaxDeliveryCount from the
// same file).

param name string
param location string
param tags object

@description('Job queues: the names in function_app/queues.json.')
param queueNames array

@description('The properties every queue gets: queueProperties in function_app/queues.json (Service Bus names).')
param queueProperties object

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queueName in queueNames: {
    parent: namespace
    name: queueName
    properties: {
      lockDuration: queueProperties.LockDuration
      maxDeliveryCount: queueProperties.MaxDeliveryCount
      defaultMessageTimeToLive: queueProperties.DefaultMessageTimeToLive
      deadLetteringOnMessageExpiration: queueProperties.DeadLetteringOnMessageExpiration
      requiresDuplicateDetection: queueProperties.RequiresDuplicateDetection
      duplicateDetectionHistoryTimeWindow: queueProperties.DuplicateDetectionHistoryTimeWindow
      requiresSession: queueProperties.RequiresSession
    }
  }
]

output name string = namespace.name
// serviceBusEndpoint is https://<name>.servicebus.<cloud suffix>:443/ ; keep only the host.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
