// The app's data: the uploads container browsers PUT into with a user delegation SAS, and the
// jobs table (job records + event log). Shared-key access is off, so every SAS must be a user
// delegation SAS and every call uses Entra ID.

param name string
param location string
param tags object

param uploadsContainerName string
param jobsTableName string

@description('Origins allowed to PUT uploads from a browser (blob CORS), e.g. https://app.example.com.')
param allowedOrigins array

@description('Uploads older than this many days are deleted by a lifecycle rule.')
@minValue(1)
@maxValue(365)
param uploadRetentionDays int

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        table: {
          enabled: true
        }
      }
    }
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// Browser uploads: a single PUT (x-ms-blob-type: BlockBlob) or Put Block / Put Block List,
// plus the preflight OPTIONS. No GET: the SAS grants create/write only.
var uploadCorsRule = {
  allowedOrigins: allowedOrigins
  allowedMethods: [
    'PUT'
    'OPTIONS'
  ]
  allowedHeaders: [
    'Content-Type'
    'Content-Length'
    'x-ms-blob-type'
    'x-ms-*'
  ]
  exposedHeaders: [
    'ETag'
    'x-ms-request-id'
    'x-ms-*'
  ]
  maxAgeInSeconds: 3600
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    cors: {
      corsRules: empty(allowedOrigins) ? [] : [uploadCorsRule]
    }
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource uploadsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: uploadsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource jobsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: jobsTableName
}

// What the upload URL (create + write on one blob name) can leave behind: a block blob (the
// upload), an append blob, and snapshots of either (Create and Write both allow Snapshot
// Blob, so no SAS permission prevents them). Lifecycle rules take block and append blobs,
// snapshots and versions (versioning is off: none are made, the action is a safeguard), but
// not page blobs: the app's upload sweeper (UPLOAD_SWEEP_SCHEDULE) deletes those, refused and
// unused uploads (docs/storage.md).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-old-uploads'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
                'appendBlob'
              ]
              prefixMatch: [
                '${uploadsContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: uploadRetentionDays
                }
              }
              snapshot: {
                delete: {
                  daysAfterCreationGreaterThan: 1
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: 1
                }
              }
            }
          }
        }
      ]
    }
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output uploadsContainerName string = uploadsContainer.name
output jobsTableName string = jobsTable.name
