import { describe, expect, it } from 'vitest';
import { LruMemoryCache } from '../../src/adapters/lru/lru-memory-cache.ts';
import { describeCacheContract, sampleBytes } from './cache.contract.ts';

describeCacheContract('lru (in process)', () => {
  const cache = new LruMemoryCache({ maxBytes: 16 * 1024 * 1024 });
  return Promise.resolve({ cache, dispose: () => cache.close() });
});

describe('LruMemoryCache limits', () => {
  // Each entry costs its bytes, twice the key length and a 64-byte overhead: 2000 + 2 * 3 + 64 = 2070,
  // so four fit in 10,000 bytes and a fifth evicts one.
  const VALUE_BYTES = 2_000;
  const present = async (cache: LruMemoryCache, keys: string[]): Promise<string[]> => {
    const found: string[] = [];
    for (const key of keys) if ((await cache.get(key)) !== undefined) found.push(key);
    return found;
  };

  it('evicts the least recently used entry when the byte cap is reached', async () => {
    const cache = new LruMemoryCache({ maxBytes: 10_000 });
    for (const key of ['k-a', 'k-b', 'k-c', 'k-d']) await cache.set(key, sampleBytes(VALUE_BYTES), 60_000);
    expect(await present(cache, ['k-a', 'k-b', 'k-c', 'k-d'])).toEqual(['k-a', 'k-b', 'k-c', 'k-d']);
    // Reading every key above left k-a least recent; touch it so k-b becomes the oldest.
    await cache.get('k-a');
    await cache.set('k-e', sampleBytes(VALUE_BYTES), 60_000);
    expect(await present(cache, ['k-a', 'k-b', 'k-c', 'k-d', 'k-e'])).toEqual(['k-a', 'k-c', 'k-d', 'k-e']);
  });

  it('never holds more than the byte cap, however much is written', async () => {
    const cache = new LruMemoryCache({ maxBytes: 10_000 });
    const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    for (const key of keys) await cache.set(key, sampleBytes(VALUE_BYTES), 60_000);
    expect(await present(cache, keys)).toEqual(['k16', 'k17', 'k18', 'k19']);
  });

  it('does not store a value over maxValueBytes, and keeps one at the limit', async () => {
    const cache = new LruMemoryCache({ maxBytes: 1024 * 1024, maxValueBytes: 1_000 });
    await cache.set('over', sampleBytes(1_001), 60_000);
    await cache.set('at-limit', sampleBytes(1_000), 60_000);
    expect(await cache.get('over')).toBeUndefined();
    expect(await cache.get('at-limit')).toEqual(sampleBytes(1_000));
  });

  it('refuses a value bigger than the whole cache without evicting anything', async () => {
    const cache = new LruMemoryCache({ maxBytes: 10_000 });
    await cache.set('small', sampleBytes(100), 60_000);
    await cache.set('huge', sampleBytes(9_990), 60_000);
    expect(await cache.get('huge')).toBeUndefined();
    expect(await cache.get('small')).toEqual(sampleBytes(100));
  });

  it('answers undefined for a counter under a key that holds bytes, and a miss for bytes under a counter', async () => {
    const cache = new LruMemoryCache({ maxBytes: 10_000 });
    await cache.set('bytes', sampleBytes(16), 60_000);
    expect(await cache.increment('bytes', 60_000)).toBeUndefined();
    expect(await cache.get('bytes')).toEqual(sampleBytes(16));
    expect(await cache.increment('counter', 60_000)).toBe(1);
    expect(await cache.get('counter')).toBeUndefined();
  });

  it('rejects a byte cap that is not a positive integer at construction', () => {
    expect(() => new LruMemoryCache({ maxBytes: 0 })).toThrow(RangeError);
    expect(() => new LruMemoryCache({ maxBytes: 1.5 })).toThrow(RangeError);
  });
});
