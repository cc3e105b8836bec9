// Every permission the app's identity gets, all data plane and scoped to one resource each: reading and
// writing records and ledger entries, blobs and run-queue messages, the cache, and its host storage.
// No control-plane role, no keys.

@description('Required. Object (principal) id of the Function App\'s system-assigned identity.')
param principalId string

@description('Required. Name of the Cosmos DB account.')
param cosmosAccountName string

@description('Required. Name of the archive storage account (archive, control and audit containers, run queue).')
param archiveStorageName string

@description('Required. Name of the Functions host storage account.')
param hostStorageName string

@description('Required. Name of the Azure Managed Redis cluster.')
param redisName string

var roles = {
  // Storage Blob Data Contributor: read, write, delete blobs (no ACLs, no account keys).
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Storage Queue Data Contributor: send, receive, delete run-queue messages, and the poison queue.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Blob Data Owner: what the Functions host needs on its own storage (deployment package, locks).
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
}
// Cosmos DB Built-in Data Contributor: items and queries only; no database or container management.
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource archiveStorage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: archiveStorageName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: hostStorageName
}

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' existing = {
  name: redisName
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' existing = {
  parent: redis
  name: 'default'
}

resource cosmosData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, principalId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: principalId
    scope: cosmos.id
  }
}

resource archiveBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: archiveStorage
  name: guid(archiveStorage.id, principalId, roles.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource runQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: archiveStorage
  name: guid(archiveStorage.id, principalId, roles.storageQueueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource hostBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: hostStorage
  name: guid(hostStorage.id, principalId, roles.storageBlobDataOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The built-in 'default' access policy: data commands on every key, no administrative commands. The
// assignment's name must match ^[A-Za-z0-9]{1,60}$: uniqueString, not guid (which has hyphens).
resource cacheAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: redisDatabase
  name: uniqueString(redisDatabase.id, principalId, 'default')
  properties: {
    accessPolicyName: 'default'
    user: { objectId: principalId }
  }
}
