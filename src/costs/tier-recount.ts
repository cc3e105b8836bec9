// The explicit, budgeted recount of the tier totals: counts by tier, a scan of every stub (light
// projections, in pages) and a listing of the whole archive. It costs what the counters save every
// status and cost report (about 1M RU at 2,000,000 records on Cosmos DB), so it runs only when asked
// (`npm run archive -- recount`), or once when a cost report finds no baseline. A job: progress, a
// report, cancellation between pages.
import { parseArchivePath } from '../domain/archive-artifact.ts';
import type { TierTotals } from '../domain/tier-totals.ts';
import type { JobContext, JobDefinition } from '../jobs/job-service.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore, ScanPosition } from '../ports/record-store.ts';
import type { TierCounterStore } from '../ports/tier-counter-store.ts';

export interface RecountDependencies {
  readonly store: RecordStore;
  readonly archive: ArchiveStore;
  readonly counters: TierCounterStore;
  readonly clock: Pick<Clock, 'now'>;
}

/** The projection a scan returns lacks the stub's summary fields, about this many bytes. */
const STUB_SUMMARY_BYTES = 400;

export interface RecountProgress {
  count(name: 'stubs' | 'blobs', by: number): void;
  checkpoint?(): Promise<void>;
}

/** Measures every total, sets them as the counters' baseline, and answers them. */
export async function recountTiers(
  dependencies: RecountDependencies,
  options: OperationOptions = {},
  progress?: RecountProgress,
): Promise<{ totals: TierTotals; estimated: Array<keyof TierTotals> }> {
  const call: OperationOptions = { priority: 'low', ...options };
  const tiers = await dependencies.store.countByTier(call);
  const stubs = await scanStubs(dependencies.store, call, progress);
  const blobs = await sumArchive(dependencies.archive, call, progress);
  const estimated: Array<keyof TierTotals> = [];
  if (tiers.hotBytes === undefined) estimated.push('hotBytes');
  if (tiers.archivedBytes === undefined) estimated.push('stubBytes');
  const totals: TierTotals = {
    hotRecords: tiers.hot,
    hotBytes: tiers.hotBytes ?? 0,
    archivedRecords: tiers.archived,
    stubBytes: tiers.archivedBytes ?? stubs.estimatedBytes,
    archivedJsonBytes: stubs.canonicalBytes,
    blobs: blobs.count,
    blobBytes: blobs.bytes,
  };
  await dependencies.counters.setBaseline(totals, dependencies.clock.now(), estimated, call);
  return { totals, estimated };
}

export function tierRecountJob(dependencies: RecountDependencies): JobDefinition {
  return {
    kind: 'tier-recount',
    dryRun: false,
    request: {},
    counts: ['stubs', 'blobs'],
    work: async (context: JobContext) => {
      await recountTiers(dependencies, { abortSignal: context.signal }, context);
    },
  };
}

async function scanStubs(
  store: RecordStore,
  call: OperationOptions,
  progress: RecountProgress | undefined,
): Promise<{ estimatedBytes: number; canonicalBytes: number }> {
  let estimatedBytes = 0;
  let canonicalBytes = 0;
  let after: ScanPosition | undefined;
  do {
    const page = await store.scan({ tier: 'archived', limit: 500, ...(after ? { after } : {}) }, call);
    for (const item of page.items) {
      canonicalBytes += item.sys.archive?.size ?? 0;
      estimatedBytes += Buffer.byteLength(JSON.stringify(item)) + STUB_SUMMARY_BYTES;
    }
    progress?.count('stubs', page.items.length);
    await progress?.checkpoint?.();
    after = page.next;
  } while (after !== undefined && call.abortSignal?.aborted !== true);
  call.abortSignal?.throwIfAborted();
  return { estimatedBytes, canonicalBytes };
}

async function sumArchive(
  archive: ArchiveStore,
  call: OperationOptions,
  progress: RecountProgress | undefined,
): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  let continuation: string | undefined;
  do {
    const page = await archive.list('', { pageSize: 5000, ...(continuation ? { continuation } : {}) }, call);
    for (const blob of page.items) {
      // Records' blobs only: tombstones (a few hundred bytes each) are not in the totals the counters keep.
      if (parseArchivePath(blob.path) === undefined) continue;
      count += 1;
      bytes += blob.size;
    }
    progress?.count('blobs', page.items.length);
    await progress?.checkpoint?.();
    continuation = page.continuation;
  } while (continuation !== undefined && call.abortSignal?.aborted !== true);
  call.abortSignal?.throwIfAborted();
  return { count, bytes };
}
