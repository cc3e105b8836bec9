// The Functions app on the Flex Consumption plan, Node 22, with a system-assigned identity, all outbound
// traffic through the VNet, and its own host storage account (deployment package, host locks) reached
// with that identity: no keys anywhere. App settings are set by app-settings.bicep once the identity's
// data-plane roles exist.

@description('Required. Name of the Function App.')
param name string

@description('Required. Name of the Flex Consumption plan.')
param planName string

@description('Required. Name of the host storage account (3-24 lower-case letters and digits).')
param hostStorageName string

@description('Required. Azure region of every resource.')
param location string

@description('Optional. Tags of every resource; the app also gets azd-service-name.')
param tags object = {}

@description('Required. The azure.yaml service this app runs (azd deploys to the resource tagged with it).')
param serviceName string

@description('Required. Resource id of the subnet the app integrates with (delegated to Microsoft.App/environments).')
param appSubnetId string

@description('Required. Resource id of the subnet of the private endpoints.')
param privateEndpointSubnetId string

@description('Required. Resource id of the private DNS zone for Blob.')
param blobPrivateDnsZoneId string

@description('Optional. Most instances the plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Optional. Memory of an instance in MB (2048 or 4096).')
@allowed([2048, 4096])
param instanceMemoryMB int = 2048

var deploymentContainerName = 'app-package'

resource hostStorage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: hostStorageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }
  }
}

resource hostBlobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: hostStorage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: hostBlobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

module hostBlobEndpoint 'private-endpoint.bicep' = {
  name: '${hostStorageName}-blob-pe'
  params: {
    name: 'pe-${hostStorageName}-blob'
    location: location
    tags: tags
    subnetResourceId: privateEndpointSubnetId
    privateLinkServiceId: hostStorage.id
    groupId: 'blob'
    privateDnsZoneResourceId: blobPrivateDnsZoneId
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Flex Consumption routes all outbound traffic through the integrated subnet.
    virtualNetworkSubnetId: appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: instanceMemoryMB }
      runtime: { name: 'node', version: '22' }
    }
  }
  dependsOn: [deploymentContainer, hostBlobEndpoint]
}

@description('Name of the Function App.')
output name string = app.name

@description('Object (principal) id of the app\'s system-assigned identity.')
output principalId string = app.identity.principalId

@description('Default host name of the app (the API\'s address).')
output defaultHostName string = app.properties.defaultHostName

@description('Resource id of the host storage account.')
output hostStorageResourceId string = hostStorage.id

@description('Name of the host storage account (AzureWebJobsStorage__accountName).')
output hostStorageName string = hostStorage.name
