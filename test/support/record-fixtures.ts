// Records for tests: small, valid, and distinct per call.
import { gzipSync } from 'node:zlib';
import { archiveUploadRequest } from '../../src/archival/copy-step.ts';
import { ARCHIVE_METADATA, buildArchiveArtifact, sha256Hex } from '../../src/domain/archive-artifact.ts';
import type { BillingRecord, RecordInput } from '../../src/domain/billing-record.ts';
import {
  fullDocument,
  type FullDocument,
  type StubDocument,
  summaryOf,
} from '../../src/domain/record-document.ts';
import type { ArchiveStore } from '../../src/ports/archive-store.ts';

let sequence = 0;

/** Starts the invoice numbers and default ids over (a suite run twice answers the same bytes). */
export function resetFixtureSequence(): void {
  sequence = 0;
}

export function makeInput(overrides: Partial<RecordInput> = {}): RecordInput {
  sequence += 1;
  const lineItems = overrides.lineItems ?? [
    { sku: 'vm-d4s', description: 'D4s v5, 720 h', quantity: 720, unitPriceMinor: 19, amountMinor: 13680 },
    { sku: 'disk-p10', description: 'P10 disk', quantity: 1, unitPriceMinor: 1500, amountMinor: 1500 },
  ];
  const subtotalMinor = lineItems.reduce((sum, item) => sum + item.amountMinor, 0);
  const taxMinor = overrides.taxMinor ?? 1518;
  return {
    invoiceNumber: `INV-${String(sequence).padStart(6, '0')}`,
    issuedAt: '2024-05-01T10:00:00.000Z',
    billingPeriod: { start: '2024-04-01', end: '2024-04-30' },
    currency: 'USD',
    status: 'issued',
    lineItems,
    subtotalMinor,
    taxMinor,
    totalMinor: subtotalMinor + taxMinor,
    metadata: { region: 'eastus' },
    ...overrides,
  };
}

export function makeRecord(overrides: Partial<BillingRecord> = {}): BillingRecord {
  const { version, createdAt, updatedAt, id, customerId, ...inputOverrides } = overrides;
  const input = makeInput(inputOverrides);
  return {
    ...input,
    id: id ?? `inv-${sequence}`,
    customerId: customerId ?? 'cust-1',
    version: version ?? 1,
    createdAt: createdAt ?? '2024-05-01T10:00:00.000Z',
    updatedAt: updatedAt ?? '2024-05-01T10:00:00.000Z',
  };
}

export function makeDocument(overrides: Partial<BillingRecord> = {}): FullDocument {
  return fullDocument(makeRecord(overrides));
}

export function makeStub(record: BillingRecord, sys: StubDocument['sys'] = {}): StubDocument {
  const summary = summaryOf(fullDocument(record));
  return {
    id: record.id,
    customerId: record.customerId,
    tier: 'archived',
    summary,
    sys,
    archive: {
      blobPath: `2024/05/${record.customerId}/${record.id}/v${record.version}.json.gz`,
      sha256: 'a'.repeat(64),
      size: 1234,
      encoding: 'gzip',
      archivedAt: '2024-09-01T00:00:00.000Z',
    },
  };
}

/**
 * Archives `record` as the first release (schema v1) stored it: the record with a flat billing period and
 * no amount per line item, gzip, metadata `schemaversion: 1`; answers the stub that points at it. Reading
 * it must upcast to `record` itself.
 */
export async function archiveAsSchemaV1(archive: ArchiveStore, record: BillingRecord): Promise<StubDocument> {
  const { billingPeriod, lineItems, ...rest } = record;
  const v1 = {
    ...rest,
    periodStart: billingPeriod.start,
    periodEnd: billingPeriod.end,
    lineItems: lineItems.map(({ amountMinor: _amount, ...item }) => item),
  };
  const json = Buffer.from(JSON.stringify(v1), 'utf8');
  const current = buildArchiveArtifact(record);
  const sha256 = sha256Hex(json);
  await archive.putIfAbsent({
    ...archiveUploadRequest(current),
    body: gzipSync(json),
    metadata: {
      ...current.metadata,
      [ARCHIVE_METADATA.schemaVersion]: '1',
      [ARCHIVE_METADATA.sha256]: sha256,
      [ARCHIVE_METADATA.size]: String(json.byteLength),
    },
  });
  const stub = makeStub(record);
  return { ...stub, archive: { ...stub.archive, blobPath: current.path, sha256, size: json.byteLength } };
}
