// A consumer's program, run from a clean project that installed the packed tarball: the embedded stores
// (SQLite and the file archive in DATA_DIR), create, read, archive with asOf ahead, read back identical.
import assert from 'node:assert/strict';
import { etagOf, openDataAccess, serializeRecord } from 'billing-archive';
import { sampleInvoice, twoDaysAhead } from './sample-invoice.mjs';

const layer = await openDataAccess({
  settings: {
    DATA_DIR: process.env.DATA_DIR,
    EMBEDDED_ARCHIVE: 'files',
    ARCHIVE_GRACE_PERIOD: 'PT0S',
    LOG_LEVEL: 'silent',
  },
});
try {
  const created = await layer.records.create('cust-consumer', sampleInvoice('INV-000001', 'USD'));
  const key = { customerId: 'cust-consumer', id: created.id };
  const hot = await layer.records.get(key);
  assert.equal(hot.tier, 'hot');
  const report = await layer.archival.run({ asOf: twoDaysAhead() });
  assert.equal(report.status, 'succeeded', JSON.stringify(report));
  const archived = await layer.records.get(key);
  assert.notEqual(archived.tier, 'hot');
  // The same bytes and ETag the HTTP API answers, whatever tier served the record.
  assert.equal(serializeRecord(archived.record), serializeRecord(hot.record));
  assert.equal(etagOf(archived.record.version), etagOf(hot.record.version));
  assert.deepStrictEqual(archived.record, hot.record);
  process.stdout.write(
    `${JSON.stringify({ node: process.version, before: hot.tier, after: archived.tier, counts: report.counts })}\n`,
  );
} finally {
  await layer.close();
}
