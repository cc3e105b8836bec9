// Phase 2, purge: once the grace period has passed, replace the document by its stub, conditioned on
// the etag seen at copy time. Success means the record did not change since the copy; 412 means it
// did, and the read that follows decides: already this stub (finish) or newer (drop the stale copy).
// A purged entry is not deleted: it stays as the record's migration history (see purge-position.ts).
import { ARCHIVE_METADATA } from '../domain/archive-artifact.ts';
import { historyExpiresAt } from '../domain/archival-policy.ts';
import type { StubDocument } from '../domain/record-document.ts';
import { addTierTotals, documentTotals } from '../domain/tier-totals.ts';
import type { LedgerEntry, StoredLedgerEntry } from '../ports/archive-ledger.ts';
import type { BlobProperties } from '../ports/archive-store.ts';
import { copyRecord } from './copy-step.ts';
import {
  describeError,
  isCode,
  recordFailure,
  type StepContext,
  type StepOutcome,
} from './archival-context.ts';

/**
 * `historyDue`: where a finished entry due after now (copied by a run as of a later instant) is moved,
 * so the purge's position can pass it (settledHistoryDue in purge-position.ts).
 */
export async function purgeEntry(
  context: StepContext,
  stored: StoredLedgerEntry,
  historyDue: string,
): Promise<StepOutcome> {
  const { entry } = stored;
  const key = { customerId: entry.customerId, id: entry.id };
  try {
    // Invariant 2: never drop a body unless its verified blob is there now, not only at copy time. This
    // HEAD is the protocol's one read-back of the blob (the copy verifies the upload's own answer).
    const blob = await context.archive.getProperties(entry.blobPath, context.callOptions);
    if (!isVerifiedCopy(blob, entry)) {
      // The copy was lost or changed (deleted or rewritten by hand, bit rot): copy again now, which
      // restarts the grace period, or fails verification and keeps the body.
      const again = await copyRecord(context, key, stored);
      return again.kind === 'copied'
        ? { kind: 'skipped', reason: `copy-missing: ${entry.blobPath} was copied again` }
        : again;
    }
    const stub: StubDocument = {
      id: entry.id,
      customerId: entry.customerId,
      tier: 'archived',
      summary: entry.summary,
      sys: entry.sys,
      archive: {
        blobPath: entry.blobPath,
        sha256: entry.sha256,
        size: entry.size,
        encoding: 'gzip',
        archivedAt: context.clock.now().toISOString(),
      },
    };
    try {
      await context.store.replace(stub, { ifMatch: entry.sourceEtag }, context.callOptions);
      context.tierCounters?.add(
        addTierTotals(documentTotals(stub), { hotRecords: -1, hotBytes: -(entry.sourceBytes ?? entry.size) }),
      );
    } catch (error) {
      if (!isCode(error, 'PRECONDITION_FAILED', 'NOT_FOUND')) throw error;
      const current = await context.store.get(key, context.callOptions);
      const alreadyStub =
        current?.document.tier === 'archived' && current.document.archive.blobPath === entry.blobPath;
      // Either way the entry's work is over: finished by an earlier attempt (history), or superseded by a
      // write (the stale blob is left to the collector, and a later run archives the new version).
      if (alreadyStub) return purged(await keepAsHistory(context, stored, historyDue));
      await deleteEntry(context, stored);
      return { kind: 'skipped', reason: current === undefined ? 'deleted' : 'changed-since-copy' };
    }
    return purged(await keepAsHistory(context, stored, historyDue));
  } catch (error) {
    if (isCode(error, 'PRECONDITION_FAILED')) return { kind: 'skipped', reason: 'ledger-entry-changed' };
    const { attempts: _a, lastError: _l, nextAttemptAt: _n, parked: _p, ...base } = entry;
    const outcome = await recordFailure(context, key, stored, base, error);
    return outcome.kind === 'failed'
      ? { ...outcome, reason: `purge ${outcome.reason}` }
      : { kind: 'failed', reason: describeError(error), parked: false };
  }
}

/**
 * The blob is still the one the copy verified: its metadata alone survives a rewrite, so the stored
 * bytes must match too (size, and the MD5 the service keeps; entries from before it was recorded have none).
 */
function isVerifiedCopy(blob: BlobProperties | undefined, entry: LedgerEntry): boolean {
  return (
    blob !== undefined &&
    blob.metadata[ARCHIVE_METADATA.sha256] === entry.sha256 &&
    blob.size === entry.storedBytes &&
    (entry.contentMd5 === undefined || blob.contentMd5 === entry.contentMd5)
  );
}

function purged(movedTo: string | undefined): StepOutcome {
  return movedTo === undefined ? { kind: 'purged' } : { kind: 'purged', movedTo };
}

/**
 * The purged entry stays as it is, history once the purge's position passes it, expiring on the ttl the
 * copy gave it: no write, which is the point (a delete cost ~5 RU). Rewritten, clean and expiring, only
 * an entry without one (written before history was kept, or by a failed attempt, which never expires),
 * and one still due after now (a run as of a later instant copied it): that one is moved back to
 * `historyDue`, or it would stop the position and read as a copy until then, and expires a history ttl
 * after its purge rather than after that later instant. Answers where it moved the entry, if it did.
 * A crash before this write leaves the entry where it was: a copy to the status until it is due, when
 * the purge finds the stub, and history once the position passes it.
 */
async function keepAsHistory(
  context: StepContext,
  stored: StoredLedgerEntry,
  historyDue: string,
): Promise<string | undefined> {
  const { entry } = stored;
  const now = context.clock.now();
  const movedTo =
    entry.purgeAfter > now.toISOString() && historyDue < entry.purgeAfter ? historyDue : undefined;
  const clean = entry.expiresAt !== undefined && entry.attempts === 0;
  if (clean && movedTo === undefined) return undefined;
  const { lastError: _l, nextAttemptAt: _n, parked: _p, ...rest } = entry;
  const history: LedgerEntry = {
    ...rest,
    ...(movedTo !== undefined ? { purgeAfter: movedTo } : {}),
    attempts: 0,
    expiresAt: historyExpiresAt(context.policy, now).toISOString(),
  };
  try {
    await context.ledger.put(history, { ifMatch: stored.etag }, context.callOptions);
    return movedTo;
  } catch (error) {
    // Another worker changed the entry first: its outcome stands, wherever it put the entry. A clean
    // entry that only failed to move is purged all the same: it stays where it was, as after a crash.
    if (!clean && !isCode(error, 'PRECONDITION_FAILED')) throw error;
    return undefined;
  }
}

/** Removes the entry unless another worker changed it meanwhile (its own outcome then stands). */
async function deleteEntry(context: StepContext, stored: StoredLedgerEntry): Promise<void> {
  try {
    await context.ledger.delete(stored.entry, { ifMatch: stored.etag }, context.callOptions);
  } catch (error) {
    if (!isCode(error, 'PRECONDITION_FAILED')) throw error;
  }
}
