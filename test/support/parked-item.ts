// A ledger item parked after repeated copy failures, written as the copy step writes one, so that the
// status, the unpark route and the console see a real parked item without failing a blob store.
import { buildArchiveArtifact } from '../../src/domain/archive-artifact.ts';
import { summaryOf } from '../../src/domain/record-document.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import type { ArchiveLedger } from '../../src/ports/archive-ledger.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';

export const PARKED_ERROR = 'UNAVAILABLE: the archive did not answer (seeded)';

export async function parkCopyOf(
  stores: { readonly store: RecordStore; readonly ledger: ArchiveLedger },
  key: RecordKey,
  now: Date,
): Promise<void> {
  const stored = await stores.store.get(key);
  if (stored === undefined || stored.document.tier !== 'hot')
    throw new Error(`${key.id} is not a hot record`);
  const { document } = stored;
  await stores.ledger.put(
    {
      customerId: key.customerId,
      id: key.id,
      state: 'failed',
      version: document.record.version,
      blobPath: buildArchiveArtifact(document.record).path,
      sha256: '',
      size: 0,
      storedBytes: 0,
      sourceEtag: stored.etag,
      summary: summaryOf(document),
      sys: document.sys,
      copiedAt: now.toISOString(),
      purgeAfter: now.toISOString(),
      attempts: 5,
      lastError: PARKED_ERROR,
      nextAttemptAt: now.toISOString(),
      parked: true,
    },
    { ifNoneMatch: '*' },
  );
}
