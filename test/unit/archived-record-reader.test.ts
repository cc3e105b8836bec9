// The in-process layer of decoded archived records: a hit touches neither the shared cache nor Blob,
// is never served for another version, is frozen (every later reader shares it), and is bounded.
import { describe, expect, it } from 'vitest';
import { LruMemoryCache } from '../../src/adapters/lru/lru-memory-cache.ts';
import { MemoryArchiveStore } from '../fakes/memory-archive-store.ts';
import { archiveUploadRequest } from '../../src/archival/copy-step.ts';
import { buildArchiveArtifact } from '../../src/domain/archive-artifact.ts';
import { type BillingRecord, serializeRecord } from '../../src/domain/billing-record.ts';
import type { StubDocument } from '../../src/domain/record-document.ts';
import type { Cache } from '../../src/ports/cache.ts';
import { ArchivedRecordReader } from '../../src/records/archived-record-reader.ts';
import { archiveAsSchemaV1, makeRecord, makeStub } from '../support/record-fixtures.ts';

/** Counts the shared cache's reads, so a test can tell which layer answered. */
class CountingCache extends LruMemoryCache {
  gets = 0;
  readonly keysSet: string[] = [];
  override get(key: string): ReturnType<Cache['get']> {
    this.gets++;
    return super.get(key);
  }
  override set(key: string, value: Uint8Array, ttlMs: number): ReturnType<Cache['set']> {
    this.keysSet.push(key);
    return super.set(key, value, ttlMs);
  }
}

async function archived(archive: MemoryArchiveStore, record: BillingRecord): Promise<StubDocument> {
  const artifact = buildArchiveArtifact(record);
  await archive.putIfAbsent(archiveUploadRequest(artifact));
  const stub = makeStub(record);
  return {
    ...stub,
    archive: { ...stub.archive, blobPath: artifact.path, sha256: artifact.sha256, size: artifact.size },
  };
}

function setUp(decodedCacheBytes: number): {
  archive: MemoryArchiveStore;
  cache: CountingCache;
  reader: ArchivedRecordReader;
  blobReads: () => number;
} {
  const archive = new MemoryArchiveStore();
  const cache = new CountingCache({ maxBytes: 16 * 1024 * 1024 });
  let blobReads = 0;
  const reader = new ArchivedRecordReader({
    archive,
    cache,
    decodedCacheBytes,
    events: { onBlobRead: () => blobReads++ },
  });
  return { archive, cache, reader, blobReads: () => blobReads };
}

describe('ArchivedRecordReader, decoded records in process', () => {
  it('answers a repeated read from process memory, without the shared cache or Blob', async () => {
    const { archive, cache, reader, blobReads } = setUp(1024 * 1024);
    const record = makeRecord({ id: 'inv-a' });
    const stub = await archived(archive, record);

    const first = await reader.read(stub);
    expect(first.source).toBe('archive');
    expect(first.record).toEqual(record);
    const second = await reader.read(stub);
    expect(second).toEqual({ record, source: 'cache' });
    expect(second.record).toBe(first.record);
    expect([blobReads(), cache.gets]).toEqual([1, 1]);
  });

  it('hands out a frozen record, so no caller can change what the next one reads', async () => {
    const { archive, reader } = setUp(1024 * 1024);
    const stub = await archived(archive, makeRecord({ id: 'inv-frozen' }));
    const { record } = await reader.read(stub);
    expect(Object.isFrozen(record)).toBe(true);
    expect(Object.isFrozen(record.lineItems[0])).toBe(true);
    expect(() => {
      (record as { status: string }).status = 'void';
    }).toThrow(TypeError);
    expect((await reader.read(stub)).record.status).toBe('issued');
  });

  it('never answers the record kept for one version when the stub names another', async () => {
    const { archive, reader } = setUp(1024 * 1024);
    const v1 = makeRecord({ id: 'inv-v', version: 1 });
    const v2 = { ...v1, version: 2, status: 'paid' as const };
    const stub1 = await archived(archive, v1);
    const stub2 = await archived(archive, v2);
    expect((await reader.read(stub1)).record.status).toBe('issued');
    const second = await reader.read(stub2);
    expect(second.source).toBe('archive');
    expect(second.record).toEqual(v2);
  });

  it('forgets a record on request: the next read goes to the shared cache again', async () => {
    const { archive, cache, reader, blobReads } = setUp(1024 * 1024);
    const stub = await archived(archive, makeRecord({ id: 'inv-forget' }));
    await reader.read(stub);
    await reader.forget(stub);
    expect((await reader.read(stub)).source).toBe('archive');
    expect([blobReads(), cache.gets]).toEqual([2, 2]);
  });

  it('keeps nothing when turned off (0 bytes): every read asks the shared cache', async () => {
    const { archive, cache, reader, blobReads } = setUp(0);
    const stub = await archived(archive, makeRecord({ id: 'inv-off' }));
    await reader.read(stub);
    const again = await reader.read(stub);
    expect(again.source).toBe('cache');
    expect(Object.isFrozen(again.record)).toBe(false);
    expect([blobReads(), cache.gets]).toEqual([1, 2]);
  });

  it('stays within its bytes: the least recently read record is dropped first', async () => {
    const records = ['inv-1', 'inv-2', 'inv-3'].map((id) => makeRecord({ id }));
    const archive = new MemoryArchiveStore();
    const stubs = await Promise.all(records.map((record) => archived(archive, record)));
    const size = Math.max(...stubs.map((stub) => stub.archive.size));
    let blobReads = 0;
    // Room for two records, not three.
    const reader = new ArchivedRecordReader({
      archive,
      decodedCacheBytes: size * 2 + 1,
      events: { onBlobRead: () => blobReads++ },
    });
    for (const stub of stubs) await reader.read(stub);
    expect(blobReads).toBe(3);
    expect((await reader.read(stubs[2]!)).source).toBe('cache');
    expect((await reader.read(stubs[0]!)).source).toBe('archive');
  });
});

describe('ArchivedRecordReader, a record archived under an older schema', () => {
  it('answers the upcast record, the same bytes, from Blob, from the shared cache and from process memory', async () => {
    const archive = new MemoryArchiveStore();
    const shared = new CountingCache({ maxBytes: 16 * 1024 * 1024 });
    const record = makeRecord({ id: 'inv-schema-v1' });
    const stub = await archiveAsSchemaV1(archive, record);
    const expected = serializeRecord(record);
    let blobReads = 0;
    const process = (decodedCacheBytes: number): ArchivedRecordReader =>
      new ArchivedRecordReader({
        archive,
        cache: shared,
        decodedCacheBytes,
        events: { onBlobRead: () => blobReads++ },
      });

    const first = process(1024 * 1024);
    const fromBlob = await first.read(stub);
    expect(fromBlob.source).toBe('archive');
    expect(serializeRecord(fromBlob.record)).toBe(expected);

    // Another process: only the shared cache holds the record for it.
    const second = process(1024 * 1024);
    const fromShared = await second.read(stub);
    expect(fromShared.source).toBe('cache');
    expect([blobReads, shared.gets]).toEqual([1, 2]);
    expect(serializeRecord(fromShared.record)).toBe(expected);

    // And the in-process layer of each, filled by a Blob read and by a shared-cache read.
    for (const reader of [first, second]) {
      const fromMemory = await reader.read(stub);
      expect(fromMemory.source).toBe('cache');
      expect(serializeRecord(fromMemory.record)).toBe(expected);
    }
    expect([blobReads, shared.gets]).toEqual([1, 2]);

    // A process without the in-process layer reads the shared cache every time.
    const third = process(0);
    for (let i = 0; i < 2; i++) {
      const read = await third.read(stub);
      expect(read.source).toBe('cache');
      expect(serializeRecord(read.record)).toBe(expected);
    }
    expect(blobReads).toBe(1);
  });

  it('takes a cached entry that does not say its schema (an older build wrote the plain blob) as a miss', async () => {
    const { archive, cache, reader, blobReads } = setUp(0);
    const record = makeRecord({ id: 'inv-schema-unknown' });
    const stub = await archiveAsSchemaV1(archive, record);
    await reader.read(stub);
    const [key] = cache.keysSet;
    const blob = await archive.get(stub.archive.blobPath);
    await cache.set(key!, blob!.body, 60_000);

    const read = await reader.read(stub);
    expect(read.source).toBe('archive');
    expect(serializeRecord(read.record)).toBe(serializeRecord(record));
    const again = await reader.read(stub);
    expect(again.source).toBe('cache');
    expect(serializeRecord(again.record)).toBe(serializeRecord(record));
    expect(blobReads()).toBe(2);
  });
});

describe('ArchivedRecordReader, bulk reads (an export)', () => {
  it('fills neither the shared cache nor process memory, and still answers from a cache that holds the record', async () => {
    const { archive, cache, reader, blobReads } = setUp(1024 * 1024);
    const record = makeRecord({ id: 'inv-bulk' });
    const stub = await archived(archive, record);

    expect(await reader.read(stub, { bulk: true })).toEqual({ record, source: 'archive' });
    expect(await reader.read(stub, { bulk: true })).toEqual({ record, source: 'archive' });
    expect(cache.keysSet).toEqual([]);
    expect(blobReads()).toBe(2);
    // A normal read fills both layers; a bulk read is then answered from process memory.
    expect((await reader.read(stub)).source).toBe('archive');
    expect(cache.keysSet).toHaveLength(1);
    expect(await reader.read(stub, { bulk: true })).toEqual({ record, source: 'cache' });
    expect(blobReads()).toBe(3);
  });
});

describe('ArchivedRecordReader, bulk reads as JSON bytes (an export)', () => {
  it('answers a current-schema blob as its verified bytes, unparsed, filling no cache', async () => {
    const { archive, cache, reader, blobReads } = setUp(1024 * 1024);
    const record = makeRecord({ id: 'inv-json' });
    const stub = await archived(archive, record);

    const read = await reader.readJson(stub);
    expect(read.source).toBe('archive');
    expect(read.json?.toString('utf8')).toBe(serializeRecord(record));
    expect(cache.keysSet).toEqual([]);
    // Nothing was kept in process either: the next read goes to Blob again.
    expect((await reader.readJson(stub)).source).toBe('archive');
    expect(blobReads()).toBe(2);
  });

  it('answers the bytes from a shared cache that holds the blob, and the record kept in process as a record', async () => {
    const { archive, reader, blobReads } = setUp(0);
    const record = makeRecord({ id: 'inv-json-cached' });
    const stub = await archived(archive, record);
    await reader.read(stub);
    const fromShared = await reader.readJson(stub);
    expect(fromShared.source).toBe('cache');
    expect(fromShared.json?.toString('utf8')).toBe(serializeRecord(record));
    expect(blobReads()).toBe(1);

    const decoded = setUp(1024 * 1024);
    const kept = await archived(decoded.archive, record);
    await decoded.reader.read(kept);
    expect(await decoded.reader.readJson(kept)).toEqual({ record, source: 'cache' });
  });

  it('answers a blob of an older schema as the upcast record, never its stored bytes', async () => {
    const { archive, reader } = setUp(0);
    const record = makeRecord({ id: 'inv-json-v1' });
    const stub = await archiveAsSchemaV1(archive, record);
    const read = await reader.readJson(stub);
    expect(read.json).toBeUndefined();
    expect(serializeRecord(read.record!)).toBe(serializeRecord(record));
  });

  it('checks every blob against its stub: a mismatch is reported once and never answered', async () => {
    const archive = new MemoryArchiveStore();
    const failures: string[] = [];
    const reader = new ArchivedRecordReader({
      archive,
      events: { onIntegrityFailure: (stub, error) => failures.push(`${stub.id}: ${error.code}`) },
    });
    const stub = await archived(archive, makeRecord({ id: 'inv-json-tampered' }));
    const tampered = { ...stub, archive: { ...stub.archive, sha256: 'b'.repeat(64) } };
    await expect(reader.readJson(tampered)).rejects.toMatchObject({ code: 'ARCHIVE_INTEGRITY' });
    const missing = { ...stub, archive: { ...stub.archive, blobPath: '2024/05/c/none/v1.json.gz' } };
    await expect(reader.readJson(missing)).rejects.toMatchObject({ code: 'ARCHIVE_INTEGRITY' });
    expect(failures).toEqual([
      'inv-json-tampered: ARCHIVE_INTEGRITY',
      'inv-json-tampered: ARCHIVE_INTEGRITY',
    ]);
  });
});
