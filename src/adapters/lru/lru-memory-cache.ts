// The in-process cache of archived reads (the embedded default): an LRU bounded in bytes, each entry
// (bytes or a counter) with its own ttl. Nothing here does I/O, so nothing fails; it still never
// throws, as the port says, and after close it answers as a cache that is down.
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
const COUNTER_BYTES = 8;

/** A counter's entry: changed in place, so an increment keeps the expiry set when it was created. */
interface Counter {
  count: number;
}

export class LruMemoryCache implements Cache {
  readonly #entries: LRUCache<string, Uint8Array | Counter>;
  readonly #maxValueBytes: number;
  #closed = false;

  constructor(options: LruMemoryCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) {
      throw new RangeError(`maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    this.#maxValueBytes = Math.min(options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, options.maxBytes);
    this.#entries = new LRUCache<string, Uint8Array | Counter>({
      maxSize: options.maxBytes,
      sizeCalculation: (value, key) =>
        (value instanceof Uint8Array ? value.byteLength : COUNTER_BYTES) +
        key.length * 2 +
        ENTRY_OVERHEAD_BYTES,
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    const value = this.#closed ? undefined : this.#entries.get(key);
    // A copy, so a caller that mutates what it read cannot change what the next reader gets.
    return Promise.resolve(value instanceof Uint8Array ? new Uint8Array(value) : undefined);
  }

  set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    // lru-cache treats a ttl of 0 as "for ever"; a non-positive ttl here means "do not cache".
    if (this.#closed || value.byteLength > this.#maxValueBytes || !(ttlMs > 0)) return Promise.resolve();
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

  increment(key: string, ttlMs: number): Promise<number | undefined> {
    if (this.#closed || !(ttlMs > 0)) return Promise.resolve(undefined);
    const entry = this.#entries.get(key);
    // A key that holds bytes is not a counter (Redis refuses INCR on it too).
    if (entry instanceof Uint8Array) return Promise.resolve(undefined);
    if (entry !== undefined) {
      entry.count += 1;
      return Promise.resolve(entry.count);
    }
    try {
      this.#entries.set(key, { count: 1 }, { ttl: Math.ceil(ttlMs) });
    } catch {
      // Only an absurd ttl could make lru-cache throw: nothing is counted.
      return Promise.resolve(undefined);
    }
    return Promise.resolve(1);
  }

  healthy(): Promise<boolean> {
    return Promise.resolve(!this.#closed);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    return Promise.resolve();
  }
}
