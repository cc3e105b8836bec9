// A cache of archived reads. It fails open: a cache that is down or returns garbage is a miss,
// never an error for the caller. Adapters report their failures through `onError`.

export interface Cache {
  /** Undefined on a miss, and on any failure. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Best effort; never throws. */
  set(key: string, value: Uint8Array, ttlMs: number): Promise<void>;
  /** Best effort; never throws. */
  delete(key: string): Promise<void>;
  /**
   * Adds one to the counter under `key` and answers the new count, atomically for every process that
   * shares the cache. A counter starts at 1 with an expiry of `ttlMs` that later increments do not
   * extend. Undefined on any failure, and for a ttl of zero or less (nothing is counted). A key holds
   * bytes (`set`) or a counter, never both.
   */
  increment(key: string, ttlMs: number): Promise<number | undefined>;
  /** True when the cache answers (for readiness and metrics; a false is not fatal). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export type CacheErrorListener = (
  operation: 'get' | 'set' | 'delete' | 'increment' | 'ping',
  error: unknown,
) => void;
