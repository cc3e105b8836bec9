// Counts reads of archived records per record; a record read `threshold` times within the window is
// reported once, so it can be rehydrated in the background (and stays hot for the archival cool-down,
// counted from the rehydration, so it does not flap). With a cache that every instance shares (Redis)
// the count is shared too, so N instances do not multiply the threshold by N; this process's own
// sliding count is the fallback whenever the cache fails.
import type { RecordKey } from '../domain/record-rules.ts';
import type { Cache } from '../ports/cache.ts';
import type { Clock } from '../ports/clock.ts';

export interface ReadSpikePolicy {
  /** Archived reads of one record within the window that make it hot again; 0 turns this off. */
  readonly threshold: number;
  readonly windowMs: number;
  /** Records tracked at once (the oldest are forgotten first); bounds memory under any load. */
  readonly maxTracked?: number;
}

export class ReadSpikeDetector {
  readonly #policy: ReadSpikePolicy;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #cache: Cache | undefined;
  /** Read times per record, oldest first; Map order doubles as least-recently-read order. */
  readonly #reads = new Map<string, number[]>();
  readonly #reported = new Set<string>();

  constructor(policy: ReadSpikePolicy, clock: Pick<Clock, 'now'>, cache?: Cache) {
    this.#policy = policy;
    this.#clock = clock;
    this.#cache = cache;
  }

  /** Counts one archived read; true exactly once when the record crosses the threshold. */
  async recordRead(key: RecordKey): Promise<boolean> {
    const threshold = this.#policy.threshold;
    if (threshold <= 0) return false;
    const id = `${key.customerId}/${key.id}`;
    const now = this.#clock.now().getTime();
    // Counted here too, before any await, so the fallback is ready the moment the cache fails.
    const local = this.#countLocally(id, now);
    const shared = await this.#countShared(key, now);
    // The shared counter is atomic: exactly one read in the whole fleet sees it reach the threshold,
    // so one instance reports the record per window. The local fallback may report in each instance
    // that sees the threshold alone: a wasted rehydration at worst, never a wrong answer.
    const crossed = shared === undefined ? local >= threshold : shared === threshold;
    if (!crossed || this.#reported.has(id)) return false;
    this.#reported.add(id);
    return true;
  }

  /** The record was rehydrated (or failed to be): it may be reported again if archived and read again. */
  forget(key: RecordKey): void {
    const id = `${key.customerId}/${key.id}`;
    this.#reads.delete(id);
    this.#reported.delete(id);
  }

  #countLocally(id: string, now: number): number {
    const times = (this.#reads.get(id) ?? []).filter((time) => time > now - this.#policy.windowMs);
    times.push(now);
    this.#reads.delete(id);
    this.#reads.set(id, times);
    this.#evict();
    return times.length;
  }

  // A fixed window per record, keyed by the window's start: one atomic increment per read, and a counter
  // that expires with its window. Reads that straddle a window's edge are split between two counters, so
  // a spike may take up to twice the threshold to be seen; a sliding count would need a sorted set per record.
  async #countShared(key: RecordKey, now: number): Promise<number | undefined> {
    const windowMs = this.#policy.windowMs;
    if (this.#cache === undefined || !(windowMs > 0)) return undefined;
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const counter = `read-spike:${encodeURIComponent(key.customerId)}:${encodeURIComponent(key.id)}:${windowStart}`;
    try {
      return await this.#cache.increment(counter, windowStart + windowMs - now);
    } catch {
      // The port never throws; a cache that does anyway is a failed cache: count locally.
      return undefined;
    }
  }

  #evict(): void {
    const max = this.#policy.maxTracked ?? 100_000;
    while (this.#reads.size > max) {
      const oldest = this.#reads.keys().next().value;
      if (oldest === undefined) return;
      this.#reads.delete(oldest);
      this.#reported.delete(oldest);
    }
  }
}
