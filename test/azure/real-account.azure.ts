// `npm run test:azure`: the record-store, ledger, archive-store and control-store contract suites against
// a real Azure account, signed in with DefaultAzureCredential and nothing more than the data-plane roles the
// deployment grants (Cosmos DB Built-in Data Contributor, Storage Blob Data Contributor). It proves what the
// emulators cannot: Entra ID sign-in, the roles, real etags, throttling and indexing policies. Not part of
// `npm test`; without its settings it fails, naming them, rather than passing by skipping.
import { CosmosClient } from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobArchiveStore } from '../../src/adapters/blob/blob-archive-store.ts';
import { BlobControlStore } from '../../src/adapters/blob/blob-control-store.ts';
import { CosmosArchiveLedger } from '../../src/adapters/cosmos/cosmos-archive-ledger.ts';
import { CosmosRecordStore } from '../../src/adapters/cosmos/cosmos-record-store.ts';
import { describeArchiveLedgerContract } from '../contract/archive-ledger.contract.ts';
import { describeArchiveStoreContract } from '../contract/archive-store.contract.ts';
import { describeControlStoreContract } from '../contract/archival-control-store.contract.ts';
import { describeRecordStoreContract } from '../contract/record-store.contract.ts';
import type { QueryPageMetrics } from '../../src/ports/operation-options.ts';

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

// Issue 20, item 5: what the emulator cannot show. A scan without a partition key goes to every physical
// partition (feed range) of the container, and the service reports its query metrics per partition; one
// customer's scan goes to one. On a container with a single range both are one request.
describe('query fan-out over the feed ranges (real account, Entra ID)', () => {
  const containerId = env.COSMOS_CONTAINER ?? 'records';
  let store: CosmosRecordStore;
  let client: CosmosClient;
  let ranges: number;

  beforeAll(async () => {
    store = await CosmosRecordStore.connect({ ...cosmos, containerId });
    client = new CosmosClient({ endpoint: cosmos.endpoint, aadCredentials: new DefaultAzureCredential() });
    ranges = (await client.database(cosmos.databaseId).container(containerId).getFeedRanges()).length;
  });
  afterAll(async () => {
    await store?.close();
    client?.dispose();
  });

  it('sends an unscoped scan page to every feed range, and a customer scan to one, with service metrics', async () => {
    const unscoped: QueryPageMetrics[] = [];
    await store.scan({ tier: 'hot', limit: 10 }, { onQueryPage: (page) => unscoped.push(page) });
    expect(ranges).toBeGreaterThanOrEqual(1);
    expect(unscoped[0]?.partitionRequests).toBe(ranges);
    expect(unscoped[0]?.service?.partitions).toBe(ranges);
    const scoped: QueryPageMetrics[] = [];
    await store.scan(
      { tier: 'hot', limit: 10, customerId: 'cust-fanout-probe' },
      { onQueryPage: (page) => scoped.push(page) },
    );
    expect(scoped.map((page) => page.partitionRequests)).toEqual(scoped.map(() => 1));
    if (ranges > 1) {
      // The point of the measurement: the unscoped page paid the fixed part on each range.
      expect(unscoped[0]!.partitionRequests).toBeGreaterThan(scoped[0]!.partitionRequests);
    }
  });
});
