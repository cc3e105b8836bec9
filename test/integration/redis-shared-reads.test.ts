// Issue 10, what processes share through a real Redis: an archived record written under an older schema
// is served upcast whichever process and layer answers it, and reads of archived records are counted
// across processes, so a read spike is reported once however the reads are spread. Never skipped:
// without Redis this file fails.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryArchiveStore } from '../fakes/memory-archive-store.ts';
import { RedisCache } from '../../src/adapters/redis/redis-cache.ts';
import { serializeRecord } from '../../src/domain/billing-record.ts';
import type { CacheErrorListener } from '../../src/ports/cache.ts';
import { ArchivedRecordReader } from '../../src/records/archived-record-reader.ts';
import { ReadSpikeDetector } from '../../src/records/read-spike-detector.ts';
import { waitUntil } from '../contract/cache.contract.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { archiveAsSchemaV1, makeRecord } from '../support/record-fixtures.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// One namespace per run: parallel runs never meet, and cleanup removes exactly what this run wrote.
const RUN_PREFIX = `billing-cache-test:${process.pid}:${randomUUID()}:`;

describe('shared state in a real Redis', () => {
  let admin: Redis | undefined;
  const caches: RedisCache[] = [];
  const failures: Array<Parameters<CacheErrorListener>> = [];
  let startFailure: Error | undefined;

  /** One process's connection to the shared Redis. */
  async function connect(): Promise<RedisCache> {
    const cache = new RedisCache(REDIS_URL, {
      keyPrefix: RUN_PREFIX,
      onError: (...failure) => failures.push(failure),
    });
    caches.push(cache);
    await waitUntil(() => cache.healthy(), { what: 'the cache to connect' });
    return cache;
  }

  // Without Redis each test fails with the reason; a failing beforeAll would only mark them skipped.
  beforeAll(async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 2_000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      admin = client;
    } catch (error) {
      client.disconnect();
      const where = process.env.CI === 'true' ? 'CI must provide it' : 'start redis-server or set REDIS_URL';
      startFailure = new Error(`Redis is not reachable at ${REDIS_URL}: ${where}`, { cause: error });
    }
  });
  beforeEach(() => {
    if (startFailure !== undefined) throw startFailure;
    failures.length = 0;
  });
  afterAll(async () => {
    await Promise.all(caches.map((cache) => cache.close()));
    if (admin === undefined) return;
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${RUN_PREFIX}*`, 'COUNT', 500);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await admin.quit();
  });

  it('serves a schema-v1 record upcast from Blob, from Redis in another process, and from process memory', async () => {
    const archive = new MemoryArchiveStore();
    const record = makeRecord({ id: 'inv-redis-v1', customerId: 'cust-redis-v1' });
    const stub = await archiveAsSchemaV1(archive, record);
    const expected = serializeRecord(record);
    let blobReads = 0;
    const process = async (): Promise<ArchivedRecordReader> =>
      new ArchivedRecordReader({
        archive,
        cache: await connect(),
        decodedCacheBytes: 1024 * 1024,
        events: { onBlobRead: () => blobReads++ },
      });
    const [first, second] = [await process(), await process()];

    const fromBlob = await first.read(stub);
    expect(fromBlob.source).toBe('archive');
    expect(serializeRecord(fromBlob.record)).toBe(expected);
    const fromRedis = await second.read(stub);
    expect(fromRedis.source).toBe('cache');
    expect(blobReads).toBe(1);
    expect(serializeRecord(fromRedis.record)).toBe(expected);
    for (const reader of [first, second]) {
      const fromMemory = await reader.read(stub);
      expect(fromMemory.source).toBe('cache');
      expect(serializeRecord(fromMemory.record)).toBe(expected);
    }
    expect(blobReads).toBe(1);
    expect(failures).toEqual([]);
  });

  it('counts the reads of two instances together: the threshold is reached with reads split across both, reported once', async () => {
    const clock = new ManualClock();
    const policy = { threshold: 6, windowMs: 60 * 60_000 };
    const a = new ReadSpikeDetector(policy, clock, await connect());
    const b = new ReadSpikeDetector(policy, clock, await connect());
    const key = { customerId: 'cust-spike-shared', id: 'inv-spike' };

    // Alternating: neither instance sees more than three of the six reads.
    const answers: Array<[string, boolean]> = [];
    for (let read = 0; read < 8; read++) {
      const [name, detector] = read % 2 === 0 ? ['a', a] : ['b', b];
      answers.push([name, await detector.recordRead(key)]);
    }
    expect(answers.filter(([, reported]) => reported)).toEqual([['b', true]]);
    expect(answers.findIndex(([, reported]) => reported)).toBe(5);

    // At once, from both: still exactly one report for another record.
    const other = { customerId: 'cust-spike-shared', id: 'inv-spike-burst' };
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, read) => (read % 2 === 0 ? a : b).recordRead(other)),
    );
    expect(burst.filter(Boolean)).toHaveLength(1);
    expect(failures).toEqual([]);
  });
});
