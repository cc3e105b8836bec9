// Measures the stores for the cost report: counts and bytes per tier, stub sizes, what the archive
// stores, the request charges of the last runs. Each figure says whether it was measured or estimated
// (where a store cannot tell); pricing them is src/domain/cost-report-pricing.ts.
import { listRunReports } from '../archival/run-reports.ts';
import type { Figure } from '../domain/cost-model.ts';
import type { CostMeasurements } from '../domain/cost-report-pricing.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore, ScanPosition } from '../ports/record-store.ts';

export interface MeasuredStores {
  readonly store: RecordStore;
  readonly archive: ArchiveStore;
  readonly control: ArchivalControlStore;
}

/** The projection a scan returns lacks the stub's summary fields, about this many bytes. */
const STUB_SUMMARY_BYTES = 400;
const RUNS_MEASURED = 20;

export async function measureStores(
  stores: MeasuredStores,
  now: Date,
  options: OperationOptions = {},
): Promise<CostMeasurements> {
  const call: OperationOptions = { priority: 'low', ...options };
  const tiers = await stores.store.countByTier(call);
  const stubs = await scanStubs(stores.store, call);
  const oldestHot = (await stores.store.scan({ tier: 'hot', limit: 1 }, call)).items[0]?.issuedAt;
  const blobs = await sumArchive(stores.archive, call);
  const runs = await runCharges(stores.control, now);

  const meanRecordBytes: Figure =
    stubs.count > 0
      ? {
          value: stubs.canonicalBytes / stubs.count,
          source: 'measured',
          how: 'the scanned stubs’ mean canonical size',
        }
      : tiers.hot > 0 && tiers.hotBytes !== undefined
        ? {
            value: tiers.hotBytes / tiers.hot,
            source: 'measured',
            how: 'the hot documents’ mean size as stored',
          }
        : { value: 0, source: 'estimated', how: 'no stub, and no hot size the store can tell' };
  return {
    hotRecords: { value: tiers.hot, source: 'measured', how: 'hot-store count by tier' },
    archivedRecords: { value: tiers.archived, source: 'measured', how: 'hot-store count by tier (stubs)' },
    hotBytes:
      tiers.hotBytes !== undefined
        ? { value: tiers.hotBytes, source: 'measured', how: 'sum of the hot documents as stored' }
        : {
            value: tiers.hot * meanRecordBytes.value,
            source: 'estimated',
            how: 'hot count × the mean canonical size of archived records',
          },
    stubBytes:
      tiers.archivedBytes !== undefined
        ? { value: tiers.archivedBytes, source: 'measured', how: 'sum of the stub documents as stored' }
        : {
            value: stubs.estimatedBytes,
            source: 'estimated',
            how: 'scanned stub projections plus ~400 B of summary fields each',
          },
    archivedJsonBytes: {
      value: stubs.canonicalBytes,
      source: 'measured',
      how: 'sum of the stubs’ canonical sizes',
    },
    archivedStoredBytes: {
      value: blobs.bytes,
      source: 'measured',
      how: `sum of ${blobs.count} blob sizes in the archive`,
    },
    archivalRuPerRecord: {
      value: runs.copied > 0 ? runs.requestUnits / runs.copied : 0,
      source: runs.estimated || runs.copied === 0 ? 'estimated' : 'measured',
      how:
        runs.copied === 0
          ? 'no archival run yet'
          : `request charge of the last ${runs.count} runs / records they copied${runs.estimated ? ' (model figure: the store reports no real charges, so the published RU table estimates them)' : ''}`,
    },
    meanRecordBytes,
    oldestIssuedAt:
      oldestHot !== undefined && (stubs.oldestIssuedAt === undefined || oldestHot < stubs.oldestIssuedAt)
        ? oldestHot
        : stubs.oldestIssuedAt,
  };
}

/** Stubs: how many, their own size, and the canonical size of what they point at. */
async function scanStubs(
  store: RecordStore,
  call: OperationOptions,
): Promise<{ count: number; estimatedBytes: number; canonicalBytes: number; oldestIssuedAt?: string }> {
  let count = 0;
  let estimatedBytes = 0;
  let canonicalBytes = 0;
  let oldestIssuedAt: string | undefined;
  let after: ScanPosition | undefined;
  do {
    const page = await store.scan({ tier: 'archived', limit: 500, ...(after ? { after } : {}) }, call);
    for (const item of page.items) {
      count += 1;
      oldestIssuedAt ??= item.issuedAt; // the scan runs in issuedAt order
      canonicalBytes += item.sys.archive?.size ?? 0;
      estimatedBytes += Buffer.byteLength(JSON.stringify(item)) + STUB_SUMMARY_BYTES;
    }
    after = page.next;
  } while (after !== undefined);
  return {
    count,
    estimatedBytes,
    canonicalBytes,
    ...(oldestIssuedAt === undefined ? {} : { oldestIssuedAt }),
  };
}

/** What the archive really stores: superseded blobs awaiting collection included, since they are billed. */
async function sumArchive(
  archive: ArchiveStore,
  call: OperationOptions,
): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  let continuation: string | undefined;
  do {
    const page = await archive.list('', { pageSize: 5000, ...(continuation ? { continuation } : {}) }, call);
    for (const blob of page.items) {
      count += 1;
      bytes += blob.size;
    }
    continuation = page.continuation;
  } while (continuation !== undefined);
  return { count, bytes };
}

/** The request charge of the last runs and the records they copied. */
async function runCharges(
  control: ArchivalControlStore,
  now: Date,
): Promise<{ count: number; copied: number; requestUnits: number; estimated: boolean }> {
  const runs = await listRunReports(control, now, RUNS_MEASURED);
  return {
    count: runs.length,
    copied: runs.reduce((sum, run) => sum + run.counts.copied, 0),
    requestUnits: runs.reduce((sum, run) => sum + run.requestCharge.requestUnits, 0),
    estimated: runs.some((run) => run.requestCharge.estimated),
  };
}
