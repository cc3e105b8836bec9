// One private endpoint of a service in the network's private-endpoint subnet, registered in its private DNS zone.

@description('Required. Name of the private endpoint.')
param name string

@description('Required. Azure region of the private endpoint (the network\'s).')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Required. Resource id of the subnet the endpoint takes an address in.')
param subnetResourceId string

@description('Required. Resource id of the service the endpoint connects to.')
param privateLinkServiceId string

@description('Required. The service\'s sub-resource (group id): Sql, blob, queue, redisEnterprise.')
param groupId string

@description('Required. Resource id of the private DNS zone the endpoint registers its address in.')
param privateDnsZoneResourceId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetResourceId }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: privateLinkServiceId
          groupIds: [groupId]
        }
      }
    ]
  }
}

resource dnsGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [{ name: groupId, properties: { privateDnsZoneId: privateDnsZoneResourceId } }]
  }
}

@description('Resource id of the private endpoint.')
output resourceId string = endpoint.id
