// The explicit, budgeted recount of the tier totals: counts by tier, a scan of every stub (light
// projections, in pages) and a listing of the whole archive. It costs what the counters save every
// status and cost report (about 1M RU at 2,000,000 records on Cosmos DB), so it runs only when asked
// (`npm run archive -- recount`), or once when a cost report finds no baseline. A job: progress, a
// report, cancellation between pages.
import { parseArchivePath } from '../domain/archive-artifact.ts';
import { emptyTierTotals, type TierTotals } from '../domain/tier-totals.ts';
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

/**
 * Sets a zero baseline when there is none and nothing is stored (no record of either tier, no blob): the
 * totals of an empty store are known without a recount, and the counters keep them exact from the first
 * write on (a loader's, the demo's). Without it, status reads the store's own counts until someone
 * recounts: on SQLite that sums every document's bytes, a read of the whole file (43 GB at 2,000,000
 * records). Three reads of one item each; false when a baseline exists or anything is stored.
 */
export async function baselineIfEmpty(
  dependencies: RecountDependencies,
  options: OperationOptions = {},
): Promise<boolean> {
  if ((await dependencies.counters.read(options)) !== undefined) return false;
  for (const tier of ['hot', 'archived'] as const) {
    if ((await dependencies.store.scan({ tier, limit: 1 }, options)).items.length > 0) return false;
  }
  if ((await dependencies.archive.list('', { pageSize: 1 }, options)).items.length > 0) return false;
  await dependencies.counters.setBaseline(emptyTierTotals(), dependencies.clock.now(), [], options);
  return true;
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
