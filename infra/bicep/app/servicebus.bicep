// Service Bus namespace (Standard: duplicate detection needs it) with SAS auth disabled, and
// one queue per job family. The queue properties are the contract the worker relies on:
// MaxDeliveryCount must equal the app's SERVICEBUS_MAX_DELIVERY_COUNT (tests/infra check it).

param name string
param location string
param tags object

@description('Job queues; names match function_app/settings.py DEFAULT_QUEUES.')
param queueNames array

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
      lockDuration: 'PT1M'
      maxDeliveryCount: 5
      defaultMessageTimeToLive: 'P1D'
      deadLetteringOnMessageExpiration: true
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      requiresSession: false
    }
  }
]

output name string = namespace.name
// serviceBusEndpoint is https://<name>.servicebus.<cloud suffix>:443/ ; keep only the host.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
