// The archive's storage account: archived records (uploaded straight to Cold by the code), the control
// container (run reports, watermarks, leases), the audit trail under a time-based immutability policy,
// and the queue of admin-started archival runs. Entra ID only, private endpoints only, TLS 1.2.

@description('Required. Name of the storage account (3-24 lower-case letters and digits).')
param name string

@description('Required. Azure region of the account.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Optional. Redundancy of the account.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param skuName string = 'Standard_ZRS'

@description('Required. Container of archived records.')
param archiveContainerName string

@description('Required. Container of run reports, watermarks and leases.')
param controlContainerName string

@description('Required. Container of the audit trail (append blobs, a blob per day and instance).')
param auditContainerName string

@description('Required. Queue of admin-started archival runs.')
param runQueueName string

@description('Optional. Days each audit blob stays immutable (time-based retention, protected appends allowed).')
@minValue(1)
param auditImmutabilityDays int = 2555

@description('Optional. True once an operator has locked the audit container\'s immutability policy (docs/operations.md): a locked policy can only be extended and refuses the create-or-update a declaration sends, so it is no longer declared.')
param auditImmutabilityLocked bool = false

@description('Optional. Version-level immutability on the archive container, which BLOB_LEGAL_HOLDS needs (fixed at creation).')
param archiveLegalHolds bool = false

@description('Optional. Days deleted blobs and containers stay recoverable (soft delete).')
@minValue(1)
@maxValue(365)
param softDeleteRetentionDays int = 14

@description('Optional. Days a previous blob version is kept before the lifecycle policy deletes it (deletions by retention and erasure become final then).')
@minValue(1)
param previousVersionRetentionDays int = 30

@description('Optional. URI of the Key Vault holding the customer-managed key; empty: Microsoft-managed keys.')
param customerManagedKeyVaultUri string = ''

@description('Optional. Name of the customer-managed key (unversioned: rotation needs no deployment); with customerManagedKeyVaultUri.')
param customerManagedKeyName string = ''

@description('Optional. Resource id of the user-assigned identity that unwraps the customer-managed key; with customerManagedKeyUri.')
param customerManagedKeyIdentityResourceId string = ''

var useCmk = !empty(customerManagedKeyVaultUri)

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  identity: useCmk
    ? { type: 'UserAssigned', userAssignedIdentities: { '${customerManagedKeyIdentityResourceId}': {} } }
    : { type: 'None' }
  properties: {
    // No per-container default tier exists: the account stays Hot for the control and audit blobs (rewritten
    // often; Cold would charge early deletion) and the archive adapter uploads every record to Cold itself.
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' }
    encryption: useCmk
      ? {
          keySource: 'Microsoft.Keyvault'
          identity: { userAssignedIdentity: customerManagedKeyIdentityResourceId }
          keyvaultproperties: { keyvaulturi: customerManagedKeyVaultUri, keyname: customerManagedKeyName }
          // Settable only when the account is created: customerManagedKeys is fixed at creation.
          requireInfrastructureEncryption: true
          services: { blob: { enabled: true }, queue: { enabled: true, keyType: 'Account' } }
        }
      : {
          keySource: 'Microsoft.Storage'
          services: { blob: { enabled: true }, queue: { enabled: true, keyType: 'Account' } }
        }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: { enabled: true, days: softDeleteRetentionDays }
    containerDeleteRetentionPolicy: { enabled: true, days: softDeleteRetentionDays }
  }
}

resource archiveContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: archiveContainerName
  properties: {
    publicAccess: 'None'
    immutableStorageWithVersioning: { enabled: archiveLegalHolds }
  }
}

resource controlContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: controlContainerName
  properties: { publicAccess: 'None' }
}

resource auditContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: auditContainerName
  properties: { publicAccess: 'None' }
}

// Created unlocked, which is not yet WORM (an unlocked policy can be shortened or deleted): the runbook locks
// it once the period is agreed (irreversible), and auditImmutabilityLocked then stops declaring it.
resource auditImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2024-01-01' = if (!auditImmutabilityLocked) {
  parent: auditContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditImmutabilityDays
    // The trail is append blobs: new blocks may be appended, none changed or deleted.
    allowProtectedAppendWrites: true
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource runQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2024-01-01' = {
  parent: queueService
  name: runQueueName
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          // A safety net: anything in the archive container still Hot a day after upload goes Cold.
          name: 'archive-to-cold'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['${archiveContainerName}/'] }
            actions: { baseBlob: { tierToCold: { daysAfterModificationGreaterThan: 1 } } }
          }
        }
        {
          // Versioning keeps every overwritten or deleted blob; control blobs change on every run.
          name: 'expire-previous-versions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'] }
            actions: { version: { delete: { daysAfterCreationGreaterThan: previousVersionRetentionDays } } }
          }
        }
      ]
    }
  }
  dependsOn: [blobService]
}

@description('Resource id of the account.')
output resourceId string = account.id

@description('Name of the account.')
output name string = account.name

@description('Blob endpoint of the account (BLOB_ACCOUNT_URL).')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('Queue endpoint of the account (ARCHIVE_QUEUE__QUEUESERVICEURI).')
output queueEndpoint string = account.properties.primaryEndpoints.queue
