// A deleted record's tombstone: a small blob beside the archive, written before the record's stub or
// document goes, so that a rebuild of the hot store from the archive never brings the record back.
// A blob of the record last written (created or touched) after its tombstone belongs to a later record
// with the same id, and is live again. Both times come from the archive's own clock.
// A tombstone is needed only while a blob it hides remains: the collector removes it once it is older
// than the collector's window plus a margin and its record's folder holds no blob written at or before it.
import type { RecordKey } from './record-rules.ts';

export const TOMBSTONE_PREFIX = 'tombstones/';

/** Blob metadata of a tombstone; `folder` (the record's archive folder) is absent on older tombstones. */
export const TOMBSTONE_METADATA = {
  customerId: 'customerid',
  recordId: 'recordid',
  folder: 'folder',
} as const;

export function tombstonePath(key: RecordKey): string {
  return `${TOMBSTONE_PREFIX}${key.customerId}/${key.id}.json`;
}

/** The record a tombstone path names, or undefined for any other path. */
export function parseTombstonePath(path: string): RecordKey | undefined {
  const match = /^tombstones\/([^/]+)\/([^/]+)\.json$/.exec(path);
  return match === null ? undefined : { customerId: match[1]!, id: match[2]! };
}

/** A blob of a record is live unless its record's tombstone was written at or after it. */
export function blobOutlivesTombstone(
  blobLastModified: Date,
  tombstoneLastModified: Date | undefined,
): boolean {
  return tombstoneLastModified === undefined || blobLastModified.getTime() > tombstoneLastModified.getTime();
}

/** Whether a tombstone still hides one of these blobs of its record (a rebuild would otherwise restore it). */
export function tombstoneStillHides(
  tombstoneLastModified: Date,
  blobsLastModified: readonly Date[],
): boolean {
  return blobsLastModified.some((blob) => !blobOutlivesTombstone(blob, tombstoneLastModified));
}
