// A worker thread that generates hot-store documents for bench/sqlite-scale.ts: records issued before
// the cutoff become stubs exactly as the purge writes them (summary, pointer, sha256 of the canonical
// JSON), the rest stay full. Posts batches; the main thread inserts them through the store.
import { parentPort, workerData } from 'node:worker_threads';
import { archivePath, sha256Hex } from '../../src/domain/archive-artifact.ts';
import { serializeRecord } from '../../src/domain/billing-record.ts';
import { fullDocument, type RecordDocument, summaryOf } from '../../src/domain/record-document.ts';
import { benchRecords } from './bench-world.ts';

export interface DocumentWorkerData {
  readonly offset: number;
  readonly count: number;
  readonly total: number;
  readonly cutoff: string;
  readonly archivedAt: string;
}

const BATCH = 500;
const { offset, count, total, cutoff, archivedAt } = workerData as DocumentWorkerData;
let batch: RecordDocument[] = [];
for (const record of benchRecords(count, offset, total)) {
  const full = fullDocument(record);
  if (record.issuedAt >= cutoff) batch.push(full);
  else {
    const json = serializeRecord(record);
    batch.push({
      id: record.id,
      customerId: record.customerId,
      tier: 'archived',
      summary: summaryOf(full),
      sys: {},
      archive: {
        blobPath: archivePath(record, record.issuedAt, record.version),
        sha256: sha256Hex(json),
        size: Buffer.byteLength(json),
        encoding: 'gzip',
        archivedAt,
      },
    });
  }
  if (batch.length === BATCH) {
    parentPort!.postMessage(batch);
    batch = [];
  }
}
parentPort!.postMessage(batch);
parentPort!.postMessage('done');
