// A cache of archived reads. It fails open: a cache that is down or returns garbage is a miss,
// never an error for the caller. Adapters report their failures through `onError`.

export interface Cache {
  /** Undefined on a miss, and on any failure. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Best effort; never throws. */
  set(key: string, value: Uint8Array, ttlMs: number): Promise<void>;
  /** Best effort; never throws. */
  delete(key: string): Promise<void>;
  /** True when the cache answers (for readiness and metrics; a false is not fatal). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export type CacheErrorListener = (operation: 'get' | 'set' | 'delete' | 'ping', error: unknown) => void;
