// Which ranges of a monthly slice a run scans, decided from the slice's stored state alone. Pure: the
// run reads the state, asks, scans what it is told, and writes back what it is given.
import { type ArchivalPolicy, coolDownCutoff } from '../domain/archival-policy.ts';
import type { ScanPosition } from '../ports/record-store.ts';

/** Per slice (a month of issuedAt): how far incremental runs have scanned, and where a cut-short scan resumes. */
export interface SliceState {
  /** Every record issued before this (within the slice) has been scanned by an incremental run. */
  readonly scannedBefore?: string;
  /** When that scan started (store clock, ms): later catch-up scans look for writes since then. */
  readonly scanStartedMs?: number;
  readonly lastFullSweepMs?: number;
  readonly checkpoint?: SliceCheckpoint;
}

export interface SliceCheckpoint {
  /** The id of the range it was saved in (see PlannedRange). */
  readonly range: string;
  readonly position: ScanPosition;
  /** When the scan it belongs to started (absent in checkpoints saved before it was recorded). */
  readonly scanStartedMs?: number;
}

export interface ScanRange {
  /** Inclusive. */
  readonly issuedFrom: string;
  /** Exclusive. */
  readonly issuedBefore: string;
  /** Only documents the store wrote at or after this instant (epoch ms). */
  readonly modifiedSinceMs?: number;
}

export interface PlannedRange extends ScanRange {
  /** The range and the run's scope: a checkpoint saved under another id is never resumed here. */
  readonly id: string;
  /** Continue strictly after this position (the checkpoint of a scan cut short); from the start otherwise. */
  readonly resumeAfter?: ScanPosition;
}

export interface SlicePlanInput {
  readonly state: SliceState;
  /** `YYYY-MM`. */
  readonly month: string;
  /** Records issued before this are old enough (ISO instant). */
  readonly cutoff: string;
  /** When this scan starts (ms, the worker's clock). */
  readonly nowMs: number;
  readonly policy: ArchivalPolicy;
  /** A slice whose last full sweep is older than this is swept whole again. */
  readonly fullSweepEveryMs: number;
  /** A pilot (asOf, one customer, or `full`) sweeps whole and leaves the watermark alone. */
  readonly pilot: boolean;
  /** What narrows the run, part of every range id. */
  readonly scope: { readonly customerId?: string; readonly asOf?: string };
}

export interface SlicePlan {
  readonly full: boolean;
  /** When this scan started: now, or when the run whose checkpoint it resumes began it. Checkpoints keep it. */
  readonly scanStartedMs: number;
  /** In scan order. */
  readonly ranges: readonly PlannedRange[];
  /**
   * The state to write when a range ends with more ranges to go (and, for a pilot, in place of
   * `completed`): as found, without a checkpoint of this scan's ranges, so none outlives the scan.
   */
  readonly settled: SliceState;
  /** The state to write once every range was scanned to its end; undefined for a pilot. */
  readonly completed: SliceState | undefined;
}

/** Clock skew allowed between the worker and the store's own write timestamps. */
export const STORE_CLOCK_SKEW_MS = 10 * 60_000;

export function planSlice(input: SlicePlanInput): SlicePlan {
  const { state, month, cutoff, nowMs, pilot } = input;
  const monthStart = `${month}-01T00:00:00.000Z`;
  const monthEnd = `${nextMonth(month)}-01T00:00:00.000Z`;
  const upper = monthEnd < cutoff ? monthEnd : cutoff;
  const full =
    pilot ||
    state.scannedBefore === undefined ||
    nowMs - (state.lastFullSweepMs ?? 0) > input.fullSweepEveryMs;
  const ranges: ScanRange[] = [];
  if (full) ranges.push({ issuedFrom: monthStart, issuedBefore: upper });
  else {
    const watermark = state.scannedBefore!;
    // Above the watermark: records that crossed the age line since the last scan.
    if (watermark < upper)
      ranges.push({ issuedFrom: watermark > monthStart ? watermark : monthStart, issuedBefore: upper });
    // Behind it only writes since the last scan matter (a rehydration, an unpin, a record that was
    // cooling down): the store's write time finds them without reading the rest.
    ranges.push({
      issuedFrom: monthStart,
      issuedBefore: watermark < upper ? watermark : upper,
      modifiedSinceMs:
        coolDownCutoff(input.policy, new Date(state.scanStartedMs ?? 0)).getTime() - STORE_CLOCK_SKEW_MS,
    });
  }
  let resumedStartMs: number | undefined;
  const planned = ranges.map((range, index): PlannedRange => {
    const id = JSON.stringify({
      ...range,
      customerId: input.scope.customerId ?? null,
      asOf: input.scope.asOf ?? null,
    });
    // Only the first range resumes: the scan of any range replaces the checkpoint saved before it.
    if (index !== 0 || state.checkpoint?.range !== id) return { ...range, id };
    // Older checkpoints do not say when their scan started; the last completed scan started before it.
    resumedStartMs = state.checkpoint.scanStartedMs ?? state.scanStartedMs ?? nowMs;
    return { ...range, id, resumeAfter: state.checkpoint.position };
  });
  // A scan resumed across runs examined its first records when it began: the next catch-up must count
  // from then, or a record cooling down at that time and passed by the checkpoint is never read again.
  const scanStartedMs = resumedStartMs ?? nowMs;
  const ownCheckpoint = planned.some((range) => range.id === state.checkpoint?.range);
  return {
    full,
    scanStartedMs,
    ranges: planned,
    // A pilot leaves an incremental run's checkpoint where it was.
    settled: pilot && !ownCheckpoint ? state : { ...state, checkpoint: undefined },
    completed: pilot
      ? undefined
      : {
          scannedBefore: upper,
          scanStartedMs,
          lastFullSweepMs: full ? scanStartedMs : (state.lastFullSweepMs ?? 0),
        },
  };
}

export function nextMonth(month: string): string {
  const [year, mm] = month.split('-').map(Number) as [number, number];
  return mm === 12 ? `${year + 1}-01` : `${year}-${String(mm + 1).padStart(2, '0')}`;
}

/** Months from `first` to `last` inclusive, as `YYYY-MM`. */
export function monthsBetween(first: string, last: string): string[] {
  const months: string[] = [];
  for (let month = first; month <= last; month = nextMonth(month)) months.push(month);
  return months;
}
