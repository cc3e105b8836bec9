// Measures the stores for the cost report: counts and bytes per tier, stub sizes, what the archive
// stores, the request charges of the last runs. Each figure says whether it was measured or estimated
// (where a store cannot tell); pricing them is src/domain/cost-report-pricing.ts.
// Cheap at any size: the totals come from the tier counters (a few small control documents), the
// oldest record from two one-item index reads; nothing scans the hot store or lists the archive, but
// the one recount a report makes when no recount ever set the counters' baseline.
import { listRunReports } from '../archival/run-reports.ts';
import type { Figure } from '../domain/cost-model.ts';
import type { CostMeasurements } from '../domain/cost-report-pricing.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { TierCounterReading, TierCounterStore } from '../ports/tier-counter-store.ts';
import { tierCountersOf } from './tier-counters.ts';
import { recountTiers } from './tier-recount.ts';

export interface MeasuredStores {
  readonly store: RecordStore;
  readonly archive: ArchiveStore;
  readonly control: ArchivalControlStore;
  /** The tier counters; the process's counters of `control` when absent. */
  readonly counters?: TierCounterStore;
}

const RUNS_MEASURED = 20;

export async function measureStores(
  stores: MeasuredStores,
  now: Date,
  options: OperationOptions = {},
): Promise<CostMeasurements> {
  const call: OperationOptions = { priority: 'low', ...options };
  const counters = stores.counters ?? tierCountersOf(stores.control);
  const reading = await readOrRecount(stores, counters, now, call);
  const { totals, baseline } = reading;
  const [oldestHot, oldestStub] = await Promise.all(
    (['hot', 'archived'] as const).map(
      async (tier) => (await stores.store.scan({ tier, limit: 1 }, call)).items[0]?.issuedAt,
    ),
  );
  const runs = await runCharges(stores.control, now);
  const since = `kept as work happens since the recount of ${baseline.recountedAt}`;

  const meanRecordBytes: Figure =
    totals.archivedRecords > 0
      ? {
          value: totals.archivedJsonBytes / totals.archivedRecords,
          source: 'measured',
          how: 'the archived records’ mean canonical size',
        }
      : totals.hotRecords > 0 && !baseline.estimated.includes('hotBytes')
        ? {
            value: totals.hotBytes / totals.hotRecords,
            source: 'measured',
            how: 'the hot records’ mean size',
          }
        : { value: 0, source: 'estimated', how: 'no archived record, and no hot size the store can tell' };
  return {
    hotRecords: { value: totals.hotRecords, source: 'measured', how: `hot records, ${since}` },
    archivedRecords: {
      value: totals.archivedRecords,
      source: 'measured',
      how: `archived records (stubs), ${since}`,
    },
    hotBytes: baseline.estimated.includes('hotBytes')
      ? {
          value: totals.hotRecords * meanRecordBytes.value,
          source: 'estimated',
          how: 'hot count × the mean canonical size of archived records',
        }
      : { value: totals.hotBytes, source: 'measured', how: `bytes of the hot records, ${since}` },
    stubBytes: {
      value: totals.stubBytes,
      source: baseline.estimated.includes('stubBytes') ? 'estimated' : 'measured',
      how: baseline.estimated.includes('stubBytes')
        ? `stub documents, ${since} (the recount estimated them from projections plus ~400 B each)`
        : `bytes of the stub documents, ${since}`,
    },
    archivedJsonBytes: {
      value: totals.archivedJsonBytes,
      source: 'measured',
      how: `sum of the stubs’ canonical sizes, ${since}`,
    },
    archivedStoredBytes: {
      value: totals.blobBytes,
      source: 'measured',
      how: `${totals.blobs} blobs in the archive, ${since}`,
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
      oldestHot !== undefined && (oldestStub === undefined || oldestHot < oldestStub)
        ? oldestHot
        : oldestStub,
  };
}

/** The counters; the first report of a store whose counters were never set recounts once. */
async function readOrRecount(
  stores: MeasuredStores,
  counters: TierCounterStore,
  now: Date,
  call: OperationOptions,
): Promise<TierCounterReading> {
  const reading = await counters.read(call);
  if (reading !== undefined) return reading;
  const { totals, estimated } = await recountTiers({ ...stores, counters, clock: { now: () => now } }, call);
  return { totals, baseline: { totals, recountedAt: now.toISOString(), estimated } };
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
