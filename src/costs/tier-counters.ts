// The tier totals kept as work happens, in small control documents (Blob in production, so reading
// them costs no RU): a baseline written by a recount, plus sharded delta documents that each process
// adds its changes to. Changes are summed in memory and written in the background, one conditional
// read-modify-write per flush, so a burst of writes costs one control-store round trip, and writers
// of different processes rarely meet on one shard (a 412 retries on another). A crash loses at most
// the unflushed deltas: totals are exact while every change goes through the services, and an
// explicit recount (`archive recount`) sets them right after anything else.
import { randomInt } from 'node:crypto';
import { hasCode } from '../domain/errors.ts';
import {
  addTierTotals,
  emptyTierTotals,
  isEmptyDelta,
  negateTierTotals,
  type TierDelta,
  type TierTotals,
} from '../domain/tier-totals.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { Logger } from '../ports/logger.ts';
import type { TierBaseline, TierCounterReading, TierCounterStore } from '../ports/tier-counter-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';

export const TIER_COUNTER_SHARDS = 8;
const PREFIX = 'counters/tiers/';
const BASELINE = `${PREFIX}baseline.json`;
const shardName = (shard: number): string => `${PREFIX}shard-${shard}.json`;
const MAX_FLUSH_ATTEMPTS = 8;

export class TierCounters implements TierCounterStore {
  readonly #control: ArchivalControlStore;
  readonly #log: Logger | undefined;
  #pending: TierTotals = emptyTierTotals();
  #flushing: Promise<void> | undefined;
  #scheduled = false;

  constructor(control: ArchivalControlStore, log?: Logger) {
    this.#control = control;
    this.#log = log;
  }

  /** Adds a change; it is written in the background (soon, and together with the changes beside it). */
  add(delta: TierDelta): void {
    if (isEmptyDelta(delta)) return;
    this.#pending = addTierTotals(this.#pending, delta);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush().catch((error: unknown) =>
        this.#log?.warn({ err: error }, 'could not write the tier counters; kept for the next flush'),
      );
    });
  }

  /** Writes what is pending; resolves once everything added before the call is stored. */
  async flush(options: OperationOptions = {}): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing.catch(() => undefined);
    if (isEmptyDelta(this.#pending)) return;
    const delta = this.#pending;
    this.#pending = emptyTierTotals();
    this.#flushing = this.#write(delta, options).catch((error: unknown) => {
      this.#pending = addTierTotals(this.#pending, delta); // kept for the next flush
      throw error;
    });
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * The totals: the baseline plus every shard plus what this process has not written yet. Undefined
   * when no recount ever set a baseline. A handful of small control-document reads, whatever the size.
   */
  async read(options: OperationOptions = {}): Promise<TierCounterReading | undefined> {
    const baseline = await this.#control.read<TierBaseline>(BASELINE, options);
    if (baseline?.value == null) return undefined;
    const shards = await this.#shards(options);
    return { totals: addTierTotals(baseline.value.totals, shards), baseline: baseline.value };
  }

  /**
   * Sets the totals to what a recount measured: the baseline becomes the counts minus what the shards
   * hold now. Changes made while the recount scanned may be counted twice or not at all: exact when the
   * stores were quiet, and the next recount mends it.
   */
  async setBaseline(
    measured: TierTotals,
    recountedAt: Date,
    estimated: ReadonlyArray<keyof TierTotals>,
    options: OperationOptions = {},
  ): Promise<void> {
    await this.flush(options);
    const shards = await this.#shards(options);
    const baseline: TierBaseline = {
      totals: addTierTotals(measured, negateTierTotals(shards)),
      recountedAt: recountedAt.toISOString(),
      estimated,
    };
    await this.#control.write(BASELINE, baseline, {}, options);
  }

  /** The shards' sum, with this process's unwritten changes. */
  async #shards(options: OperationOptions): Promise<TierTotals> {
    await this.#flushing?.catch(() => undefined);
    const names = Array.from({ length: TIER_COUNTER_SHARDS }, (_, shard) => shardName(shard));
    const documents = await Promise.all(names.map((name) => this.#control.read<TierTotals>(name, options)));
    return documents.reduce<TierTotals>(
      (sum, document) => addTierTotals(sum, document?.value ?? {}),
      this.#pending,
    );
  }

  async #write(delta: TierTotals, options: OperationOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const name = shardName(randomInt(TIER_COUNTER_SHARDS));
      const current = await this.#control.read<TierTotals>(name, options);
      const next = addTierTotals(current?.value ?? {}, delta);
      try {
        await this.#control.write(
          name,
          next,
          current === undefined ? { ifNoneMatch: '*' } : { ifMatch: current.etag },
          options,
        );
        return;
      } catch (error) {
        // Another process wrote this shard between our read and write: try again, likely elsewhere.
        const raced = hasCode(error, 'PRECONDITION_FAILED') || hasCode(error, 'ALREADY_EXISTS');
        if (!raced || attempt >= MAX_FLUSH_ATTEMPTS) throw error;
      }
    }
  }
}

/** One counter per control store in a process: every wiring over the same store adds to the same sums. */
const byControl = new WeakMap<ArchivalControlStore, TierCounters>();

export function tierCountersOf(control: ArchivalControlStore, log?: Logger): TierCounters {
  let counters = byControl.get(control);
  if (counters === undefined) {
    counters = new TierCounters(control, log);
    byControl.set(control, counters);
  }
  return counters;
}
