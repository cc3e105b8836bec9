// What each tier holds, as counts and bytes: kept as work happens (every change of a record, every blob
// written or removed) so that status and the cost report never scan the hot store or list the archive.
import type { RecordDocument } from './record-document.ts';
import { toPersisted } from './record-document.ts';

export interface TierTotals {
  readonly hotRecords: number;
  /** Bytes of the hot documents as stored (the persisted layout; Cosmos DB adds its system properties). */
  readonly hotBytes: number;
  readonly archivedRecords: number;
  /** Bytes of the stub documents as stored. */
  readonly stubBytes: number;
  /** Canonical JSON bytes of the archived records (the sizes their stubs point at). */
  readonly archivedJsonBytes: number;
  /** What the archive stores, superseded blobs awaiting collection included (they are billed). */
  readonly blobs: number;
  readonly blobBytes: number;
}

export type TierDelta = Partial<TierTotals>;

export const TIER_TOTAL_KEYS = [
  'hotRecords',
  'hotBytes',
  'archivedRecords',
  'stubBytes',
  'archivedJsonBytes',
  'blobs',
  'blobBytes',
] as const satisfies ReadonlyArray<keyof TierTotals>;

/** Where changes are reported as they happen; the composition keeps and persists them. */
export interface TierChangeSink {
  add(delta: TierDelta): void;
}

export function emptyTierTotals(): TierTotals {
  return {
    hotRecords: 0,
    hotBytes: 0,
    archivedRecords: 0,
    stubBytes: 0,
    archivedJsonBytes: 0,
    blobs: 0,
    blobBytes: 0,
  };
}

export function addTierTotals(a: TierDelta, b: TierDelta): TierTotals {
  const sum: Record<keyof TierTotals, number> = { ...emptyTierTotals() };
  for (const key of TIER_TOTAL_KEYS) sum[key] = (a[key] ?? 0) + (b[key] ?? 0);
  return sum;
}

export function negateTierTotals(a: TierDelta): TierTotals {
  return addTierTotals({}, Object.fromEntries(TIER_TOTAL_KEYS.map((key) => [key, -(a[key] ?? 0)])));
}

export function isEmptyDelta(delta: TierDelta): boolean {
  return TIER_TOTAL_KEYS.every((key) => (delta[key] ?? 0) === 0);
}

/** Bytes of a document in the persisted layout the stores keep. */
export function storedBytesOf(document: RecordDocument): number {
  return Buffer.byteLength(JSON.stringify(toPersisted(document)));
}

/** What one document adds to the totals. */
export function documentTotals(document: RecordDocument): TierDelta {
  if (document.tier === 'hot') return { hotRecords: 1, hotBytes: storedBytesOf(document) };
  return {
    archivedRecords: 1,
    stubBytes: storedBytesOf(document),
    archivedJsonBytes: document.archive.size,
  };
}

/** The change of the totals when `before` (absent: created) becomes `after` (absent: deleted). */
export function changeOfTotals(
  before: RecordDocument | undefined,
  after: RecordDocument | undefined,
): TierDelta {
  return addTierTotals(
    after === undefined ? {} : documentTotals(after),
    before === undefined ? {} : negateTierTotals(documentTotals(before)),
  );
}
