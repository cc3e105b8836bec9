// Cosmos DB (NoSQL) account, database and the two containers of the code: records and the archive ledger,
// partition keys, indexing policies and TTL loaded from the same JSON the Cosmos adapters import.
// Entra ID only (no keys), no public network access, continuous backup for point-in-time restore.

@description('Required. Name of the Cosmos DB account.')
param name string

@description('Required. Azure region of the account.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Required. Name of the SQL database.')
param databaseName string

@description('Required. Name of the records container.')
param recordsContainerName string

@description('Required. Name of the archive ledger container.')
param ledgerContainerName string

@description('Optional. Autoscale maximum RU/s of the records container.')
@minValue(1000)
param recordsMaxThroughput int = 4000

@description('Optional. Autoscale maximum RU/s of the ledger container.')
@minValue(1000)
param ledgerMaxThroughput int = 1000

@description('Optional. Continuous backup tier: Continuous7Days or Continuous30Days (the point-in-time restore window).')
@allowed(['Continuous7Days', 'Continuous30Days'])
param backupPolicyContinuousTier string = 'Continuous30Days'

@description('Optional. Spread the account over availability zones (where the region has them).')
param zoneRedundant bool = false

@description('Optional. Key Vault key URI for customer-managed keys; empty: Microsoft-managed keys.')
param customerManagedKeyUri string = ''

@description('Optional. Resource id of the user-assigned identity that unwraps the customer-managed key; with customerManagedKeyUri.')
param customerManagedKeyIdentityResourceId string = ''

var containers = loadJsonContent('../../src/adapters/cosmos/cosmos-containers.json')
var useCmk = !empty(customerManagedKeyUri)

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  identity: useCmk
    ? { type: 'UserAssigned', userAssignedIdentities: { '${customerManagedKeyIdentityResourceId}': {} } }
    : { type: 'None' }
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: zoneRedundant }]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    publicNetworkAccess: 'Disabled'
    minimalTlsVersion: 'Tls12'
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: { tier: backupPolicyContinuousTier }
    }
    keyVaultKeyUri: useCmk ? customerManagedKeyUri : null
    defaultIdentity: useCmk ? 'UserAssignedIdentity=${customerManagedKeyIdentityResourceId}' : 'FirstPartyIdentity'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: { resource: { id: databaseName } }
}

resource records 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: recordsContainerName
  properties: {
    resource: {
      id: recordsContainerName
      partitionKey: { paths: [containers.records.partitionKeyPath], kind: 'Hash', version: 2 }
      indexingPolicy: containers.records.indexingPolicy
    }
    options: { autoscaleSettings: { maxThroughput: recordsMaxThroughput } }
  }
}

resource ledger 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: ledgerContainerName
  properties: {
    resource: {
      id: ledgerContainerName
      partitionKey: { paths: [containers.ledger.partitionKeyPath], kind: 'Hash', version: 2 }
      indexingPolicy: containers.ledger.indexingPolicy
      // -1: TTL on, nothing expires unless an item carries its own ttl (history entries).
      defaultTtl: containers.ledger.defaultTtl
    }
    options: { autoscaleSettings: { maxThroughput: ledgerMaxThroughput } }
  }
}

@description('Resource id of the account.')
output resourceId string = account.id

@description('Name of the account.')
output name string = account.name

@description('Document endpoint of the account (COSMOS_ENDPOINT).')
output endpoint string = account.properties.documentEndpoint
