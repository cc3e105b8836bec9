// The collector removes blobs that no stub and no ledger entry references (superseded versions, copies
// abandoned after a 412, records rehydrated or deleted), month by month, only once a blob has been
// left alone for a safety window, and only with If-Match on the etag it judged. The archiver touches a
// blob it re-uses (new etag), so of a collector and an archiver racing for one blob, one loses cleanly.
// Tombstones (domain/tombstone.ts) go too, once none of their record's blobs written at or before them is
// left: they are listed after every month folder (`tombstones/` sorts last), so by then this pass has
// collected what it could of the record's unreferenced blobs; a tombstone that still hides a blob stays.
// A ledger entry kept as migration history (behind the purge's saved position) references nothing: its
// record's stub, if any, does. History past its expiresAt is swept first where the store has no ttl of
// its own (SQLite): this pass, like the sweep, removes what nothing needs, off the archival run's budget.
import { setImmediate } from 'node:timers/promises';
import { parseArchivePath } from '../domain/archive-artifact.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import { parseTombstonePath, TOMBSTONE_METADATA, tombstoneStillHides } from '../domain/tombstone.ts';
import type { TierChangeSink } from '../domain/tier-totals.ts';
import { type ArchiveLedger, isMigrationHistory } from '../ports/archive-ledger.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { ArchiveStore, BlobProperties } from '../ports/archive-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import { isCode } from './archival-context.ts';
import { readPurgedThrough } from './purge-position.ts';

export interface CollectorOptions {
  /** A blob modified more recently than this is never collected (default one day). */
  readonly safetyWindowMs?: number;
  /** A tombstone is removed only once older than the safety window plus this (default seven days). */
  readonly tombstoneMarginMs?: number;
  readonly dryRun?: boolean;
  readonly pageSize?: number;
  readonly abortSignal?: AbortSignal;
  readonly onProgress?: (counts: CollectorCounts) => void;
  /** Told of each tombstone removed, instead of the dependencies' hook (a worker hands it to its parent). */
  readonly onTombstoneRemoved?: (key: RecordKey, tombstone: BlobProperties) => Promise<void>;
}

export interface CollectorCounts {
  examined: number;
  referenced: number;
  tooRecent: number;
  deleted: number;
  /** Unreferenced, but left alone: changed under us, or outside the archive layout. */
  kept: number;
  /** Tombstones removed: no blob they hide is left. */
  tombstonesRemoved: number;
  /** Tombstones left: too recent, still hiding a blob, or from before tombstones named their folder. */
  tombstonesKept: number;
  /** Migration history entries past their expiry, removed by the sweep (stores without a ttl of their own). */
  historyExpired: number;
}

export const DEFAULT_COLLECTOR_SAFETY_WINDOW_MS = 24 * 3600_000;
export const DEFAULT_TOMBSTONE_MARGIN_MS = 7 * 24 * 3600_000;

export async function collectUnreferencedBlobs(
  dependencies: {
    readonly store: RecordStore;
    readonly ledger: ArchiveLedger;
    readonly archive: ArchiveStore;
    readonly control: Pick<ArchivalControlStore, 'read'>;
    readonly clock: Clock;
    readonly tierCounters?: TierChangeSink;
    /** Told of each tombstone removed (the audit trail), before the pass goes on. */
    readonly onTombstoneRemoved?: (key: RecordKey, tombstone: BlobProperties) => Promise<void>;
  },
  options: CollectorOptions = {},
): Promise<CollectorCounts> {
  const { store, ledger, archive, clock } = dependencies;
  const call: OperationOptions = {
    priority: 'low',
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  };
  const counts: CollectorCounts = {
    examined: 0,
    referenced: 0,
    tooRecent: 0,
    deleted: 0,
    kept: 0,
    tombstonesRemoved: 0,
    tombstonesKept: 0,
    historyExpired: 0,
  };
  if (options.dryRun !== true)
    counts.historyExpired = await ledger.sweepExpired(clock.now().toISOString(), call);
  // Read once, before any blob: an entry behind it had its stub written before the purge saved it.
  const purgedThrough = await readPurgedThrough(dependencies.control, call);
  const horizon = clock.now().getTime() - (options.safetyWindowMs ?? DEFAULT_COLLECTOR_SAFETY_WINDOW_MS);
  const tombstoneHorizon = horizon - (options.tombstoneMarginMs ?? DEFAULT_TOMBSTONE_MARGIN_MS);
  let continuation: string | undefined;
  do {
    const page = await archive.list(
      '',
      { pageSize: options.pageSize ?? 1000, ...(continuation ? { continuation } : {}) },
      call,
    );
    for (const blob of page.items) {
      if (options.abortSignal?.aborted === true) return counts;
      counts.examined += 1;
      const outcome = await judge(blob);
      counts[outcome] += 1;
    }
    // A turn of the event loop per page: the embedded stores would otherwise never yield (archive-run.ts).
    await setImmediate();
    options.onProgress?.({ ...counts });
    continuation = page.continuation;
  } while (continuation !== undefined);
  return counts;

  async function judge(blob: BlobProperties): Promise<keyof CollectorCounts> {
    const tombstoned = parseTombstonePath(blob.path);
    if (tombstoned !== undefined) return judgeTombstone(blob, tombstoned);
    const parsed = parseArchivePath(blob.path);
    if (parsed === undefined) return 'kept';
    if (blob.lastModified.getTime() > horizon) return 'tooRecent';
    // Ledger first, then the document: a purge writes the stub before its position passes the entry, so
    // this order cannot miss a reference that moves from one to the other while we look.
    const entry = await ledger.get(parsed, call);
    const stored = await store.get(parsed, call);
    if (stored?.document.tier === 'archived' && stored.document.archive.blobPath === blob.path)
      return 'referenced';
    // An entry still to be purged holds its blob, unless its record changed since the copy (the purge
    // would drop it); migration history holds nothing.
    if (
      entry?.entry.blobPath === blob.path &&
      !isMigrationHistory(entry.entry, purgedThrough) &&
      (stored === undefined || stored.etag === entry.entry.sourceEtag)
    )
      return 'referenced';
    if (options.dryRun === true) return 'deleted';
    try {
      if (!(await archive.delete(blob.path, { ifMatch: blob.etag }, call))) return 'kept';
      dependencies.tierCounters?.add({ blobs: -1, blobBytes: -blob.size });
      return 'deleted';
    } catch (error) {
      if (isCode(error, 'PRECONDITION_FAILED')) return 'kept';
      throw error;
    }
  }

  /**
   * A tombstone goes when it is old enough that no removal or archival copy of its time is still under
   * way, it names its record's folder, and that folder holds no blob written at or before it (one the
   * tombstone still hides from a rebuild). Conditional on its etag: a deletion of the same id since keeps it.
   */
  async function judgeTombstone(blob: BlobProperties, key: RecordKey): Promise<keyof CollectorCounts> {
    const folder = blob.metadata[TOMBSTONE_METADATA.folder];
    if (blob.lastModified.getTime() > tombstoneHorizon || folder === undefined) return 'tombstonesKept';
    const written: Date[] = [];
    let continuation: string | undefined;
    do {
      const page = await archive.list(
        folder,
        { pageSize: 100, ...(continuation !== undefined ? { continuation } : {}) },
        call,
      );
      written.push(...page.items.map((item) => item.lastModified));
      continuation = page.continuation;
    } while (continuation !== undefined);
    if (tombstoneStillHides(blob.lastModified, written)) return 'tombstonesKept';
    if (options.dryRun === true) return 'tombstonesRemoved';
    try {
      if (!(await archive.delete(blob.path, { ifMatch: blob.etag }, call))) return 'tombstonesKept';
    } catch (error) {
      if (isCode(error, 'PRECONDITION_FAILED')) return 'tombstonesKept';
      throw error;
    }
    await (options.onTombstoneRemoved ?? dependencies.onTombstoneRemoved)?.(key, blob);
    return 'tombstonesRemoved';
  }
}
