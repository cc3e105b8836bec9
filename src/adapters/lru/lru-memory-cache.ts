// The in-process cache of archived reads (the embedded default): an LRU bounded in bytes, each entry
// with its own ttl. Nothing here does I/O, so nothing fails; it still never throws, as the port says.
import { LRUCache } from 'lru-cache';
import type { Cache } from '../../ports/cache.ts';

export interface LruMemoryCacheOptions {
  /** The most memory the entries may take, keys and bookkeeping included (approximately). */
  readonly maxBytes: number;
  /** Larger values are not cached, so one huge record cannot evict many small ones. */
  readonly maxValueBytes?: number;
}

const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
// Rough per-entry cost of the key string, the map slot and the ttl arrays, so that many tiny
// entries cannot exceed maxBytes by much.
const ENTRY_OVERHEAD_BYTES = 64;

export class LruMemoryCache implements Cache {
  readonly #entries: LRUCache<string, Uint8Array>;
  readonly #maxValueBytes: number;

  constructor(options: LruMemoryCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) {
      throw new RangeError(`maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    this.#maxValueBytes = Math.min(options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, options.maxBytes);
    this.#entries = new LRUCache<string, Uint8Array>({
      maxSize: options.maxBytes,
      sizeCalculation: (value, key) => value.byteLength + key.length * 2 + ENTRY_OVERHEAD_BYTES,
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    const value = this.#entries.get(key);
    // A copy, so a caller that mutates what it read cannot change what the next reader gets.
    return Promise.resolve(value === undefined ? undefined : new Uint8Array(value));
  }

  set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    // lru-cache treats a ttl of 0 as "for ever"; a non-positive ttl here means "do not cache".
    if (value.byteLength > this.#maxValueBytes || !(ttlMs > 0)) return Promise.resolve();
    try {
      // Stored as a copy: the caller may reuse its buffer after set returns.
      this.#entries.set(key, new Uint8Array(value), { ttl: Math.ceil(ttlMs) });
    } catch {
      // Only an absurd ttl or size could make lru-cache throw; the value is then simply not cached.
    }
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  healthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}
