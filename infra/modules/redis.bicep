// Azure Managed Redis, the cache of archived reads: Entra ID only (access keys off), TLS on port 10000,
// the Enterprise clustering policy (one endpoint, no MOVED redirects: the cache uses a single-endpoint
// client, not a cluster client), reached through a private endpoint only.

@description('Required. Name of the Azure Managed Redis cluster.')
param name string

@description('Required. Azure region of the cluster.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Optional. SKU of the cluster (Balanced_B0 is the smallest Azure Managed Redis size).')
param skuName string = 'Balanced_B0'

@description('Optional. EnterpriseCluster or NoCluster: both present one endpoint to a non-cluster client; OSSCluster does not.')
@allowed(['EnterpriseCluster', 'NoCluster'])
param clusteringPolicy string = 'EnterpriseCluster'

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: clusteringPolicy
    // Cache entries and rate-limit windows all carry a TTL: evict among those first.
    evictionPolicy: 'VolatileLRU'
    accessKeysAuthentication: 'Disabled'
  }
}

@description('Resource id of the cluster (the private endpoint\'s target).')
output resourceId string = cluster.id

@description('Name of the cluster.')
output name string = cluster.name

@description('REDIS_URL: TLS on the database port.')
output url string = 'rediss://${cluster.properties.hostName}:${database.properties.port}'
