// The virtual network the Function App sends all its outbound traffic through, and the private DNS zones
// that resolve the data services' private endpoints inside it.

@description('Required. Name of the virtual network.')
param name string

@description('Required. Azure region of the network.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Optional. Address space of the network.')
param addressPrefix string = '10.40.0.0/16'

@description('Optional. Subnet the Function App integrates with (delegated to Microsoft.App/environments, as Flex Consumption requires).')
param appSubnetPrefix string = '10.40.0.0/24'

@description('Optional. Subnet of the private endpoints.')
param privateEndpointSubnetPrefix string = '10.40.1.0/24'

// One zone per service reached privately: Cosmos DB (SQL API), Blob, Queue and Azure Managed Redis.
var privateDnsZoneNames = {
  cosmos: 'privatelink.documents.azure.com'
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  redis: 'privatelink.redis.azure.net'
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in items(privateDnsZoneNames): {
    name: zone.value
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in items(privateDnsZoneNames): {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: { id: vnet.id }
    }
  }
]

@description('Resource id of the subnet the Function App integrates with.')
output appSubnetId string = vnet.properties.subnets[0].id

@description('Resource id of the subnet of the private endpoints.')
output privateEndpointSubnetId string = vnet.properties.subnets[1].id

// Looked up by name, never by position: items() returns the zones sorted by key (blob, cosmos, queue, redis),
// so the first zone of the loop is not the first key written above.
@description('Resource ids of the private DNS zones, by service: cosmos, blob, queue, redis.')
output privateDnsZoneIds object = {
  cosmos: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.cosmos)
  blob: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.blob)
  queue: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.queue)
  redis: resourceId('Microsoft.Network/privateDnsZones', privateDnsZoneNames.redis)
}
