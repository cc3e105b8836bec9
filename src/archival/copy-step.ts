// Phase 1, copy: canonical JSON, sha256, gzip, create-only upload to the Cold tier, verify, then a
// small ledger entry. The full document is never rewritten (a 300 KB write costs ~150 RU).
import {
  buildArchiveArtifact,
  type ArchiveArtifact,
  ARCHIVE_CONTENT_ENCODING,
  ARCHIVE_CONTENT_TYPE,
  ARCHIVE_METADATA,
} from '../domain/archive-artifact.ts';
import { ineligibility, purgeAfter } from '../domain/archival-policy.ts';
import { AppError } from '../domain/errors.ts';
import { type StoredDocument, summaryOf } from '../domain/record-document.ts';
import type { LedgerEntry, StoredLedgerEntry } from '../ports/archive-ledger.ts';
import type { BlobProperties } from '../ports/archive-store.ts';
import type { ScanItem } from '../ports/record-store.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import { isCode, recordFailure, type StepContext, type StepOutcome } from './archival-context.ts';

/** Whether a scanned record needs copying, without reading its body (the cheap checks first). */
export async function planCopy(
  context: StepContext,
  item: ScanItem,
): Promise<{ readonly skip: string } | { readonly ledger: StoredLedgerEntry | undefined }> {
  const why = ineligibility(item, context.policy, context.asOf);
  if (why !== undefined) return { skip: why };
  const ledger = await context.ledger.get(item, context.callOptions);
  if (ledger !== undefined) {
    const { entry } = ledger;
    if (entry.parked === true) return { skip: 'parked' };
    // Already copied and unchanged since: nothing to do until its purge (this is what keeps re-runs cheap).
    if (entry.state === 'copied' && entry.sourceEtag === item.etag) return { skip: 'already-copied' };
    if (entry.nextAttemptAt !== undefined && entry.nextAttemptAt > context.asOf.toISOString())
      return { skip: 'backing-off' };
  }
  return { ledger };
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
  const base = {
    customerId: key.customerId,
    id: key.id,
    version: document.record.version,
    blobPath: artifact.path,
    sourceEtag: stored.etag,
    summary: summaryOf(document),
    sys: document.sys,
    copiedAt: copiedAt.toISOString(),
    purgeAfter: purgeAfter(context.policy, context.asOf).toISOString(),
  };
  try {
    const properties = await uploadVerified(context, artifact);
    const entry: LedgerEntry = {
      ...base,
      state: 'copied',
      sha256: artifact.sha256,
      size: artifact.size,
      storedBytes: properties.size,
      contentMd5: properties.contentMd5,
      attempts: 0,
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
 * Create-only upload, then read back the properties and compare MD5, size and hash. A blob already at
 * the path with the same hash (a re-run, or a record rehydrated and archived again) is reused after a
 * conditional touch, so a collector that saw the old etag cannot delete it under us.
 */
async function uploadVerified(context: StepContext, artifact: ArchiveArtifact): Promise<BlobProperties> {
  const request = {
    path: artifact.path,
    body: artifact.body,
    contentType: ARCHIVE_CONTENT_TYPE,
    contentEncoding: ARCHIVE_CONTENT_ENCODING,
    metadata: artifact.metadata,
    tags: artifact.tags,
    accessTier: 'Cold' as const,
  };
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await context.archive.putIfAbsent(request, context.callOptions);
    } catch (error) {
      if (!isCode(error, 'ALREADY_EXISTS')) throw error;
      const existing = await context.archive.getProperties(artifact.path, context.callOptions);
      if (existing === undefined) continue; // collected in between: upload again
      if (existing.metadata[ARCHIVE_METADATA.sha256] !== artifact.sha256) {
        // A blob of an earlier record with the same id and version (deleted, then created again): nothing
        // references it, since this record is hot. Remove it (only if unchanged) and upload ours.
        await context.archive
          .delete(artifact.path, { ifMatch: existing.etag }, context.callOptions)
          .catch((e: unknown) => {
            if (!isCode(e, 'PRECONDITION_FAILED')) throw e;
          });
        continue;
      }
      const touched = await context.archive
        .touch(artifact.path, { ifMatch: existing.etag }, context.callOptions)
        .catch((e: unknown) => {
          if (isCode(e, 'PRECONDITION_FAILED')) return undefined;
          throw e;
        });
      if (touched === undefined) continue;
    }
    const properties = await context.archive.getProperties(artifact.path, context.callOptions);
    if (properties === undefined) continue;
    verify(artifact, properties);
    return properties;
  }
  throw new AppError(
    'UNAVAILABLE',
    `The archive kept changing under ${artifact.path}; will retry on the next run`,
  );
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
