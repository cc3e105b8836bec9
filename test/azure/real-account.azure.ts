// `npm run test:azure`: the record-store, ledger, archive-store and control-store contract suites against
// a real Azure account, signed in with DefaultAzureCredential and nothing more than the data-plane roles the
// deployment grants (Cosmos DB Built-in Data Contributor, Storage Blob Data Contributor). It proves what the
// emulators cannot: Entra ID sign-in, the roles, real etags, throttling and indexing policies. Not part of
// `npm test`; without its settings it fails, naming them, rather than passing by skipping.
import { BlobArchiveStore } from '../../src/adapters/blob/blob-archive-store.ts';
import { BlobControlStore } from '../../src/adapters/blob/blob-control-store.ts';
import { CosmosArchiveLedger } from '../../src/adapters/cosmos/cosmos-archive-ledger.ts';
import { CosmosRecordStore } from '../../src/adapters/cosmos/cosmos-record-store.ts';
import { describeArchiveLedgerContract } from '../contract/archive-ledger.contract.ts';
import { describeArchiveStoreContract } from '../contract/archive-store.contract.ts';
import { describeControlStoreContract } from '../contract/archival-control-store.contract.ts';
import { describeRecordStoreContract } from '../contract/record-store.contract.ts';

const env = process.env;
const missing = ['COSMOS_ENDPOINT', 'BLOB_ACCOUNT_URL', 'AZURE_TEST_LEDGER_CONTAINER'].filter(
  (name) => (env[name] ?? '') === '',
);
if (missing.length > 0) {
  throw new Error(
    `npm run test:azure needs ${missing.join(', ')} (a test account; see README.md, "Checking against a real account")`,
  );
}
// The point is the roles: an account key or connection string would bypass them.
const keys = ['COSMOS_KEY', 'BLOB_CONNECTION_STRING'].filter((name) => (env[name] ?? '') !== '');
if (keys.length > 0) {
  throw new Error(`npm run test:azure signs in with DefaultAzureCredential only: unset ${keys.join(', ')}`);
}

const cosmos = {
  endpoint: env.COSMOS_ENDPOINT ?? '',
  databaseId: env.COSMOS_DATABASE ?? 'billing',
  allowInsecureTls: false,
};
const blob = { accountUrl: env.BLOB_ACCOUNT_URL ?? '' };

describeRecordStoreContract('cosmos (real account, Entra ID)', async () => {
  const store = await CosmosRecordStore.connect({
    ...cosmos,
    containerId: env.COSMOS_CONTAINER ?? 'records',
  });
  return { store, insertRaw: (raw) => store.insertRaw(raw), dispose: () => store.close() };
});

// The ledger suite needs an empty ledger: a container of its own, never the deployment's.
describeArchiveLedgerContract('cosmos (real account, Entra ID)', async () => {
  const ledger = await CosmosArchiveLedger.connect({
    ...cosmos,
    containerId: env.AZURE_TEST_LEDGER_CONTAINER ?? '',
  });
  return { ledger, dispose: () => ledger.close() };
});

describeArchiveStoreContract('blob (real account, Entra ID)', async () => {
  const store = await BlobArchiveStore.connect({
    ...blob,
    containerName: env.BLOB_CONTAINER ?? 'billing-archive',
  });
  return { store, dispose: () => store.close() };
});

describeControlStoreContract(
  'blob (real account, Entra ID)',
  async () => {
    const store = await BlobControlStore.connect({
      ...blob,
      containerName: env.BLOB_CONTROL_CONTAINER ?? 'billing-archive-control',
    });
    return { store, dispose: () => store.close() };
  },
  { ownsClock: false },
);
