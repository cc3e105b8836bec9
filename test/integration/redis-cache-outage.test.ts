// Issue 4, the cache of archived reads on real Redis through the real composition (REDIS_URL): reads fill
// Redis with the compressed blob bytes, garbage in Redis is a miss, and a Redis that dies and comes back
// (a private redis-server) costs speed, never an answer. Never skipped: without Redis this file fails.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../contract/cache.contract.ts';
import { freePort, killRedisServers, type RedisServer, startRedisServer } from '../support/redis-server.ts';
import {
  createRecords,
  type Deployment,
  header,
  openDeployment,
  pointerOf,
  recordUrl,
  type Snapshot,
  snapshotOf,
} from './tiered-records.scenario.ts';

const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** RedisCache's default key prefix: the composition does not change it. */
const KEY_PREFIX = 'billing-cache:';
const OLD = '2024-03-12T10:00:00.000Z';
const CACHE_TTL_MS = 10 * 60_000;

function unavailable(what: string, cause: unknown): Error {
  const fix =
    process.env.CI === 'true' ? 'CI must provide it' : 'install and start redis-server, or set REDIS_URL';
  return new Error(`${what}; the Redis integration tests need it: ${fix}`, { cause });
}

/** A plain client to look at and tamper with Redis behind the service's back. */
async function connectAdmin(url: string): Promise<Redis> {
  const admin = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  admin.on('error', () => {});
  try {
    await admin.connect();
    await admin.ping();
    return admin;
  } catch (error) {
    admin.disconnect();
    throw unavailable(`Redis is not reachable at ${url}`, error);
  }
}

/** The cache keys of one record (any version), as Redis holds them. */
async function keysOf(admin: Redis, customerId: string, id: string): Promise<string[]> {
  return scanKeys(admin, `${KEY_PREFIX}record:${customerId}:${id}:*`);
}

async function scanKeys(admin: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Closes the service and deletes exactly the keys this run wrote for its own customer. */
async function closeAndClean(
  deployment: Deployment | undefined,
  admin: Redis | undefined,
  customerId: string,
): Promise<void> {
  await deployment?.close();
  if (admin === undefined) return;
  const keys = await scanKeys(admin, `${KEY_PREFIX}record:${customerId}:*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
}

/** These suites test the shared layer: the in-process layer of decoded records would answer first. */
const REDIS_ONLY = { CACHE_DECODED_MAX_BYTES: '0' };

/** The key the service uses for an archived record (see ArchivedRecordReader). */
async function cacheKeyOf(deployment: Deployment, customerId: string, id: string): Promise<string> {
  const pointer = await pointerOf(deployment, { customerId, id });
  return `${KEY_PREFIX}record:${customerId}:${id}:v1:${pointer.sha256.slice(0, 16)}`;
}

/**
 * Runs `start` once before the tests; if it fails, every test fails with its error (a failing beforeAll
 * alone would leave them reported as skipped).
 */
function startOnce(start: () => Promise<void>): void {
  let failure: Error | undefined;
  beforeAll(async () => {
    try {
      await start();
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
  });
  beforeEach(() => {
    if (failure !== undefined) throw failure;
  });
}

describe('archived reads cached in the shared Redis', () => {
  // Customer ids of their own: the cleanup deletes exactly the keys this run wrote.
  const customerId = `cust-redis-${randomUUID().slice(0, 8)}`;
  let admin: Redis | undefined;
  let deployment: Deployment | undefined;
  let hot: Map<string, Snapshot>;
  const live = (): { d: Deployment; redis: Redis } => ({ d: deployment!, redis: admin! });

  startOnce(async () => {
    admin = await connectAdmin(SHARED_REDIS_URL);
    deployment = await openDeployment({
      env: { ...REDIS_ONLY, REDIS_URL: SHARED_REDIS_URL, CACHE_TTL: 'PT10M' },
    });
    await waitUntil(() => deployment!.services.ports.cache!.healthy(), {
      what: 'the service to connect to Redis',
    });
    hot = await createRecords(
      deployment,
      customerId,
      ['inv-big', 'inv-garbage', 'inv-moved-from', 'inv-moved-to'].map((id) => ({
        id,
        issuedAt: OLD,
        lines: 60,
      })),
    );
    await deployment.archive();
  });
  afterAll(() => closeAndClean(deployment, admin, customerId));

  it('stores the compressed blob bytes under a versioned key with the configured ttl, then serves from it', async () => {
    const { d, redis } = live();
    expect(await keysOf(redis, customerId, 'inv-big')).toEqual([]);
    const first = await d.call('GET', recordUrl({ customerId, id: 'inv-big' }));
    expect(first.statusCode).toBe(200);
    expect(header(first, 'x-storage-tier')).toBe('archive');
    expect(snapshotOf(first)).toEqual(hot.get('inv-big'));

    const keys = await keysOf(redis, customerId, 'inv-big');
    expect(keys).toEqual([await cacheKeyOf(d, customerId, 'inv-big')]);
    const stored = await redis.strlen(keys[0]!);
    // gzip of a record with 60 line items: a fraction of its JSON.
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(Buffer.byteLength(first.body) / 2);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(CACHE_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(CACHE_TTL_MS);

    const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
    const second = await d.call('GET', recordUrl({ customerId, id: 'inv-big' }));
    expect(header(second, 'x-storage-tier')).toBe('cache');
    expect(snapshotOf(second)).toEqual(hot.get('inv-big'));
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads);
    expect(await d.counter('cache_errors_total')).toBe(0);
  });

  it('treats a value overwritten with garbage as a miss: the right bytes from Blob, then cached again', async () => {
    const { d, redis } = live();
    const url = recordUrl({ customerId, id: 'inv-garbage' });
    expect(header(await d.call('GET', url), 'x-storage-tier')).toBe('archive');
    const [key] = await keysOf(redis, customerId, 'inv-garbage');
    expect(key).toBeDefined();
    await redis.set(key!, Buffer.from('{"id":"someone-else","version":1} and then some garbage'), 'KEEPTTL');

    const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
    const getErrors = await d.counter('cache_errors_total', { operation: 'get' });
    const read = await d.call('GET', url);
    expect(read.statusCode).toBe(200);
    expect(snapshotOf(read)).toEqual(hot.get('inv-garbage'));
    expect(header(read, 'x-storage-tier')).toBe('archive');
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads + 1);
    expect(await d.counter('cache_errors_total', { operation: 'get' })).toBe(getErrors + 1);

    const again = await d.call('GET', url);
    expect(header(again, 'x-storage-tier')).toBe('cache');
    expect(snapshotOf(again)).toEqual(hot.get('inv-garbage'));
  });

  it("never serves another record's cached bytes copied under a record's key", async () => {
    const { d, redis } = live();
    const from = recordUrl({ customerId, id: 'inv-moved-from' });
    expect(header(await d.call('GET', from), 'x-storage-tier')).toBe('archive');
    const [fromKey] = await keysOf(redis, customerId, 'inv-moved-from');
    const frame = await redis.getBuffer(fromKey!);
    expect(frame).not.toBeNull();
    await redis.set(await cacheKeyOf(d, customerId, 'inv-moved-to'), frame!, 'PX', CACHE_TTL_MS);

    const read = await d.call('GET', recordUrl({ customerId, id: 'inv-moved-to' }));
    expect(read.statusCode).toBe(200);
    expect(header(read, 'x-storage-tier')).toBe('archive');
    expect(snapshotOf(read)).toEqual(hot.get('inv-moved-to'));
  });
});

describe('archived reads through an outage of Redis', () => {
  const customerId = 'cust-redis-outage';
  let port: number;
  let redis: RedisServer | undefined;
  let deployment: Deployment | undefined;
  let hot: Map<string, Snapshot>;
  const ids = ['inv-cached', 'inv-during', 'inv-after'];
  const url = (id: string): string => recordUrl({ customerId, id });

  startOnce(async () => {
    port = await freePort();
    redis = await startRedisServer(port);
    deployment = await openDeployment({ env: { ...REDIS_ONLY, REDIS_URL: redis.url } });
    await waitUntil(() => deployment!.services.ports.cache!.healthy(), {
      what: 'the service to connect to Redis',
    });
    hot = await createRecords(
      deployment,
      customerId,
      ids.map((id) => ({ id, issuedAt: OLD, lines: 20 })),
    );
    await deployment.archive();
  });
  afterAll(async () => {
    try {
      await deployment?.close();
    } finally {
      killRedisServers();
    }
  });

  it('serves the same bytes while Redis is down, counts cache errors, and caches again once Redis is back', async () => {
    const d = deployment!;
    expect(header(await d.call('GET', url('inv-cached')), 'x-storage-tier')).toBe('archive');
    expect(header(await d.call('GET', url('inv-cached')), 'x-storage-tier')).toBe('cache');
    expect(await d.counter('cache_errors_total')).toBe(0);

    await redis!.kill();
    const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
    for (const id of ['inv-cached', 'inv-during', 'inv-cached']) {
      const read = await d.call('GET', url(id));
      expect(read.statusCode, id).toBe(200);
      expect(snapshotOf(read), id).toEqual(hot.get(id));
      expect(header(read, 'x-storage-tier'), id).toBe('archive');
    }
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads + 3);
    expect(await d.counter('cache_errors_total', { operation: 'get' })).toBeGreaterThanOrEqual(3);
    // The cache fails open: its outage does not make the service unready.
    const ready = await d.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ checks: { cache: 'down', hotStore: 'up', archive: 'up' } });

    redis = await startRedisServer(port);
    await waitUntil(() => d.services.ports.cache!.healthy(), {
      timeoutMs: 15_000,
      what: 'the service to reconnect to the restarted Redis',
    });
    const errors = await d.counter('cache_errors_total');
    for (const id of ['inv-cached', 'inv-after']) {
      const refill = await d.call('GET', url(id));
      expect(snapshotOf(refill), id).toEqual(hot.get(id));
      expect(header(refill, 'x-storage-tier'), id).toBe('archive');
      const cached = await d.call('GET', url(id));
      expect(snapshotOf(cached), id).toEqual(hot.get(id));
      expect(header(cached, 'x-storage-tier'), id).toBe('cache');
    }
    expect(await d.counter('cache_errors_total')).toBe(errors);
  });
});

describe('a service started while Redis is down', () => {
  const key = { customerId: 'cust-redis-never', id: 'inv-uncached' };
  let deployment: Deployment | undefined;
  let hot: Snapshot | undefined;

  startOnce(async () => {
    // Nothing listens on a port just freed: every connection attempt is refused.
    deployment = await openDeployment({
      env: { ...REDIS_ONLY, REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
    });
    hot = (await createRecords(deployment, key.customerId, [{ id: key.id, issuedAt: OLD }])).get(key.id);
    await deployment.archive();
  });
  afterAll(() => deployment?.close());

  it('starts, is ready, and serves archived reads from Blob every time, counting the cache errors', async () => {
    const d = deployment!;
    const ready = await d.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ checks: { cache: 'down' } });
    for (let read = 1; read <= 2; read++) {
      const answer = await d.call('GET', recordUrl(key));
      expect(answer.statusCode).toBe(200);
      expect(header(answer, 'x-storage-tier')).toBe('archive');
      expect(snapshotOf(answer)).toEqual(hot);
    }
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(2);
    expect(await d.counter('cache_errors_total', { operation: 'get' })).toBeGreaterThanOrEqual(2);
  });
});

describe('decoded records kept in process in front of Redis (the default)', () => {
  const customerId = `cust-decoded-${randomUUID().slice(0, 8)}`;
  let admin: Redis | undefined;
  let deployment: Deployment | undefined;
  let hot: Map<string, Snapshot>;

  startOnce(async () => {
    admin = await connectAdmin(SHARED_REDIS_URL);
    deployment = await openDeployment({ env: { REDIS_URL: SHARED_REDIS_URL } });
    await waitUntil(() => deployment!.services.ports.cache!.healthy(), {
      what: 'the service to connect to Redis',
    });
    hot = await createRecords(deployment, customerId, [{ id: 'inv-decoded', issuedAt: OLD, lines: 40 }]);
    await deployment.archive();
  });
  afterAll(() => closeAndClean(deployment, admin, customerId));

  it('answers a repeated read from process memory: same bytes, no Redis or Blob read, counted as cache', async () => {
    const d = deployment!;
    const redis = admin!;
    const url = recordUrl({ customerId, id: 'inv-decoded' });
    const first = await d.call('GET', url);
    expect(header(first, 'x-storage-tier')).toBe('archive');
    const key = await cacheKeyOf(d, customerId, 'inv-decoded');
    expect(await keysOf(redis, customerId, 'inv-decoded')).toEqual([key]);

    // Gone from Redis: only the in-process layer can answer now.
    await redis.del(key);
    const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
    const cacheHits = await d.counter('archived_reads_total', { source: 'cache' });
    for (let i = 0; i < 3; i++) {
      const again = await d.call('GET', url);
      expect(again.statusCode).toBe(200);
      expect(header(again, 'x-storage-tier')).toBe('cache');
      expect(snapshotOf(again)).toEqual(hot.get('inv-decoded'));
      expect(snapshotOf(again)).toEqual(snapshotOf(first));
    }
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads);
    expect(await d.counter('archived_reads_total', { source: 'cache' })).toBe(cacheHits + 3);
    expect(await keysOf(redis, customerId, 'inv-decoded')).toEqual([]);

    // A write makes a new version: the kept record is never answered for it.
    const patched = await d.call('PATCH', url, { body: { status: 'paid' } });
    expect(patched.statusCode).toBe(200);
    const after = await d.call('GET', url);
    expect(after.statusCode).toBe(200);
    expect(header(after, 'x-storage-tier')).toBe('hot');
    expect(after.body).toBe(patched.body);
    expect(JSON.parse(after.body)).toMatchObject({ status: 'paid', version: 2 });
  });
});
