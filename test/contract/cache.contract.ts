// The behaviour every Cache adapter must share (round trip, miss, delete, ttl, isolation, counters,
// fail-open after close). Each adapter's test file calls this with a factory.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/ports/cache.ts';

export interface CacheHarness {
  readonly cache: Cache;
  /** Closes the cache and removes whatever the harness wrote. */
  dispose(): Promise<void>;
}

/** Polls a condition until it holds, failing after `timeoutMs`: waits on a condition, never a fixed sleep. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  {
    timeoutMs = 5_000,
    intervalMs = 20,
    what = 'condition',
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Bytes that differ per call and cover every byte value, so a text or encoding round trip shows. */
export function sampleBytes(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7 + 13) % 256);
}

export function describeCacheContract(name: string, start: () => Promise<CacheHarness>): void {
  describe(`Cache contract: ${name}`, () => {
    let harness: CacheHarness;
    let cache: Cache;
    const newKey = (label: string): string => `contract:${label}:${randomUUID()}`;

    let startFailure: Error | undefined;

    // A harness that cannot start fails every test by name; thrown from beforeAll it would only
    // mark them skipped, and a skipped contract reads like a passing one.
    beforeAll(async () => {
      try {
        harness = await start();
        cache = harness.cache;
      } catch (error) {
        startFailure = error instanceof Error ? error : new Error(String(error));
      }
    });
    beforeEach(() => {
      if (startFailure !== undefined) throw startFailure;
    });
    afterAll(async () => {
      await harness?.dispose();
    });

    it('answers healthy', async () => {
      expect(await cache.healthy()).toBe(true);
    });

    it('returns the same bytes that were set, binary, empty and record-sized', async () => {
      for (const value of [sampleBytes(256), new Uint8Array(0), sampleBytes(300 * 1024, 1)]) {
        const key = newKey('round-trip');
        await cache.set(key, value, 60_000);
        const read = await cache.get(key);
        expect(read).toBeInstanceOf(Uint8Array);
        expect(read?.byteLength).toBe(value.byteLength);
        expect(Buffer.from(read ?? []).equals(Buffer.from(value))).toBe(true);
      }
    });

    it('answers undefined for a key that was never set', async () => {
      expect(await cache.get(newKey('absent'))).toBeUndefined();
    });

    it('replaces the value on a second set', async () => {
      const key = newKey('overwrite');
      await cache.set(key, sampleBytes(64, 1), 60_000);
      await cache.set(key, sampleBytes(32, 2), 60_000);
      expect(await cache.get(key)).toEqual(sampleBytes(32, 2));
    });

    it('forgets a deleted key, and deleting an absent key resolves', async () => {
      const key = newKey('delete');
      await cache.set(key, sampleBytes(64), 60_000);
      await cache.delete(key);
      expect(await cache.get(key)).toBeUndefined();
      await expect(cache.delete(newKey('never-set'))).resolves.toBeUndefined();
    });

    it('keeps values isolated per key, including keys that are prefixes of each other', async () => {
      const key = newKey('isolated');
      const longer = `${key}:more`;
      await cache.set(key, sampleBytes(40, 3), 60_000);
      await cache.set(longer, sampleBytes(50, 4), 60_000);
      expect(await cache.get(key)).toEqual(sampleBytes(40, 3));
      expect(await cache.get(longer)).toEqual(sampleBytes(50, 4));
      await cache.delete(longer);
      expect(await cache.get(key)).toEqual(sampleBytes(40, 3));
      expect(await cache.get(longer)).toBeUndefined();
    });

    it('is not changed by a caller mutating the bytes it set or read', async () => {
      const key = newKey('mutation');
      const value = sampleBytes(64, 5);
      await cache.set(key, value, 60_000);
      value.fill(0);
      const first = await cache.get(key);
      first?.fill(0);
      expect(await cache.get(key)).toEqual(sampleBytes(64, 5));
    });

    it('expires an entry after its own ttl while a longer-lived one stays', async () => {
      const short = newKey('ttl-short');
      const long = newKey('ttl-long');
      await cache.set(long, sampleBytes(16, 6), 60_000);
      await cache.set(short, sampleBytes(16, 7), 400);
      expect(await cache.get(short)).toEqual(sampleBytes(16, 7));
      await waitUntil(async () => (await cache.get(short)) === undefined, {
        what: 'the short-ttl entry to expire',
      });
      expect(await cache.get(long)).toEqual(sampleBytes(16, 6));
    });

    it('does not store a value with a ttl of zero or less', async () => {
      const zero = newKey('ttl-zero');
      const negative = newKey('ttl-negative');
      await cache.set(zero, sampleBytes(16), 0);
      await cache.set(negative, sampleBytes(16), -5);
      expect(await cache.get(zero)).toBeUndefined();
      expect(await cache.get(negative)).toBeUndefined();
    });

    it('counts up from 1, each counter apart', async () => {
      const key = newKey('counter');
      const other = `${key}:other`;
      expect(await cache.increment(key, 60_000)).toBe(1);
      expect(await cache.increment(key, 60_000)).toBe(2);
      expect(await cache.increment(other, 60_000)).toBe(1);
      expect(await cache.increment(key, 60_000)).toBe(3);
    });

    it('counts concurrent increments exactly once each', async () => {
      const key = newKey('counter-concurrent');
      const counts = await Promise.all(Array.from({ length: 50 }, () => cache.increment(key, 60_000)));
      expect([...counts].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });

    it('expires a counter after the ttl it was created with, which later increments do not extend', async () => {
      const key = newKey('counter-ttl');
      expect(await cache.increment(key, 400)).toBe(1);
      // Incrementing every 20 ms: were each increment to extend the expiry, the count would never restart.
      await waitUntil(async () => (await cache.increment(key, 400)) === 1, {
        what: 'the counter to expire and start again',
      });
    });

    it('forgets a deleted counter, and counts nothing for a ttl of zero or less', async () => {
      const key = newKey('counter-delete');
      await cache.increment(key, 60_000);
      await cache.increment(key, 60_000);
      await cache.delete(key);
      expect(await cache.increment(key, 60_000)).toBe(1);
      const unkept = newKey('counter-ttl-zero');
      expect(await cache.increment(unkept, 0)).toBeUndefined();
      expect(await cache.increment(unkept, -5)).toBeUndefined();
      expect(await cache.increment(unkept, 60_000)).toBe(1);
    });

    it('closes, more than once, and fails open afterwards', async () => {
      const own = await start();
      try {
        const key = newKey('closed');
        await own.cache.set(key, sampleBytes(16), 60_000);
        await own.cache.close();
        await expect(own.cache.close()).resolves.toBeUndefined();
        expect(await own.cache.get(key)).toBeUndefined();
        await expect(own.cache.set(key, sampleBytes(16), 60_000)).resolves.toBeUndefined();
        await expect(own.cache.delete(key)).resolves.toBeUndefined();
        expect(await own.cache.increment(newKey('closed-counter'), 60_000)).toBeUndefined();
      } finally {
        await own.dispose();
      }
    });
  });
}
