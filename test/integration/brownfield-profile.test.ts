// Issue 19's proof: an existing container of documents in their owner's shape (partition key /tenant, an
// epoch-seconds date, no version, nested data, documents over 1 MB), adopted through the library with a
// record profile, on the emulators (@vercel/cosmosdb-server, in-process Azurite). Archival, byte-identical
// reads from both tiers, lists from stubs, updates of archived documents, rehydration, and the owner's
// own `_etag` writes, which get 412 (never a lost update) when archival moved a document.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Container, CosmosClient, type Database } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedAzurite, startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import {
  type DataAccess,
  etagOf,
  indexingGaps,
  LEDGER_INDEXING_POLICY,
  recordsIndexingPolicy,
  openDataAccess,
  type RecordProfile,
} from '../../src/library/index.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';

const DAY_S = 86_400;
const TENANTS = ['t-north', 't-south'];
const PROFILE: RecordProfile = {
  name: 'legacy-invoices',
  idPath: '/id',
  partitionKeyPath: '/tenant',
  agePath: '/createdEpoch',
  ageFormat: 'epoch-seconds',
  stubFields: ['kind', 'state', 'amount'],
  canonical: false,
};

/** The owner's document shape: nothing the engine defines, fields in the owner's own order. */
function legacyDocument(index: number, ageDays: number, padBytes = 0): Record<string, unknown> {
  const nowS = Math.floor(Date.now() / 1000);
  return {
    tenant: TENANTS[index % 2]!,
    kind: 'invoice',
    id: `inv-${String(index).padStart(3, '0')}`,
    state: index % 3 === 0 ? 'paid' : 'open',
    createdEpoch: nowS - ageDays * DAY_S - index,
    amount: { value: 100 + index, currency: 'EUR', breakdown: [{ net: 80 + index, vat: 20 }] },
    history: [
      { at: nowS - ageDays * DAY_S, event: 'created', by: { user: 'u1', roles: ['billing', 'admin'] } },
      { at: null, event: 'exported', flags: { pdf: true, xml: false } },
    ],
    ...(padBytes > 0 ? { attachment: { name: 'scan.tiff', data: 'A'.repeat(padBytes) } } : {}),
    note: `unicode ✓ ${index}`,
  };
}

const OLD = 120; // days: past ARCHIVE_AFTER (P3M)
const originals = new Map<string, Record<string, unknown>>();
/** The `_etag` the owner's own Function read before archival (for its optimistic concurrency). */
const ownerEtags = new Map<string, string>();
/** The owner's bytes: what its own reads of the document give (Cosmos DB's system properties removed). */
const bytesOf = (document: unknown): string => JSON.stringify(document);
const keyOf = (document: Record<string, unknown>) => ({
  customerId: document.tenant as string,
  id: document.id as string,
});
const inDays = (days: number) => new Date(Date.now() + days * DAY_S * 1000).toISOString();

let emulator: CosmosEmulator;
let azurite: EmbeddedAzurite;
let cosmos: CosmosClient;
let database: Database;
let invoices: Container;
/** The owner's documents, as the library answers them with the profile. */
type LegacyDocument = Record<string, unknown>;
let layer: DataAccess<LegacyDocument, Partial<LegacyDocument>>;
const folder = mkdtempSync(join(tmpdir(), 'brownfield-'));

async function ownerRead(id: string, tenant: string): Promise<Record<string, unknown> & { _etag: string }> {
  const { resource } = await invoices.item(id, tenant).read<Record<string, unknown> & { _etag: string }>();
  return resource!;
}

function withoutCosmosProperties(document: Record<string, unknown>): Record<string, unknown> {
  const { _rid: _r, _self: _s, _etag: _e, _attachments: _a, _ts: _t, ...rest } = document;
  return rest;
}

beforeAll(async () => {
  emulator = await startCosmosEmulator();
  azurite = await startEmbeddedAzurite({ folder, port: 0, inMemory: true });
  cosmos = new CosmosClient({
    endpoint: emulator.endpoint,
    key: emulator.key,
    agent: new Agent({ rejectUnauthorized: false }),
  });
  ({ database } = await cosmos.databases.createIfNotExists({ id: 'legacy' }));
  // The owner's container: its own partition key, and the composite indexes the profile's queries need
  // (Cosmos DB, and the emulator, refuse a multi-property ORDER BY without one). Its default policy lacks them:
  const defaultPolicy = {
    indexingMode: 'consistent' as const,
    automatic: true,
    includedPaths: [{ path: '/*' }],
  };
  expect(indexingGaps(defaultPolicy, recordsIndexingPolicy(PROFILE)).map((gap) => gap.kind)).toEqual([
    'composite-index',
    'composite-index',
  ]);
  ({ container: invoices } = await database.containers.createIfNotExists({
    id: 'invoices',
    partitionKey: { paths: ['/tenant'] },
    indexingPolicy: { ...defaultPolicy, compositeIndexes: recordsIndexingPolicy(PROFILE).compositeIndexes! },
  }));
  const documents = [
    ...Array.from({ length: 12 }, (_, index) => legacyDocument(index, OLD)),
    ...Array.from({ length: 6 }, (_, index) => legacyDocument(100 + index, 10)),
    // Over 1 MB (the emulator has no item limit: the engine enforces Cosmos DB's 2 MB itself).
    ...[200, 201, 202].map((index) => legacyDocument(index, OLD, 1_200_000 + index)),
  ];
  for (const document of documents) {
    await invoices.items.create(document);
    originals.set(document.id as string, document);
  }
  const { container: ledger } = await database.containers.createIfNotExists({
    id: 'archive-ledger',
    partitionKey: { paths: ['/customerId'] },
    indexingPolicy: LEDGER_INDEXING_POLICY,
  });
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const blobContainer = async (name: string) => {
    const client = blobs.getContainerClient(name);
    await client.createIfNotExists();
    return client;
  };
  layer = await openDataAccess<LegacyDocument>({
    clients: {
      records: invoices,
      ledger,
      archive: await blobContainer('archive'),
      control: await blobContainer('archive-control'),
      audit: await blobContainer('audit'),
    },
    settings: { ARCHIVE_GRACE_PERIOD: 'P1D', LOG_LEVEL: 'silent' },
    profile: PROFILE,
  });
}, 60_000);

afterAll(async () => {
  await layer?.close();
  cosmos?.dispose();
  await azurite?.stop();
  await emulator?.stop();
  rmSync(folder, { recursive: true, force: true });
});

describe('a container of foreign documents adopted with a record profile', () => {
  it('reads documents written before adoption as hot, byte for byte', async () => {
    for (const original of originals.values()) {
      ownerEtags.set(
        original.id as string,
        (await ownerRead(original.id as string, original.tenant as string))._etag,
      );
      const read = await layer.records.get(keyOf(original));
      expect(read.tier).toBe('hot');
      expect(bytesOf(read.record)).toBe(bytesOf(original));
    }
    expect(await layer.records.countByTier()).toMatchObject({ hot: originals.size, archived: 0 });
  });

  it('archives the old ones in two phases; an owner write during the grace period is never lost', async () => {
    const copy = await layer.archival.run({ asOf: inDays(2) });
    expect(copy.counts).toMatchObject({ copied: 15, purged: 0, failed: 0 });

    // The owner's own Function changes a copied document with its `_etag`, as it always did.
    const touched = originals.get('inv-001')!;
    const before = await ownerRead('inv-001', touched.tenant as string);
    const changed = { ...withoutCosmosProperties(before), state: 'disputed' };
    await invoices.item('inv-001', touched.tenant as string).replace(changed, {
      accessCondition: { type: 'IfMatch', condition: before._etag },
    });
    originals.set('inv-001', changed);

    const purge = await layer.archival.run({ asOf: inDays(4) });
    // The purge is conditioned on the `_etag` the copy saw: the changed document stays whole.
    expect(purge.counts).toMatchObject({ purged: 14, failed: 0 });
    const kept = await layer.records.get(keyOf(touched));
    expect(kept.tier).toBe('hot');
    expect(bytesOf(kept.record)).toBe(bytesOf(changed));
    expect(await layer.records.countByTier()).toMatchObject({ archived: 14, hot: originals.size - 14 });
    expect((await layer.archival.verify()).mismatches).toEqual([]);
  });

  it('keeps small stubs in the container, and reads every document byte-identical from the archive', async () => {
    const stub = await ownerRead('inv-200', 't-north');
    expect(stub.sys).toMatchObject({ tier: 'archived', version: 1 });
    expect(stub).not.toHaveProperty('attachment');
    expect(Buffer.byteLength(JSON.stringify(stub))).toBeLessThan(2_000);
    for (const original of originals.values()) {
      const read = await layer.records.get(keyOf(original));
      expect(bytesOf(read.record)).toBe(bytesOf(original));
    }
    const large = await layer.records.get(keyOf(originals.get('inv-201')!));
    expect(large.tier).not.toBe('hot');
    expect(bytesOf(large.record).length).toBeGreaterThan(1_000_000);
  });

  it('lists from the stubs: the profile stub fields of every document, newest first, in pages', async () => {
    const seen: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await layer.records.list('t-north', { limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    const expected = [...originals.values()]
      .filter((document) => document.tenant === 't-north')
      .sort((a, b) => (b.createdEpoch as number) - (a.createdEpoch as number))
      .map(({ id, tenant, createdEpoch, kind, state, amount }) => ({
        id,
        tenant,
        createdEpoch,
        kind,
        state,
        amount,
      }));
    // Archived and hot alike: the stub fields only (no history, no attachment), whatever the tier.
    expect(seen).toEqual(expected);
  });

  it('gives an owner `_etag` write 412 after archival moved the document; the re-read and retry lose nothing', async () => {
    const original = originals.get('inv-004')!;
    const key = keyOf(original);
    expect((await layer.records.get(key)).tier).not.toBe('hot');
    // The owner read this document before archival moved it: that `_etag` is stale now.
    const { _etag: stubEtag } = await ownerRead('inv-004', key.customerId);
    const staleEtag = ownerEtags.get('inv-004')!;
    expect(stubEtag).not.toBe(staleEtag);
    const failed = await invoices
      .item('inv-004', key.customerId)
      .replace({ ...original, state: 'void' }, { accessCondition: { type: 'IfMatch', condition: staleEtag } })
      .then(
        () => 200,
        (error: { code?: number }) => error.code,
      );
    expect(failed).toBe(412);
    expect((await ownerRead('inv-004', key.customerId))._etag).toBe(stubEtag);

    // Re-read through the library (the record, not the stub) and write through it: conditional on the version.
    const reread = await layer.records.get(key);
    const updated = await layer.records.replace(
      key,
      { ...reread.record, state: 'void' },
      { ifMatch: etagOf(1) },
    );
    expect(updated).toEqual({ ...original, state: 'void' });
    expect(bytesOf(updated)).toBe(bytesOf({ ...original, state: 'void' }));
    const stored = await ownerRead('inv-004', key.customerId);
    expect(stored.sys).toMatchObject({ tier: 'hot', version: 2 });
    expect(bytesOf((await layer.records.get(key)).record)).toBe(bytesOf({ ...original, state: 'void' }));
    // A second writer still on version 1 is refused, not silently overwritten.
    await expect(
      layer.records.replace(key, { ...original, state: 'paid' }, { ifMatch: etagOf(1) }),
    ).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    originals.set('inv-004', { ...original, state: 'void' });
  });

  it('patches an archived document (rehydrating it) and keeps the owner key order', async () => {
    const original = originals.get('inv-202')!;
    const patched = await layer.records.patch(keyOf(original), { state: 'paid', extra: { a: 1 } }, {});
    expect(bytesOf(patched)).toBe(bytesOf({ ...original, state: 'paid', extra: { a: 1 } }));
    expect((await layer.records.get(keyOf(original))).tier).toBe('hot');
    originals.set('inv-202', patched);
  });

  it('refuses a write over Cosmos DB 2 MB item limit itself (the emulator has none)', async () => {
    const original = originals.get('inv-200')!;
    await expect(
      layer.records.replace(
        keyOf(original),
        { ...original, attachment: { data: 'B'.repeat(2_200_000) } },
        {},
      ),
    ).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' });
  });

  it('rehydrates: one record, then a tenant in bulk, back to the owner bytes in the container', async () => {
    const one = originals.get('inv-003')!;
    expect(await layer.records.rehydrate(keyOf(one))).toBe('rehydrated');
    const raw = withoutCosmosProperties(await ownerRead('inv-003', one.tenant as string));
    const { sys, ...owner } = raw;
    expect(bytesOf(owner)).toBe(bytesOf(one));
    expect(sys).toMatchObject({ tier: 'hot', version: 1 });

    await layer.rehydrations.run({ customerId: 't-south' });
    for (const original of originals.values()) {
      const read = await layer.records.get(keyOf(original));
      if (original.tenant === 't-south') expect(read.tier).toBe('hot');
      expect(bytesOf(read.record)).toBe(bytesOf(original));
    }
    expect((await layer.archival.verify()).mismatches).toEqual([]);
  });

  it('creates documents in the owner shape, with the engine version kept in the system property', async () => {
    const body = { tenant: 't-north', kind: 'credit-note', createdEpoch: 1_700_000_000, state: 'open' };
    const created = await layer.records.create('t-north', { id: 'cn-1', ...body });
    expect(bytesOf(created)).toBe(bytesOf({ id: 'cn-1', ...body }));
    expect((await ownerRead('cn-1', 't-north')).sys).toMatchObject({ tier: 'hot', version: 1 });
    await expect(
      layer.records.create('t-north', { id: 'cn-2', tenant: 't-north', createdEpoch: 'yesterday' }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('the same profile over the embedded stores (SQLite + file archive), opened from settings', () => {
  it('creates, archives and reads back the owner bytes; the billing list filters are refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'brownfield-embedded-'));
    const embedded = await openDataAccess<LegacyDocument>({
      settings: {
        DATA_DIR: dataDir,
        EMBEDDED_ARCHIVE: 'files',
        ARCHIVE_GRACE_PERIOD: 'PT0S',
        LOG_LEVEL: 'silent',
      },
      profile: PROFILE,
    });
    try {
      const document = legacyDocument(7, OLD);
      const created = await embedded.records.create('t-south', document);
      expect(bytesOf(created)).toBe(bytesOf(document));
      const report = await embedded.archival.run({ asOf: inDays(2) });
      expect(report.counts).toMatchObject({ copied: 1, purged: 1 });
      const read = await embedded.records.get(keyOf(document));
      expect(read.tier).not.toBe('hot');
      expect(bytesOf(read.record)).toBe(bytesOf(document));
      await expect(embedded.records.list('t-south', { status: 'paid' })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    } finally {
      await embedded.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
