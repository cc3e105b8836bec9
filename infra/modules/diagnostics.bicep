// Platform logs and metrics of every service the app uses, sent to the Log Analytics workspace beside
// Application Insights: Cosmos DB requests, Blob and Queue requests, the Functions host's logs, Redis
// connection events. Categories are named one by one, as each resource type lists them.

@description('Required. Resource id of the Log Analytics workspace the settings send to.')
param workspaceResourceId string

@description('Required. Name of the Cosmos DB account.')
param cosmosAccountName string

@description('Required. Name of the archive storage account.')
param archiveStorageName string

@description('Required. Name of the Function App.')
param functionAppName string

@description('Required. Name of the Azure Managed Redis cluster.')
param redisName string

var settingName = 'to-log-analytics'

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource archiveStorage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: archiveStorageName
}

resource archiveBlobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' existing = {
  parent: archiveStorage
  name: 'default'
}

resource archiveQueueService 'Microsoft.Storage/storageAccounts/queueServices@2024-01-01' existing = {
  parent: archiveStorage
  name: 'default'
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' existing = {
  name: redisName
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' existing = {
  parent: redis
  name: 'default'
}

resource cosmosDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: cosmos
  properties: {
    workspaceId: workspaceResourceId
    // Resource-specific tables (CDBDataPlaneRequests, ...), as Cosmos DB recommends.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      { category: 'DataPlaneRequests', enabled: true }
      { category: 'ControlPlaneRequests', enabled: true }
      { category: 'PartitionKeyRUConsumption', enabled: true }
    ]
    metrics: [{ category: 'Requests', enabled: true }]
  }
}

resource archiveStorageDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: archiveStorage
  properties: {
    workspaceId: workspaceResourceId
    metrics: [{ category: 'Transaction', enabled: true }]
  }
}

resource archiveBlobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: archiveBlobService
  properties: {
    workspaceId: workspaceResourceId
    logs: [
      { category: 'StorageRead', enabled: true }
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
    metrics: [{ category: 'Transaction', enabled: true }]
  }
}

resource archiveQueueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: archiveQueueService
  properties: {
    workspaceId: workspaceResourceId
    logs: [
      { category: 'StorageRead', enabled: true }
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
    metrics: [{ category: 'Transaction', enabled: true }]
  }
}

resource appDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: app
  properties: {
    workspaceId: workspaceResourceId
    logs: [{ category: 'FunctionAppLogs', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

resource redisDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: redis
  properties: {
    workspaceId: workspaceResourceId
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

resource redisDatabaseDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: redisDatabase
  properties: {
    workspaceId: workspaceResourceId
    // Who connected and authenticated with which identity, and when.
    logs: [{ category: 'ConnectionEvents', enabled: true }]
  }
}
