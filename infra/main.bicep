// The billing records service on Azure, as `azd up` provisions it: a resource group with the Function App
// (Flex Consumption, Node 22), Cosmos DB, the archive's storage account, Azure Managed Redis, monitoring and
// alerts, a VNet with private endpoints, and optional customer-managed keys. One module per concern under
// modules/; names shared with the code come from JSON the code reads too.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Required. Name of the azd environment; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Required. Azure region of every resource (one that offers Flex Consumption and Azure Managed Redis).')
param location string

// AUTH_ISSUER below is the v2.0 issuer, and a v2.0 access token's aud is always the API's client ID.
@minLength(1)
@description('Required. The aud tokens must carry (AUTH_AUDIENCE): the Application (client) ID of the API\'s Entra ID app registration, which must issue v2.0 access tokens (api.requestedAccessTokenVersion 2).')
param authAudience string

@description('Optional. Entra ID tenant that issues the tokens; default: the deployment\'s tenant.')
param authTenantId string = tenant().tenantId

@description('Optional. Run archival on its timer. Deploy with false (the staged rollout), then true for full activation.')
param archivalScheduleEnabled bool = false

@description('Optional. Tunable settings of the app (names of src/config/settings-schema.ts), per environment: schedules, periods, budgets, rate limits, RETENTION_PERIOD once retention runs.')
param appSettingsOverrides object = {}

@description('Optional. E-mail addresses the alert rules notify.')
param alertEmails array = []

@description('Optional. Encrypt Cosmos DB and Storage with customer-managed keys from a Key Vault this deployment creates. Fixed at creation: Storage\'s requireInfrastructureEncryption (set with the key) can only be set when the account is created, and Cosmos DB cannot go back to Microsoft-managed keys.')
param customerManagedKeys bool = false

@description('Optional. Version-level immutability on the archive container, so held records\' blobs get blob legal holds (BLOB_LEGAL_HOLDS). Fixed at creation.')
param archiveLegalHolds bool = false

@description('Optional. Autoscale maximum RU/s of the records container.')
param recordsMaxThroughput int = 4000

@description('Optional. Name of the Cosmos DB account; empty: cosmos-<token>. Disaster recovery sets it to the account a point-in-time restore created, so the next provision gives that account the private endpoint, role assignment and settings.')
param cosmosAccountName string = ''

@description('Optional. Days each audit blob stays immutable (while the policy is unlocked; a locked one is extended by hand).')
param auditImmutabilityDays int = 2555

@description('Optional. True once the audit container\'s immutability policy is locked (docs/operations.md, irreversible): the Bicep then leaves the policy alone, since a locked one refuses updates.')
param auditImmutabilityLocked bool = false

var names = loadJsonContent('../src/config/resource-names.json')
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var prefix = 'billing-${environmentName}'
var cosmosName = empty(cosmosAccountName) ? 'cosmos-${token}' : cosmosAccountName
var archiveStorageName = 'starch${token}'
var redisName = 'redis-${token}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module network 'modules/network.bicep' = {
  scope: rg
  name: 'network'
  params: { name: 'vnet-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${token}'
    applicationInsightsName: 'appi-${token}'
    location: location
    tags: tags
  }
}

module alerts 'modules/alerts.bicep' = {
  scope: rg
  name: 'alerts'
  params: {
    namePrefix: prefix
    location: location
    tags: tags
    applicationInsightsResourceId: monitoring.outputs.applicationInsightsResourceId
    alertEmails: alertEmails
  }
}

module keyVault 'modules/key-vault.bicep' = if (customerManagedKeys) {
  scope: rg
  name: 'key-vault'
  params: {
    name: 'kv-${token}'
    identityName: 'id-cmk-${token}'
    location: location
    tags: tags
    workspaceResourceId: monitoring.outputs.logAnalyticsWorkspaceResourceId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  scope: rg
  name: 'cosmos'
  params: {
    name: cosmosName
    location: location
    tags: tags
    databaseName: names.cosmosDatabase
    recordsContainerName: names.recordsContainer
    ledgerContainerName: names.ledgerContainer
    recordsMaxThroughput: recordsMaxThroughput
    customerManagedKeyUri: customerManagedKeys ? keyVault!.outputs.keyUri : ''
    customerManagedKeyIdentityResourceId: customerManagedKeys ? keyVault!.outputs.identityResourceId : ''
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: archiveStorageName
    location: location
    tags: tags
    archiveContainerName: names.archiveContainer
    controlContainerName: names.controlContainer
    auditContainerName: names.auditContainer
    runQueueName: names.runQueue
    auditImmutabilityDays: auditImmutabilityDays
    auditImmutabilityLocked: auditImmutabilityLocked
    archiveLegalHolds: archiveLegalHolds
    customerManagedKeyVaultUri: customerManagedKeys ? keyVault!.outputs.vaultUri : ''
    customerManagedKeyName: customerManagedKeys ? keyVault!.outputs.keyName : ''
    customerManagedKeyIdentityResourceId: customerManagedKeys ? keyVault!.outputs.identityResourceId : ''
  }
}

module redis 'modules/redis.bicep' = {
  scope: rg
  name: 'redis'
  params: {
    name: redisName
    location: location
    tags: tags
  }
}

// The data services answer on private addresses only. A loop's collection must be known when the deployment
// starts (BCP178), so it holds constants and each endpoint picks its target's id, a module output, by name.
// Each endpoint is named after its target: an endpoint's connection cannot move to another resource, so the
// account a disaster recovery restore creates (cosmosAccountName) gets a new endpoint beside the old one's.
var privateEndpoints = [
  { service: 'cosmos', target: 'cosmos', targetName: cosmosName, groupId: 'Sql', zone: 'cosmos' }
  { service: 'archive-blob', target: 'storage', targetName: archiveStorageName, groupId: 'blob', zone: 'blob' }
  { service: 'archive-queue', target: 'storage', targetName: archiveStorageName, groupId: 'queue', zone: 'queue' }
  { service: 'redis', target: 'redis', targetName: redisName, groupId: 'redisEnterprise', zone: 'redis' }
]

var privateLinkServiceIds = {
  cosmos: cosmos.outputs.resourceId
  storage: storage.outputs.resourceId
  redis: redis.outputs.resourceId
}

module endpoints 'modules/private-endpoint.bicep' = [
  for endpoint in privateEndpoints: {
    scope: rg
    name: 'pe-${endpoint.service}'
    params: {
      name: 'pe-${endpoint.targetName}-${toLower(endpoint.groupId)}'
      location: location
      tags: tags
      subnetResourceId: network.outputs.privateEndpointSubnetId
      privateLinkServiceId: privateLinkServiceIds[endpoint.target]
      groupId: endpoint.groupId
      privateDnsZoneResourceId: network.outputs.privateDnsZoneIds[endpoint.zone]
    }
  }
]

module functionApp 'modules/function-app.bicep' = {
  scope: rg
  name: 'function-app'
  params: {
    name: 'func-${token}'
    planName: 'plan-${token}'
    hostStorageName: 'sthost${token}'
    location: location
    tags: tags
    serviceName: 'api'
    appSubnetId: network.outputs.appSubnetId
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    blobPrivateDnsZoneId: network.outputs.privateDnsZoneIds.blob
  }
}

module roles 'modules/roles.bicep' = {
  scope: rg
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    cosmosAccountName: cosmos.outputs.name
    archiveStorageName: storage.outputs.name
    hostStorageName: functionApp.outputs.hostStorageName
    redisName: redis.outputs.name
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  scope: rg
  name: 'diagnostics'
  params: {
    workspaceResourceId: monitoring.outputs.logAnalyticsWorkspaceResourceId
    cosmosAccountName: cosmos.outputs.name
    archiveStorageName: storage.outputs.name
    functionAppName: functionApp.outputs.name
    redisName: redis.outputs.name
  }
}

// Every app setting, in one block: the drift tests (test/unit/infra-drift.test.ts) read these names and
// hold them to src/config/settings-schema.ts; the Functions host's own settings are listed there too.
var appSettings = {
  AzureWebJobsStorage__accountName: functionApp.outputs.hostStorageName
  'AzureWebJobs.archivalRun.Disabled': archivalScheduleEnabled ? 'false' : 'true'
  NODE_ENV: 'production'
  // The Node worker's flags, as `npm start` runs: AsyncLocalStorage (the trace context of every request)
  // without async hooks on every promise (docs/performance.md, "What telemetry costs"). Node 22.7+: on an
  // older platform Node would refuse to start; override it with '' (appSettingsOverrides).
  languageWorkers__node__arguments: '--experimental-async-context-frame'
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_DATABASE: names.cosmosDatabase
  COSMOS_CONTAINER: names.recordsContainer
  COSMOS_LEDGER_CONTAINER: names.ledgerContainer
  BLOB_ACCOUNT_URL: storage.outputs.blobEndpoint
  BLOB_CONTAINER: names.archiveContainer
  BLOB_CONTROL_CONTAINER: names.controlContainer
  AUDIT_CONTAINER: names.auditContainer
  BLOB_LEGAL_HOLDS: archiveLegalHolds ? 'true' : 'false'
  ARCHIVE_QUEUE__QUEUESERVICEURI: storage.outputs.queueEndpoint
  ARCHIVE_QUEUE_NAME: names.runQueue
  REDIS_URL: redis.outputs.url
  REDIS_ENTRA_OBJECT_ID: functionApp.outputs.principalId
  AUTH_JWKS_URI: '${environment().authentication.loginEndpoint}${authTenantId}/discovery/v2.0/keys'
  AUTH_ISSUER: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
  AUTH_AUDIENCE: authAudience
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  COST_THROUGHPUT_MODE: 'autoscale'
  COST_CACHE_TIER: 'azure-managed-redis-b0'
}

module settings 'modules/app-settings.bicep' = {
  scope: rg
  name: 'app-settings'
  params: {
    functionAppName: functionApp.outputs.name
    appSettings: union(appSettings, appSettingsOverrides)
  }
  // The first start must find its roles in place and the stores reachable.
  dependsOn: [roles, endpoints]
}

@description('The resource group azd deploys into.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the Function App.')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Base URL of the API.')
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('COSMOS_ENDPOINT of the deployment (for npm run test:azure from inside the network).')
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint

@description('BLOB_ACCOUNT_URL of the deployment.')
output BLOB_ACCOUNT_URL string = storage.outputs.blobEndpoint

@description('REDIS_URL of the deployment.')
output REDIS_URL string = redis.outputs.url

@description('APPLICATIONINSIGHTS_CONNECTION_STRING of the deployment.')
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
