// A consumer's program over clients it opened itself (an existing service's Cosmos DB container and Blob
// containers), as a Functions app on Node 20 or 22 would: create, read, archive with asOf ahead, read
// back identical, and its own client still works after the layer closed.
import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { CosmosClient } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  etagOf,
  indexingGaps,
  LEDGER_INDEXING_POLICY,
  openDataAccess,
  RECORDS_INDEXING_POLICY,
  serializeRecord,
} from 'billing-archive';
import { sampleInvoice, twoDaysAhead } from './sample-invoice.mjs';

const cosmos = new CosmosClient({
  endpoint: process.env.COSMOS_ENDPOINT,
  key: process.env.COSMOS_KEY,
  // The emulator's self-signed certificate only.
  agent: new Agent({ rejectUnauthorized: false }),
});
// One database and set of containers per Node version: the test runs this program on each against one emulator.
const run = `node${process.versions.node.split('.')[0]}`;
const { database } = await cosmos.databases.createIfNotExists({ id: `billing-${run}` });
// The engine's queries need these policies (an existing container: `npm run archive -- check-indexing`).
const container = async (id, indexingPolicy) =>
  (
    await database.containers.createIfNotExists({
      id,
      partitionKey: { paths: ['/customerId'] },
      indexingPolicy,
    })
  ).container;
const blobs = BlobServiceClient.fromConnectionString(process.env.BLOB_CONNECTION_STRING);
const blobContainer = async (name) => {
  const client = blobs.getContainerClient(name);
  await client.createIfNotExists();
  return client;
};
const clients = {
  records: await container('records', RECORDS_INDEXING_POLICY),
  ledger: await container('archive-ledger', LEDGER_INDEXING_POLICY),
  archive: await blobContainer(`archive-${run}`),
  control: await blobContainer(`archive-control-${run}`),
  audit: await blobContainer(`audit-${run}`),
};

assert.deepEqual(indexingGaps((await clients.records.read()).resource.indexingPolicy), []);

const layer = await openDataAccess({
  clients,
  settings: { ARCHIVE_GRACE_PERIOD: 'PT0S', LOG_LEVEL: 'silent' },
});
let hot;
let archived;
let report;
try {
  const created = await layer.records.create('cust-clients', sampleInvoice('INV-000002', 'EUR'));
  const key = { customerId: 'cust-clients', id: created.id };
  hot = await layer.records.get(key);
  report = await layer.archival.run({ asOf: twoDaysAhead() });
  assert.equal(report.status, 'succeeded', JSON.stringify(report));
  archived = await layer.records.get(key);
  assert.equal(hot.tier, 'hot');
  assert.notEqual(archived.tier, 'hot');
  // The same bytes and ETag the HTTP API answers, whatever tier served the record.
  assert.equal(serializeRecord(archived.record), serializeRecord(hot.record));
  assert.equal(etagOf(archived.record.version), etagOf(hot.record.version));
  assert.deepStrictEqual(archived.record, hot.record);
} finally {
  await layer.close();
}
// Closing the layer leaves the caller's clients open.
const { resources } = await clients.records.items.readAll().fetchAll();
assert.equal(resources.length, 1);
cosmos.dispose();
process.stdout.write(
  `${JSON.stringify({ node: process.version, before: hot.tier, after: archived.tier, counts: report.counts })}\n`,
);
