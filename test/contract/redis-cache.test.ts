// The Cache contract against a real Redis, then what only Redis can do wrong: hold garbage, be
// unreachable, stall, or die and come back. Never skipped: without Redis this file fails loudly.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisCache } from '../../src/adapters/redis/redis-cache.ts';
import { type AppError, isAppError } from '../../src/domain/errors.ts';
import type { CacheErrorListener } from '../../src/ports/cache.ts';
import { freePort, killRedisServers, startRedisServer } from '../support/redis-server.ts';
import { describeCacheContract, sampleBytes, waitUntil } from './cache.contract.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// One namespace per run, so parallel runs never meet and cleanup removes exactly what this run wrote.
const RUN_PREFIX = `billing-cache-test:${process.pid}:${randomUUID()}:`;

type Reported = { operation: Parameters<CacheErrorListener>[0]; error: AppError };

function recorder(): { reported: Reported[]; onError: CacheErrorListener } {
  const reported: Reported[] = [];
  return {
    reported,
    onError: (operation, error) => {
      if (!isAppError(error)) throw new Error(`onError got a non-AppError: ${String(error)}`);
      reported.push({ operation, error });
    },
  };
}

/** A plain client for arranging and inspecting Redis behind the adapter's back. */
async function connectAdmin(url = REDIS_URL): Promise<Redis> {
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
    const where =
      process.env.CI === 'true' ? 'CI must provide it' : 'start it (redis-server) or set REDIS_URL';
    throw new Error(`Redis is not reachable at ${url}; the Redis cache tests need it: ${where}`, {
      cause: error,
    });
  }
}

async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

describeCacheContract('redis', async () => {
  const admin = await connectAdmin();
  const prefix = `${RUN_PREFIX}contract:${randomUUID()}:`;
  const { reported, onError } = recorder();
  const cache = new RedisCache(REDIS_URL, { keyPrefix: prefix, onError });
  await waitUntil(() => cache.healthy(), { what: 'the cache to connect' });
  return {
    cache,
    async dispose() {
      await cache.close();
      await deleteKeys(admin, prefix);
      await admin.quit();
      // A healthy Redis must never have made the adapter fail open: that would hide bugs as misses.
      expect(reported).toEqual([]);
    },
  };
});

describe('RedisCache against the shared Redis', () => {
  let admin: Redis;
  let cache: RedisCache;
  let errors: ReturnType<typeof recorder>;
  const prefix = `${RUN_PREFIX}adapter:`;

  let startFailure: Error | undefined;

  // Without Redis each test fails with the reason; a failing beforeAll would only mark them skipped.
  beforeAll(async () => {
    try {
      admin = await connectAdmin();
      errors = recorder();
      cache = new RedisCache(REDIS_URL, { keyPrefix: prefix, maxValueBytes: 4_096, onError: errors.onError });
      await waitUntil(() => cache.healthy(), { what: 'the cache to connect' });
    } catch (error) {
      startFailure = error instanceof Error ? error : new Error(String(error));
    }
  });
  beforeEach(() => {
    if (startFailure !== undefined) throw startFailure;
    errors.reported.length = 0;
  });
  afterAll(async () => {
    await cache?.close();
    if (admin !== undefined) {
      await deleteKeys(admin, RUN_PREFIX);
      await admin.quit();
    }
  });

  it('stores under its key prefix with a PX ttl', async () => {
    await cache.set('ttl-check', sampleBytes(100), 30_000);
    const ttl = await admin.pttl(`${prefix}ttl-check`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    expect(errors.reported).toEqual([]);
  });

  it('keeps a counter under its key prefix with a PX expiry set at its first increment', async () => {
    expect(await cache.increment('counter-ttl', 30_000)).toBe(1);
    const ttl = await admin.pttl(`${prefix}counter-ttl`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    expect(await cache.increment('counter-ttl', 90_000)).toBe(2);
    expect(await admin.pttl(`${prefix}counter-ttl`)).toBeLessThanOrEqual(30_000);
    expect(await admin.get(`${prefix}counter-ttl`)).toBe('2');
    expect(errors.reported).toEqual([]);
  });

  it('gives a counter an expiry if its key somehow has none', async () => {
    await admin.set(`${prefix}counter-no-ttl`, '7');
    expect(await cache.increment('counter-no-ttl', 30_000)).toBe(8);
    expect(await admin.pttl(`${prefix}counter-no-ttl`)).toBeGreaterThan(25_000);
  });

  it('answers undefined, reported as an increment failure, for a key that holds bytes', async () => {
    await cache.set('bytes-not-counter', sampleBytes(32), 30_000);
    expect(await cache.increment('bytes-not-counter', 30_000)).toBeUndefined();
    expect(await cache.get('bytes-not-counter')).toEqual(sampleBytes(32));
    expect(errors.reported.map((r) => [r.operation, r.error.code])).toEqual([['increment', 'UNAVAILABLE']]);
  });

  it('does not cache a value over maxValueBytes, and caches one at the limit', async () => {
    await cache.set('over', sampleBytes(4_097), 30_000);
    await cache.set('at-limit', sampleBytes(4_096), 30_000);
    expect(await admin.exists(`${prefix}over`)).toBe(0);
    expect(await cache.get('at-limit')).toEqual(sampleBytes(4_096));
  });

  it('treats a value written by something else as a miss and reports it as a get failure', async () => {
    await admin.set(`${prefix}foreign`, 'not a cache frame', 'PX', 30_000);
    expect(await cache.get('foreign')).toBeUndefined();
    expect(errors.reported.map((r) => [r.operation, r.error.code])).toEqual([['get', 'INTERNAL']]);
  });

  it('treats a frame with a flipped payload byte, a truncated frame or a moved frame as a miss', async () => {
    await cache.set('original', sampleBytes(200), 30_000);
    const frame = await admin.getBuffer(`${prefix}original`);
    if (frame === null) throw new Error('the adapter did not store the frame');
    const flipped = Buffer.from(frame);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 0x01;
    await admin.set(`${prefix}flipped`, flipped, 'PX', 30_000);
    await admin.set(`${prefix}truncated`, frame.subarray(0, frame.length - 10), 'PX', 30_000);
    await admin.set(`${prefix}moved`, frame, 'PX', 30_000);

    expect(await cache.get('original')).toEqual(sampleBytes(200));
    expect(await cache.get('flipped')).toBeUndefined();
    expect(await cache.get('truncated')).toBeUndefined();
    expect(await cache.get('moved')).toBeUndefined();
    expect(errors.reported.map((r) => r.operation)).toEqual(['get', 'get', 'get']);
  });

  it('treats a key of another Redis type as a miss', async () => {
    await admin.rpush(`${prefix}a-list`, 'x');
    expect(await cache.get('a-list')).toBeUndefined();
    expect(errors.reported.map((r) => [r.operation, r.error.code])).toEqual([['get', 'UNAVAILABLE']]);
  });
});

describe('RedisCache when Redis is unreachable', () => {
  it('misses fast, answers unhealthy, reports every failure and closes', async () => {
    const errors = recorder();
    // Port 1 on loopback: nothing listens, so every connection attempt is refused.
    const cache = new RedisCache('redis://127.0.0.1:1', { keyPrefix: RUN_PREFIX, onError: errors.onError });
    const started = performance.now();
    expect(await cache.get('k')).toBeUndefined();
    await expect(cache.set('k', sampleBytes(16), 60_000)).resolves.toBeUndefined();
    await expect(cache.delete('k')).resolves.toBeUndefined();
    expect(await cache.increment('n', 60_000)).toBeUndefined();
    expect(await cache.healthy()).toBe(false);
    // Each operation is bounded by the 250 ms command timeout; a queued or retried command would take seconds.
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(errors.reported.map((r) => [r.operation, r.error.code])).toEqual([
      ['get', 'UNAVAILABLE'],
      ['set', 'UNAVAILABLE'],
      ['delete', 'UNAVAILABLE'],
      ['increment', 'UNAVAILABLE'],
      ['ping', 'UNAVAILABLE'],
    ]);

    // A burst of reads during the outage is a burst of quick misses, not a pile of waiting commands.
    const burstStart = performance.now();
    const reads = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.get(`burst-${i}`)));
    expect(reads.every((read) => read === undefined)).toBe(true);
    expect(performance.now() - burstStart).toBeLessThan(1_000);

    const closing = performance.now();
    await cache.close();
    expect(performance.now() - closing).toBeLessThan(1_000);
  });
});

describe('RedisCache through an outage of its own redis-server', () => {
  afterAll(() => {
    killRedisServers();
  });

  it('misses while Redis is down, drops what was sent meanwhile, and recovers when it is back', async () => {
    const port = await freePort();
    let server = await startRedisServer(port);
    const errors = recorder();
    const cache = new RedisCache(server.url, { onError: errors.onError });
    try {
      await waitUntil(() => cache.healthy(), { what: 'the cache to connect' });
      await cache.set('before', sampleBytes(64, 1), 60_000);
      expect(await cache.get('before')).toEqual(sampleBytes(64, 1));
      expect(errors.reported).toEqual([]);

      await server.kill();
      expect(await cache.get('before')).toBeUndefined();
      await expect(cache.set('during', sampleBytes(64, 2), 60_000)).resolves.toBeUndefined();
      expect(await cache.healthy()).toBe(false);
      expect(errors.reported.map((r) => r.operation)).toEqual(expect.arrayContaining(['get', 'set', 'ping']));

      server = await startRedisServer(port);
      await waitUntil(
        async () => {
          await cache.set('after', sampleBytes(64, 3), 60_000);
          const read = await cache.get('after');
          return read !== undefined && Buffer.from(read).equals(Buffer.from(sampleBytes(64, 3)));
        },
        { timeoutMs: 15_000, intervalMs: 50, what: 'the cache to recover after Redis restarted' },
      );
      expect(await cache.healthy()).toBe(true);
      // The write issued during the outage was failed, not queued and replayed on reconnect.
      expect(await cache.get('during')).toBeUndefined();
    } finally {
      await cache.close();
      await server.kill();
    }
  });

  it('misses within the command timeout while Redis stalls, then serves again', async () => {
    const server = await startRedisServer(await freePort());
    const errors = recorder();
    const cache = new RedisCache(server.url, { commandTimeoutMs: 200, onError: errors.onError });
    try {
      await waitUntil(() => cache.healthy(), { what: 'the cache to connect' });
      await cache.set('stalled', sampleBytes(64, 4), 60_000);

      server.pause();
      const started = performance.now();
      expect(await cache.get('stalled')).toBeUndefined();
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(150);
      expect(elapsed).toBeLessThan(1_000);
      expect(errors.reported.map((r) => [r.operation, r.error.code])).toEqual([['get', 'TIMEOUT']]);

      server.resume();
      await waitUntil(async () => (await cache.get('stalled')) !== undefined, {
        what: 'the cache to serve again after Redis resumed',
      });
      expect(await cache.get('stalled')).toEqual(sampleBytes(64, 4));
    } finally {
      server.resume();
      await cache.close();
      await server.kill();
    }
  });
});
