// The archival status of API.md: how many records are hot, copied (in grace), archived, stuck
// (an intermediate state for too long) and failed (parked for review after repeated failures). Ledger
// entries the purge has passed are migration history: counted apart, never as copied or stuck.
import type { ArchiveLedger, LedgerEntry, LedgerPosition } from '../ports/archive-ledger.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { TierCounterStore } from '../ports/tier-counter-store.ts';
import { readPurgedThrough } from './purge-position.ts';

export interface StatusItem {
  readonly customerId: string;
  readonly id: string;
  readonly state: LedgerEntry['state'];
  readonly version: number;
  readonly since: string;
  readonly purgeAfter: string;
  readonly attempts: number;
  readonly lastError: string | null;
}

export interface ArchivalStatus {
  readonly counts: { hot: number; copied: number; archived: number; stuck: number; failed: number };
  readonly stuck: readonly StatusItem[];
  readonly failed: readonly StatusItem[];
}

/** A copy still not purged this long after its grace ended is stuck. */
export const DEFAULT_STUCK_AFTER_MS = 24 * 3600_000;
const LISTED = 100;

export async function archivalStatus(
  dependencies: {
    readonly store: RecordStore;
    readonly ledger: ArchiveLedger;
    readonly control: Pick<ArchivalControlStore, 'read'>;
    readonly tierCounters?: TierCounterStore;
  },
  now: Date,
  options: { readonly stuckAfterMs?: number } & OperationOptions = {},
): Promise<ArchivalStatus> {
  const { stuckAfterMs, ...call } = options;
  const purgedThrough = await readPurgedThrough(dependencies.control, call);
  const [tiers, ledgerCounts] = await Promise.all([
    tierCounts(dependencies, call),
    dependencies.ledger.counts(purgedThrough !== undefined ? { purgedThrough } : {}, call),
  ]);
  const stuckBefore = new Date(now.getTime() - (stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS)).toISOString();
  // Stuck: copies overdue for purge (past the history), and copies that keep failing but are not parked yet.
  const stuck: StatusItem[] = [];
  let stuckCount = 0;
  for (const [query, start] of [
    [{ state: 'copied' as const, parked: false, dueBy: stuckBefore }, purgedThrough],
    [{ state: 'failed' as const, parked: false }, undefined],
  ] as const) {
    let after: LedgerPosition | undefined = start;
    do {
      const page = await dependencies.ledger.query(
        { ...query, limit: 500, ...(after ? { after } : {}) },
        call,
      );
      stuckCount += page.items.length;
      for (const { entry } of page.items) if (stuck.length < LISTED) stuck.push(toItem(entry));
      after = page.next;
    } while (after !== undefined);
  }
  const parked = await dependencies.ledger.query({ parked: true, limit: LISTED }, call);
  return {
    counts: {
      hot: Math.max(0, tiers.hot - ledgerCounts.copied),
      copied: ledgerCounts.copied,
      archived: tiers.archived,
      stuck: stuckCount,
      failed: ledgerCounts.parked,
    },
    stuck,
    failed: parked.items.map(({ entry }) => toItem(entry)),
  };
}

/**
 * Records per tier from the tier counters (a few small control documents, whatever the size); only
 * before any recount has set them, the store's own counts (two index-served COUNT queries).
 */
async function tierCounts(
  dependencies: { readonly store: RecordStore; readonly tierCounters?: TierCounterStore },
  options: OperationOptions,
): Promise<{ hot: number; archived: number }> {
  const reading = await dependencies.tierCounters?.read(options);
  if (reading === undefined) return dependencies.store.countByTier(options);
  return { hot: reading.totals.hotRecords, archived: reading.totals.archivedRecords };
}

function toItem(entry: LedgerEntry): StatusItem {
  return {
    customerId: entry.customerId,
    id: entry.id,
    state: entry.state,
    version: entry.version,
    since: entry.copiedAt,
    purgeAfter: entry.purgeAfter,
    attempts: entry.attempts,
    lastError: entry.lastError ?? null,
  };
}

export interface AttentionCounts {
  /** Copies overdue for purge. */
  readonly stuck: number;
  /** Items whose last attempt failed, retried at their backoff. */
  readonly failed: number;
  /** Items parked for review after repeated failures. */
  readonly parked: number;
}

/**
 * The ledger items that need attention (`archival_items{state}`): the ledger's own counts and one
 * indexed query of overdue copies, never a read of the records (cheap enough after every run).
 */
export async function attentionCounts(
  dependencies: { readonly ledger: ArchiveLedger; readonly control: Pick<ArchivalControlStore, 'read'> },
  now: Date,
  options: { readonly stuckAfterMs?: number } & OperationOptions = {},
): Promise<AttentionCounts> {
  const { stuckAfterMs, ...call } = options;
  const { ledger } = dependencies;
  const purgedThrough = await readPurgedThrough(dependencies.control, call);
  const counts = await ledger.counts(purgedThrough !== undefined ? { purgedThrough } : {}, call);
  const stuckBefore = new Date(now.getTime() - (stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS)).toISOString();
  let stuck = 0;
  let after: LedgerPosition | undefined = purgedThrough;
  do {
    const page = await ledger.query(
      { state: 'copied', parked: false, dueBy: stuckBefore, limit: 500, ...(after ? { after } : {}) },
      call,
    );
    stuck += page.items.length;
    after = page.next;
  } while (after !== undefined);
  return { stuck, failed: counts.failed, parked: counts.parked };
}
