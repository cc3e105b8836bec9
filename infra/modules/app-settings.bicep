// The Function App's app settings, set after its identity holds its data-plane roles, so the first start
// finds every store reachable. The settings themselves are built in main.bicep (one block the drift tests read).

@description('Required. Name of the Function App.')
param functionAppName string

@description('Required. App settings: names of settings-schema.ts, plus the Functions host\'s own.')
@secure()
param appSettings object

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: appSettings
}
