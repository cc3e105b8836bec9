// The raw I/O of an archival run with no protocol around it: the same gzip uploads (create-only, as
// the engine sends them), the same ledger entry and the same stub, written unconditionally, with no
// reads, no verification, no scans and no ledger clean-up, at the engine's concurrency. The bodies,
// entries and stubs are built before the clock starts: what is timed is I/O only.
import pLimit from 'p-limit';
import { buildArchiveArtifact } from '../src/domain/archive-artifact.ts';
import { archiveUploadRequest } from '../src/archival/copy-step.ts';
import type { BillingRecord } from '../src/domain/billing-record.ts';
import { fullDocument, type StubDocument, summaryOf } from '../src/domain/record-document.ts';
import type { ArchiveLedger, LedgerEntry } from '../src/ports/archive-ledger.ts';
import type { ArchiveStore, PutBlobRequest } from '../src/ports/archive-store.ts';
import type { OperationOptions } from '../src/ports/operation-options.ts';
import type { RecordStore } from '../src/ports/record-store.ts';

export interface RawIoWork {
  readonly upload: PutBlobRequest;
  readonly entry: LedgerEntry;
  readonly stub: StubDocument;
}

export interface RawIoReport {
  readonly records: number;
  readonly durationMs: number;
  readonly requestUnits: number;
}

/** What the engine would upload and write for each record, computed ahead of the timed part. */
export function prepareRawIo(records: Iterable<BillingRecord>, asOf: string): RawIoWork[] {
  const work: RawIoWork[] = [];
  for (const record of records) {
    const artifact = buildArchiveArtifact(record);
    const document = fullDocument(record);
    const summary = summaryOf(document);
    const entry: LedgerEntry = {
      customerId: record.customerId,
      id: record.id,
      state: 'copied',
      version: record.version,
      blobPath: artifact.path,
      sha256: artifact.sha256,
      size: artifact.size,
      storedBytes: artifact.body.byteLength,
      contentMd5: artifact.contentMd5,
      sourceEtag: '"raw-io"',
      summary,
      sys: {},
      copiedAt: asOf,
      purgeAfter: asOf,
      attempts: 0,
    };
    work.push({
      upload: archiveUploadRequest(artifact),
      entry,
      stub: {
        id: record.id,
        customerId: record.customerId,
        tier: 'archived',
        summary,
        sys: {},
        archive: {
          blobPath: artifact.path,
          sha256: artifact.sha256,
          size: artifact.size,
          encoding: 'gzip',
          archivedAt: asOf,
        },
      },
    });
  }
  return work;
}

export async function runRawIo(
  stores: { readonly store: RecordStore; readonly ledger: ArchiveLedger; readonly archive: ArchiveStore },
  work: readonly RawIoWork[],
  concurrency: number,
): Promise<RawIoReport> {
  let requestUnits = 0;
  const options: OperationOptions = { onRequestCharge: (units) => (requestUnits += units) };
  const limit = pLimit(concurrency);
  const started = performance.now();
  await Promise.all(
    work.map((item) =>
      limit(async () => {
        await stores.archive.putIfAbsent(item.upload, options);
        await stores.ledger.put(item.entry, {}, options);
        await stores.store.replace(item.stub, {}, options);
      }),
    ),
  );
  return { records: work.length, durationMs: performance.now() - started, requestUnits };
}
