// What every archival step works with: the three stores, the clock, the policy, the instant the run
// evaluates eligibility at, and the options each store call carries (charge meter, low priority).
import type { ArchivalPolicy } from '../domain/archival-policy.ts';
import { AppError, describeError, isAppError } from '../domain/errors.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type {
  ArchiveLedger,
  LedgerEntry,
  LedgerPosition,
  StoredLedgerEntry,
} from '../ports/archive-ledger.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { TierCounterStore } from '../ports/tier-counter-store.ts';

export interface ArchivalStores {
  readonly store: RecordStore;
  readonly ledger: ArchiveLedger;
  readonly archive: ArchiveStore;
  /** Customer holds: a held customer's copies carry the archive's hold marker, where it has one. */
  readonly holds?: LegalHoldStore;
  /** The tier totals: copies, purges and collections add their changes; status reads them. */
  readonly tierCounters?: TierCounterStore;
}

export interface StepContext extends ArchivalStores {
  readonly clock: Clock;
  readonly policy: ArchivalPolicy;
  /** Eligibility and grace are evaluated as of this instant. */
  readonly asOf: Date;
  readonly callOptions: OperationOptions;
  /** Failed attempts of a step before the item is parked for review. */
  readonly maxAttempts: number;
  /** The purge's saved position when the run started: a copy is due after it (see copy-step.ts). */
  readonly purgedThrough?: LedgerPosition;
}

export type StepOutcome =
  | { readonly kind: 'copied' }
  | {
      readonly kind: 'purged';
      /** The purgeAfter the purge moved the entry back to (settledHistoryDue); absent: it stays where read. */
      readonly movedTo?: string;
    }
  | { readonly kind: 'skipped'; readonly reason: string }
  | {
      readonly kind: 'failed';
      readonly reason: string;
      readonly parked: boolean;
      /** The failure is written on the ledger entry (with its backoff); false when that write failed too. */
      readonly recorded?: boolean;
    };

export const DEFAULT_MAX_ATTEMPTS = 5;

/** Backoff between attempts of a failing item: 1 min, 4 min, 16 min, ... capped at a day. */
export function backoffMs(attempts: number): number {
  return Math.min(24 * 3600_000, 60_000 * 4 ** Math.max(0, attempts - 1));
}

export { describeError } from '../domain/errors.ts';

/**
 * Records a failed attempt on the item's ledger entry (creating a `failed` entry for a copy that never
 * succeeded), with backoff, and parks it after `maxAttempts`. Best effort: the ledger may be down too.
 * A failing purge's entry is due again at its nextAttemptAt (purgeAfter moves there), so it never holds
 * the purge's saved position back; a failing or parked entry never expires (no expiresAt).
 */
export async function recordFailure(
  context: StepContext,
  key: RecordKey,
  existing: StoredLedgerEntry | undefined,
  failed: Omit<LedgerEntry, 'attempts' | 'lastError' | 'nextAttemptAt' | 'parked'>,
  error: unknown,
): Promise<StepOutcome> {
  // The run's own cancellation is no failure of the record: no attempt counted, no backoff written.
  if (context.callOptions.abortSignal?.aborted === true) return { kind: 'skipped', reason: 'cancelled' };
  const attempts = (existing?.entry.attempts ?? 0) + 1;
  const parked = attempts >= context.maxAttempts;
  const reason = describeError(error);
  const { expiresAt: _expiresAt, ...kept } = failed;
  const nextAttemptAt = new Date(context.asOf.getTime() + backoffMs(attempts)).toISOString();
  const now = context.clock.now().toISOString();
  const entry: LedgerEntry = {
    ...kept,
    // Never due before now either: the purge's position passes only entries due before it read them.
    ...(failed.state === 'copied' ? { purgeAfter: nextAttemptAt > now ? nextAttemptAt : now } : {}),
    attempts,
    lastError: reason.slice(0, 500),
    nextAttemptAt,
    ...(parked ? { parked: true } : {}),
  };
  let recorded = true;
  try {
    await context.ledger.put(
      entry,
      existing === undefined ? {} : { ifMatch: existing.etag },
      context.callOptions,
    );
  } catch {
    // The failure is still reported in the run; the next run finds the item again.
    recorded = false;
  }
  return { kind: 'failed', reason: `${key.customerId}/${key.id}: ${reason}`, parked, recorded };
}

export function isCode(error: unknown, ...codes: AppError['code'][]): boolean {
  return isAppError(error) && codes.includes(error.code);
}
