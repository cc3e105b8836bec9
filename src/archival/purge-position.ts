// The purge's saved position in the ledger's order (purgeAfter, customerId, id): every unparked `copied`
// entry at or before it is settled, so it reads as migration history (isMigrationHistory), and the next
// purge starts after it instead of reading that history again. Kept as the value of the purge's lease
// document, so only the lease holder writes it (fenced), and only a run over everything (no pilot).
import type { LedgerEntry, LedgerPosition } from '../ports/archive-ledger.ts';
import type { ArchivalControlStore, Lease } from '../ports/archival-control-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { StepOutcome } from './archival-context.ts';

/** The purge's lease document; its value is the saved position (null before the first). */
export const PURGE_CONTROL_NAME = 'purge.json';

/**
 * How far a purge may move the position: only past entries due before the instant it asked for their
 * page. A copy is due no earlier than when it is written (copy-step.ts), so every entry due before that
 * instant was already written, and the page (read in order) saw it: none can appear behind the position
 * later. Equal instants do not count (a manual clock, or two writes in one millisecond). Workers whose
 * clocks differ by more than the grace period could still write one behind it: it then reads as history
 * while its record is hot (nothing is lost), and the copy step rewrites it when it meets the record again.
 */
export function positionHorizon(pageReadAt: Date): string {
  return pageReadAt.toISOString();
}

interface PurgeControl {
  readonly purgedThrough?: LedgerPosition;
}

export async function readPurgedThrough(
  control: Pick<ArchivalControlStore, 'read'>,
  options?: OperationOptions,
): Promise<LedgerPosition | undefined> {
  return (await control.read<PurgeControl | null>(PURGE_CONTROL_NAME, options))?.value?.purgedThrough;
}

export async function savePurgedThrough(
  control: Pick<ArchivalControlStore, 'write'>,
  lease: Lease,
  purgedThrough: LedgerPosition,
  options?: OperationOptions,
): Promise<void> {
  await control.write<PurgeControl>(PURGE_CONTROL_NAME, { purgedThrough }, { lease }, options);
}

export function positionOf(entry: LedgerEntry): LedgerPosition {
  return { purgeAfter: entry.purgeAfter, customerId: entry.customerId, id: entry.id };
}

/**
 * Whether the purge is done with an entry, so the position may pass it: purged (kept as history),
 * dropped, copied again, or its failure recorded (which moved its purgeAfter ahead). Not when the
 * failure could not be written or the run was cancelled: the entry is still due where it stands.
 */
export function isSettled(outcome: StepOutcome | undefined): boolean {
  if (outcome === undefined) return false;
  if (outcome.kind === 'failed') return outcome.recorded === true;
  return !(
    outcome.kind === 'skipped' &&
    (outcome.reason === 'cancelled' || outcome.reason === 'backing-off')
  );
}

/**
 * How far a purged page moves the position: through its last entry, but not past an unsettled one or
 * one due at or after `horizon` (positionHorizon). `blocked`: stop moving it.
 */
export function advancePosition(
  items: readonly LedgerEntry[],
  settled: readonly boolean[],
  horizon: string,
): { readonly position: LedgerPosition | undefined; readonly blocked: boolean } {
  let position: LedgerPosition | undefined;
  for (const [index, entry] of items.entries()) {
    if (settled[index] !== true || entry.purgeAfter >= horizon) return { position, blocked: true };
    position = positionOf(entry);
  }
  return { position, blocked: false };
}
