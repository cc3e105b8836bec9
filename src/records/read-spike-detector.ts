// Counts reads of archived records per record in a sliding window; a record read more than the
// threshold within the window is reported once, so it can be rehydrated in the background (and stays
// hot for the archival cool-down, counted from the rehydration, so it does not flap).
import type { RecordKey } from '../domain/record-rules.ts';
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
  /** Read times per record, oldest first; Map order doubles as least-recently-read order. */
  readonly #reads = new Map<string, number[]>();
  readonly #reported = new Set<string>();

  constructor(policy: ReadSpikePolicy, clock: Pick<Clock, 'now'>) {
    this.#policy = policy;
    this.#clock = clock;
  }

  /** Counts one archived read; true exactly once when the record crosses the threshold. */
  recordRead(key: RecordKey): boolean {
    if (this.#policy.threshold <= 0) return false;
    const id = `${key.customerId}/${key.id}`;
    const now = this.#clock.now().getTime();
    const times = (this.#reads.get(id) ?? []).filter((time) => time > now - this.#policy.windowMs);
    times.push(now);
    this.#reads.delete(id);
    this.#reads.set(id, times);
    this.#evict();
    if (times.length < this.#policy.threshold || this.#reported.has(id)) return false;
    this.#reported.add(id);
    return true;
  }

  /** The record was rehydrated (or failed to be): it may be reported again if archived and read again. */
  forget(key: RecordKey): void {
    const id = `${key.customerId}/${key.id}`;
    this.#reads.delete(id);
    this.#reported.delete(id);
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
