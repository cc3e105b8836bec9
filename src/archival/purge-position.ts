// The purge's saved position in the ledger's order (purgeAfter, customerId, id): every unparked `copied`
// entry at or before it is settled, so it reads as migration history (isMigrationHistory), and the next
// purge starts after it instead of reading that history again (only a settled entry ever moves behind
// it). Kept as the value of the purge's lease document, so only the lease holder writes it (fenced), and
// only a run over everything (no pilot).
import { compareLedgerPositions, type LedgerEntry, type LedgerPosition } from '../ports/archive-ledger.ts';
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

/**
 * Where the purge moves an entry it has finished (purged, kept as history) that was due after the
 * purge's own instant: a copy made by a run as of a later instant, due at that instant plus the grace.
 * Left there, it would stop the position (past the horizon) until then, and read as a copy meanwhile.
 * Moved just before the first page's horizon of the pass that purged it, it lies where that pass has
 * seen every entry (every entry due before that instant was written before it, and the pages read in
 * order from the saved position since), so the position may pass it in the same pass. An instant of a
 * later page would not do: a page holding such a copy leaves its range open to copies written after its
 * read, due before the copy's old place. Only a settled entry moves: wherever it lands, it is history.
 */
export function settledHistoryDue(firstPageReadAt: Date): string {
  return new Date(firstPageReadAt.getTime() - 1).toISOString();
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

/** How far a pass of the purge over the ledger, from its saved position, may move it. */
export interface PurgePass {
  /** The position saved, or read when the pass started. */
  readonly through: LedgerPosition | undefined;
  /**
   * The first position the pass may not move it to or past: an unsettled entry, or where an entry it
   * has not seen may still appear (a page's range reaching its horizon). Undefined: none so far.
   */
  readonly stop: LedgerPosition | undefined;
}

/** One purged page of a pass, each entry where it stood when read and where it stands now. */
export interface PurgedItem {
  readonly read: LedgerEntry;
  /** Its position now: where it was read, unless the purge moved it (settledHistoryDue). */
  readonly at: LedgerPosition;
  readonly settled: boolean;
}

/**
 * How far a purged page moves the position: to the furthest settled entry, as it stands now, short of
 * `stop`; never back (entries at or behind `through` read as history already). The page's unsettled
 * entries stop it, and so does its horizon (positionHorizon of its read) when its range reaches it: a
 * copy written after the read could appear from there on, before the next page. Pages follow each
 * other, so a page's range closes the one before unless that one reached its horizon.
 */
export function advancePosition(pass: PurgePass, items: readonly PurgedItem[], horizon: string): PurgePass {
  let stop = pass.stop;
  const stopAt = (position: LedgerPosition): void => {
    if (stop === undefined || compareLedgerPositions(position, stop) < 0) stop = position;
  };
  for (const item of items) {
    if (!item.settled) stopAt(item.at);
    if (item.read.purgeAfter >= horizon) stopAt({ purgeAfter: horizon, customerId: '', id: '' });
  }
  let through = pass.through;
  for (const { at, settled } of items) {
    if (!settled) continue;
    if (stop !== undefined && compareLedgerPositions(at, stop) >= 0) continue;
    if (through === undefined || compareLedgerPositions(at, through) > 0) through = at;
  }
  return { through, stop };
}
