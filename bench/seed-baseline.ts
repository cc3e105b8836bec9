// The seed's archival, written as its pseudocode says, on the same ports and the same RU model as the
// engine, so the engine is measured against it in the same run (bench/archival-throughput.ts):
//   for each old record, one at a time: read the full document, upload it (overwrite allowed),
//   download it back to verify, rewrite the full document with `archived: true`;
//   later, for each flagged document: delete it.
// The seed compresses nothing and keeps no ledger; it finds its work with the same projection scan
// the engine uses (no cheaper way exists), so the comparison is about the protocol alone.
import { buffer } from 'node:stream/consumers';
import { setTimeout as delay } from 'node:timers/promises';
import type { ContainerClient } from '@azure/storage-blob';
import { archivePath } from '../src/domain/archive-artifact.ts';
import { serializeRecord } from '../src/domain/billing-record.ts';
import { fullDocument, type SystemFields } from '../src/domain/record-document.ts';
import type { OperationOptions } from '../src/ports/operation-options.ts';
import type { RecordStore, ScanItem, ScanPosition } from '../src/ports/record-store.ts';

export interface SeedRunReport {
  readonly archived: number;
  readonly durationMs: number;
  readonly requestUnits: number;
  readonly blobCalls: { readonly upload: number; readonly download: number };
  readonly uploadedBytes: number;
}

const PAGE = 100;

/**
 * Archives every hot record issued before `cutoff` the seed's way; returns what it spent.
 * `blobLatencyMs` delays each Blob call (the modelled round trip of a remote service).
 */
export async function runSeedArchival(
  store: RecordStore,
  container: ContainerClient,
  cutoff: string,
  blobLatencyMs = 0,
): Promise<SeedRunReport> {
  const roundTrip = () => (blobLatencyMs > 0 ? delay(blobLatencyMs) : Promise.resolve());
  let requestUnits = 0;
  const options: OperationOptions = { onRequestCharge: (units) => (requestUnits += units) };
  const blobCalls = { upload: 0, download: 0 };
  let uploadedBytes = 0;
  let archived = 0;
  const started = performance.now();

  // Phase 1, sequential: save, verify, flag the full document.
  await forEachCandidate(store, cutoff, options, async (item) => {
    if (isFlagged(item)) return;
    const stored = await store.get(item, options);
    if (stored === undefined || stored.document.tier !== 'hot') return;
    const { record, sys } = stored.document;
    const json = serializeRecord(record);
    const blob = container.getBlockBlobClient(
      archivePath(record, record.issuedAt, record.version).replace(/\.gz$/, ''),
    );
    await roundTrip();
    await blob.upload(json, Buffer.byteLength(json), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      tier: 'Cold',
    });
    blobCalls.upload += 1;
    uploadedBytes += Buffer.byteLength(json);
    await roundTrip();
    const back = await blob.download();
    blobCalls.download += 1;
    if ((await buffer(back.readableStreamBody!)).toString('utf8') !== json)
      throw new Error(`seed: ${blob.name} did not verify`);
    // The flag lives in the document, so setting it rewrites all of it.
    const flagged = { ...sys, archived: true } as SystemFields;
    await store.replace(fullDocument(record, flagged), {}, options);
  });

  // Phase 2, later: delete what was flagged.
  await forEachCandidate(store, cutoff, options, async (item) => {
    if (!isFlagged(item)) return;
    await store.delete(item, {}, options);
    archived += 1;
  });
  return {
    archived,
    durationMs: performance.now() - started,
    requestUnits,
    blobCalls,
    uploadedBytes,
  };
}

function isFlagged(item: ScanItem): boolean {
  return (item.sys as { archived?: boolean }).archived === true;
}

async function forEachCandidate(
  store: RecordStore,
  cutoff: string,
  options: OperationOptions,
  work: (item: ScanItem) => Promise<void>,
): Promise<void> {
  let after: ScanPosition | undefined;
  do {
    const page = await store.scan(
      { tier: 'hot', issuedBefore: cutoff, limit: PAGE, ...(after ? { after } : {}) },
      options,
    );
    for (const item of page.items) await work(item);
    after = page.next;
  } while (after !== undefined);
}
