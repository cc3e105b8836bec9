// Phase 1, copy: canonical JSON, sha256, gzip, create-only upload to the Cold tier, verify the answer,
// then a small ledger entry. The full document is never rewritten (a 300 KB write costs ~150 RU).
import {
  buildArchiveArtifact,
  type ArchiveArtifact,
  ARCHIVE_CONTENT_ENCODING,
  ARCHIVE_CONTENT_TYPE,
  ARCHIVE_METADATA,
} from '../domain/archive-artifact.ts';
import { historyExpiresAt, ineligibility, purgeAfter } from '../domain/archival-policy.ts';
import { AppError } from '../domain/errors.ts';
import { type StoredDocument, summaryOf } from '../domain/record-document.ts';
import { storedBytesOf } from '../domain/tier-totals.ts';
import {
  isMigrationHistory,
  type LedgerEntry,
  ledgerKeyOf,
  type StoredLedgerEntry,
} from '../ports/archive-ledger.ts';
import type { BlobProperties, PutBlobRequest } from '../ports/archive-store.ts';
import type { ScanItem } from '../ports/record-store.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import { isCode, recordFailure, type StepContext, type StepOutcome } from './archival-context.ts';

/** What to do with one scanned record: skip it (why), copy it (over its ledger entry, if any), or fail it. */
export type CopyPlan =
  | { readonly item: ScanItem; readonly skip: string }
  | { readonly item: ScanItem; readonly ledger: StoredLedgerEntry | undefined }
  | { readonly item: ScanItem; readonly lookupFailed: unknown };

/**
 * Whether each scanned record of a page needs copying, without reading bodies: the cheap checks first,
 * then one ledger lookup for the page's eligible records, not one round trip per record.
 */
export async function planCopies(context: StepContext, items: readonly ScanItem[]): Promise<CopyPlan[]> {
  const screened = items.map((item) => ({ item, why: ineligibility(item, context.policy, context.asOf) }));
  const eligible = screened.filter(({ why }) => why === undefined).map(({ item }) => item);
  let entries: ReadonlyMap<string, StoredLedgerEntry> = new Map();
  try {
    if (eligible.length > 0) entries = await context.ledger.getMany(eligible, context.callOptions);
  } catch (error) {
    // As if each record's lookup had failed: the eligible ones fail, the others are still skipped.
    return screened.map(({ item, why }) =>
      why === undefined ? { item, lookupFailed: error } : { item, skip: why },
    );
  }
  return screened.map(({ item, why }) => {
    if (why !== undefined) return { item, skip: why };
    const ledger = entries.get(ledgerKeyOf(item));
    if (ledger !== undefined) {
      const { entry } = ledger;
      if (entry.parked === true) return { item, skip: 'parked' };
      // Already copied and unchanged since: nothing to do until its purge (this is what keeps re-runs cheap).
      // Unless the purge's position has passed it while the record is still this hot document: copy again,
      // which writes the entry due after the position, so the purge finds it (see purge-position.ts).
      if (
        entry.state === 'copied' &&
        entry.sourceEtag === item.etag &&
        !isMigrationHistory(entry, context.purgedThrough)
      )
        return { item, skip: 'already-copied' };
      if (entry.nextAttemptAt !== undefined && entry.nextAttemptAt > context.asOf.toISOString())
        return { item, skip: 'backing-off' };
    }
    return { item, ledger };
  });
}

/** Copies one record. Every write here is idempotent, so a crash anywhere is repaired by running again. */
export async function copyRecord(
  context: StepContext,
  key: RecordKey,
  ledger: StoredLedgerEntry | undefined,
): Promise<StepOutcome> {
  // The body is read once: the floor of the protocol's cost.
  let stored: StoredDocument | undefined;
  try {
    stored = await context.store.get(key, context.callOptions);
  } catch (error) {
    return {
      kind: 'failed',
      reason: `${key.customerId}/${key.id}: read failed (${(error as Error).message})`,
      parked: false,
    };
  }
  const why =
    stored === undefined
      ? 'deleted'
      : stored.document.tier !== 'hot'
        ? 'not-hot'
        : ineligibility(
            { ...stored.document.record, sys: { ...stored.document.sys, tier: 'hot' } },
            context.policy,
            context.asOf,
          );
  if (stored === undefined || stored.document.tier !== 'hot' || why !== undefined) {
    // An entry left from an earlier copy no longer applies to this record.
    if (ledger !== undefined)
      await context.ledger.delete(key, { ifMatch: ledger.etag }, context.callOptions).catch(() => false);
    return { kind: 'skipped', reason: why ?? 'not-hot' };
  }
  const { document } = stored;

  const artifact = buildArchiveArtifact(document.record);
  const copiedAt = context.clock.now();
  // Due no earlier than now, even for a run as of an earlier instant: the purge's position relies on it.
  const due = dueAfterPosition(
    purgeAfter(context.policy, new Date(Math.max(context.asOf.getTime(), copiedAt.getTime()))),
    context,
  );
  const base = {
    customerId: key.customerId,
    id: key.id,
    version: document.record.version,
    blobPath: artifact.path,
    sourceEtag: stored.etag,
    summary: summaryOf(document),
    sys: document.sys,
    copiedAt: copiedAt.toISOString(),
    sourceBytes: storedBytesOf(document),
    purgeAfter: due.toISOString(),
  };
  try {
    const properties = await uploadVerified(context, artifact);
    // Archival goes on under a legal hold; the copy then carries the archive's hold marker.
    await markIfHeld(context, key, document.sys, artifact.path);
    const entry: LedgerEntry = {
      ...base,
      state: 'copied',
      sha256: artifact.sha256,
      size: artifact.size,
      storedBytes: properties.size,
      contentMd5: properties.contentMd5,
      attempts: 0,
      // Written once: the purge leaves it as the migration history, which then expires unwritten.
      expiresAt: historyExpiresAt(context.policy, due).toISOString(),
    };
    // Invariant 2: the ledger entry (which allows the purge) is written only after the blob is verified.
    await context.ledger.put(
      entry,
      ledger === undefined ? { ifNoneMatch: '*' } : { ifMatch: ledger.etag },
      context.callOptions,
    );
    return { kind: 'copied' };
  } catch (error) {
    // Another worker wrote the entry first: its copy stands, ours is the same bytes at the same path.
    if (isCode(error, 'ALREADY_EXISTS', 'PRECONDITION_FAILED'))
      return { kind: 'skipped', reason: 'copied-by-another-worker' };
    return recordFailure(
      context,
      key,
      ledger,
      { ...base, state: 'failed', sha256: '', size: 0, storedBytes: 0 },
      error,
    );
  }
}

/**
 * A new copy is due after the purge's saved position, never behind it, where it would read as history
 * and never be purged: a run with an earlier asOf (a pilot) would otherwise put it there.
 */
function dueAfterPosition(due: Date, context: StepContext): Date {
  const floor = context.purgedThrough?.purgeAfter;
  if (floor === undefined || due.toISOString() > floor) return due;
  return new Date(Date.parse(floor) + 1);
}

/**
 * The upload of an archived record: gzip JSON, straight to the Cold tier, with metadata. No index tags:
 * writing them needs `blobs/tags/write`, which Storage Blob Data Contributor lacks (every upload would
 * answer 403), and the path and metadata already carry the customer, month, record and version.
 */
export function archiveUploadRequest(artifact: ArchiveArtifact): PutBlobRequest {
  return {
    path: artifact.path,
    body: artifact.body,
    contentType: ARCHIVE_CONTENT_TYPE,
    contentEncoding: ARCHIVE_CONTENT_ENCODING,
    metadata: artifact.metadata,
    accessTier: 'Cold',
  };
}

/**
 * Create-only upload, verified (MD5, size, hash) on the properties the service answers. A blob already at
 * the path with the same hash (a re-run, or a record rehydrated and archived again) is reused after a
 * conditional touch, so a collector that saw the old etag cannot delete it under us.
 */
async function uploadVerified(context: StepContext, artifact: ArchiveArtifact): Promise<BlobProperties> {
  const request = archiveUploadRequest(artifact);
  for (let attempt = 1; attempt <= 3; attempt++) {
    let stored: BlobProperties | undefined;
    try {
      // No HEAD after it: the service checked the transactional Content-MD5 before answering 201, and the
      // purge reads the blob's properties again right before the body goes (invariant 2).
      stored = await context.archive.putIfAbsent(request, context.callOptions);
      context.tierCounters?.add({ blobs: 1, blobBytes: stored.size });
    } catch (error) {
      if (!isCode(error, 'ALREADY_EXISTS')) throw error;
      stored = await reuseExisting(context, artifact);
    }
    if (stored === undefined) continue;
    verify(artifact, stored);
    return stored;
  }
  throw new AppError(
    'UNAVAILABLE',
    `The archive kept changing under ${artifact.path}; will retry on the next run`,
  );
}

/**
 * The blob already at the artifact's path, touched, as the touch answers it (its properties under the
 * etag the touch was conditioned on); undefined when it changed or went meanwhile, to upload again.
 */
async function reuseExisting(
  context: StepContext,
  artifact: ArchiveArtifact,
): Promise<BlobProperties | undefined> {
  const existing = await context.archive.getProperties(artifact.path, context.callOptions);
  if (existing === undefined) return undefined; // collected in between: upload again
  if (existing.metadata[ARCHIVE_METADATA.sha256] !== artifact.sha256) {
    // A blob of an earlier record with the same id and version (deleted, then created again): nothing
    // references it, since this record is hot. Remove it (only if unchanged) and upload ours.
    const deleted = await context.archive
      .delete(artifact.path, { ifMatch: existing.etag }, context.callOptions)
      .catch((e: unknown) => {
        if (!isCode(e, 'PRECONDITION_FAILED')) throw e;
        return false;
      });
    if (deleted) context.tierCounters?.add({ blobs: -1, blobBytes: -existing.size });
    return undefined;
  }
  return context.archive
    .touch(artifact.path, { ifMatch: existing.etag }, context.callOptions)
    .catch((e: unknown) => {
      if (isCode(e, 'PRECONDITION_FAILED')) return undefined;
      throw e;
    });
}

function verify(artifact: ArchiveArtifact, properties: BlobProperties): void {
  const problems: string[] = [];
  if (properties.contentMd5 !== artifact.contentMd5)
    problems.push(`MD5 ${properties.contentMd5} != ${artifact.contentMd5}`);
  if (properties.size !== artifact.body.byteLength)
    problems.push(`size ${properties.size} != ${artifact.body.byteLength}`);
  if (properties.metadata[ARCHIVE_METADATA.sha256] !== artifact.sha256)
    problems.push('sha256 metadata differs');
  if (problems.length > 0) {
    throw new AppError(
      'ARCHIVE_INTEGRITY',
      `The uploaded ${artifact.path} did not verify: ${problems.join('; ')}`,
    );
  }
}

/** Sets the blob's legal hold marker when the record (or its customer) is held and the archive has markers. */
async function markIfHeld(
  context: StepContext,
  key: RecordKey,
  sys: StoredDocument['document']['sys'],
  path: string,
): Promise<void> {
  const markers = context.archive.legalHolds;
  if (markers === undefined) return;
  const held =
    sys.legalHold !== undefined ||
    (await context.holds?.get(key.customerId, null, context.callOptions)) !== undefined;
  if (held) await markers.setLegalHold(path, true, context.callOptions);
}
