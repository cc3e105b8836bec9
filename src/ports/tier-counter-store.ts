// The tier totals (counts and bytes per tier, blobs in the archive) kept as work happens: every change
// of a record and every blob written or removed adds its delta, so status and the cost report read a
// few small documents instead of scanning millions of records or listing the archive.
import type { TierChangeSink, TierTotals } from '../domain/tier-totals.ts';
import type { OperationOptions } from './operation-options.ts';

export interface TierBaseline {
  readonly totals: TierTotals;
  /** When the recount that set it finished. */
  readonly recountedAt: string;
  /**
   * Totals that recount could only estimate (stub bytes from projections), or not tell at all (hot
   * bytes on Cosmos DB, left at zero): their readers say so.
   */
  readonly estimated: ReadonlyArray<keyof TierTotals>;
}

export interface TierCounterReading {
  readonly totals: TierTotals;
  readonly baseline: TierBaseline;
}

export interface TierCounterStore extends TierChangeSink {
  /** Undefined until a recount has set a baseline. */
  read(options?: OperationOptions): Promise<TierCounterReading | undefined>;
  /** Sets the totals to what a full recount measured. */
  setBaseline(
    measured: TierTotals,
    recountedAt: Date,
    estimated: ReadonlyArray<keyof TierTotals>,
    options?: OperationOptions,
  ): Promise<void>;
  /** Writes the changes added so far. */
  flush(options?: OperationOptions): Promise<void>;
}
