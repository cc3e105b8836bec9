// Optional customer-managed keys: a Key Vault (RBAC, purge protection, trusted services only), a key, and
// the user-assigned identity Cosmos DB and Storage unwrap it with. Deployed only when main.bicep's
// customerManagedKeys is true.

@description('Required. Name of the Key Vault.')
param name string

@description('Required. Name of the identity that unwraps the key for Cosmos DB and Storage.')
param identityName string

@description('Required. Azure region of both.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Optional. Name of the key.')
param keyName string = 'billing-cmk'

@description('Required. Resource id of the Log Analytics workspace the vault\'s audit events go to.')
param workspaceResourceId string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }
  }
}

resource key 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  parent: vault
  name: keyName
  properties: {
    kty: 'RSA'
    keySize: 3072
    keyOps: ['wrapKey', 'unwrapKey']
    rotationPolicy: {
      lifetimeActions: [{ action: { type: 'rotate' }, trigger: { timeBeforeExpiry: 'P30D' } }]
      attributes: { expiryTime: 'P1Y' }
    }
  }
}

// Key Vault Crypto Service Encryption User: wrap and unwrap with the vault's keys, nothing else.
var cryptoServiceEncryptionUser = 'e147488a-f6f5-4113-8e2d-b22465e65bf6'

resource unwrap 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, identity.id, cryptoServiceEncryptionUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cryptoServiceEncryptionUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Every use of the key (wrap, unwrap by Cosmos DB and Storage) and every access decision, for audit.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceResourceId
    logs: [{ category: 'AuditEvent', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

@description('URI of the vault.')
output vaultUri string = vault.properties.vaultUri

@description('Name of the key.')
output keyName string = key.name

@description('Unversioned URI of the key (Cosmos DB keyVaultKeyUri).')
output keyUri string = key.properties.keyUri

@description('Resource id of the identity that unwraps the key.')
output identityResourceId string = identity.id
