// A deleted record's tombstone: a small blob beside the archive, written before the record's stub or
// document goes, so that a rebuild of the hot store from the archive never brings the record back.
// A blob of the record last written (created or touched) after its tombstone belongs to a later record
// with the same id, and is live again. Both times come from the archive's own clock.
import type { RecordKey } from './record-rules.ts';

export const TOMBSTONE_PREFIX = 'tombstones/';

export function tombstonePath(key: RecordKey): string {
  return `${TOMBSTONE_PREFIX}${key.customerId}/${key.id}.json`;
}

/** A blob of a record is live unless its record's tombstone was written at or after it. */
export function blobOutlivesTombstone(
  blobLastModified: Date,
  tombstoneLastModified: Date | undefined,
): boolean {
  return tombstoneLastModified === undefined || blobLastModified.getTime() > tombstoneLastModified.getTime();
}
