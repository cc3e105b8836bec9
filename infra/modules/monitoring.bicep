// Log Analytics workspace and the workspace-based Application Insights that OpenTelemetry exports to
// (APPLICATIONINSIGHTS_CONNECTION_STRING).

@description('Required. Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Required. Azure region of both.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Optional. Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param dataRetention int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: dataRetention
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

@description('Resource id of the Log Analytics workspace.')
output logAnalyticsWorkspaceResourceId string = workspace.id

@description('Resource id of Application Insights (the scope of the alert rules).')
output applicationInsightsResourceId string = appInsights.id

@description('Connection string of Application Insights (an ingestion address, not a credential to read data).')
output connectionString string = appInsights.properties.ConnectionString
