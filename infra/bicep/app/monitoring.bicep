// Log Analytics + workspace-based Application Insights. Local (instrumentation-key) auth is
// disabled: telemetry is accepted only from Entra-authenticated senders, i.e. the app's
// identity holding Monitoring Metrics Publisher (see rbac.bicep).

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = appInsights.name
// Holds the ingestion endpoint and instrumentation key only; with local auth disabled the
// key alone cannot send telemetry, so this is not a secret.
output connectionString string = appInsights.properties.ConnectionString
