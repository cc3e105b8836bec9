// The cost report: live measurements of the stores (counts and bytes per tier, compression, stub size,
// request charges of the last runs), priced before and after tiering and at the floor, with a what-if
// over the archive age. Each figure says how it was obtained.
import { listRunReports } from '../archival/run-reports.ts';
import {
  type CostBreakdown,
  type CostInput,
  type Figure,
  monthlyCost,
  type PriceTable,
} from '../domain/cost-model.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore, ScanPosition } from '../ports/record-store.ts';

export interface CostSettings {
  readonly prices: PriceTable;
  readonly throughput: CostInput['throughput'];
  readonly cacheTier: string;
  /** Archive age the service runs with, in months (ARCHIVE_AFTER). */
  readonly archiveAfterMonths: number;
}

export interface CostReport {
  readonly generatedAt: string;
  readonly prices: { readonly asOf: string; readonly region: string; readonly currency: string };
  readonly throughput: CostInput['throughput'];
  readonly measurements: Readonly<Record<string, Figure>>;
  readonly before: CostBreakdown;
  readonly after: CostBreakdown;
  readonly floor: CostBreakdown;
  readonly savings: { readonly monthly: number; readonly afterToBefore: number };
  readonly whatIf: ReadonlyArray<{
    readonly archiveAfterMonths: number;
    readonly afterMonthly: number;
    readonly afterToBefore: number;
    readonly how: string;
  }>;
}

const WHAT_IF_MONTHS = [1, 3, 6, 12] as const;

export async function buildCostReport(
  stores: {
    readonly store: RecordStore;
    readonly archive: ArchiveStore;
    readonly control: ArchivalControlStore;
  },
  settings: CostSettings,
  now: Date,
  options: OperationOptions = {},
): Promise<CostReport> {
  const call: OperationOptions = { priority: 'low', ...options };
  const tiers = await stores.store.countByTier(call);

  // Stubs: how many, their own size, and the canonical size of what they point at.
  let stubs = 0;
  let stubBytes = 0;
  let archivedJsonBytes = 0;
  let oldestIssuedAt: string | undefined;
  let after: ScanPosition | undefined;
  do {
    const page = await stores.store.scan({ tier: 'archived', limit: 500, ...(after ? { after } : {}) }, call);
    for (const item of page.items) {
      stubs += 1;
      oldestIssuedAt ??= item.issuedAt;
      archivedJsonBytes += item.sys.archive?.size ?? 0;
      stubBytes += Buffer.byteLength(JSON.stringify(item)) + 400; // the projection lacks the summary fields (~400 B)
    }
    after = page.next;
  } while (after !== undefined);
  const oldestHot = (await stores.store.scan({ tier: 'hot', limit: 1 }, call)).items[0]?.issuedAt;
  if (oldestHot !== undefined && (oldestIssuedAt === undefined || oldestHot < oldestIssuedAt))
    oldestIssuedAt = oldestHot;

  // What the archive really stores (superseded blobs awaiting collection included: they are billed too).
  let storedBytes = 0;
  let blobs = 0;
  let continuation: string | undefined;
  do {
    const page = await stores.archive.list(
      '',
      { pageSize: 5000, ...(continuation ? { continuation } : {}) },
      call,
    );
    for (const blob of page.items) {
      blobs += 1;
      storedBytes += blob.size;
    }
    continuation = page.continuation;
  } while (continuation !== undefined);

  const runs = await listRunReports(stores.control, now, 20);
  const archivedByRuns = runs.reduce((sum, run) => sum + run.counts.copied, 0);
  const runUnits = runs.reduce((sum, run) => sum + run.requestCharge.requestUnits, 0);
  const runsEstimated = runs.some((run) => run.requestCharge.estimated);

  const avgJson =
    stubs > 0
      ? archivedJsonBytes / stubs
      : tiers.hot > 0 && tiers.hotBytes !== undefined
        ? tiers.hotBytes / tiers.hot
        : 0;
  const hotBytes: Figure =
    tiers.hotBytes !== undefined
      ? { value: tiers.hotBytes, source: 'measured', how: 'sum of the hot documents as stored' }
      : {
          value: tiers.hot * avgJson,
          source: 'estimated',
          how: 'hot count × the mean canonical size of archived records',
        };
  const measuredStubBytes: Figure =
    tiers.archivedBytes !== undefined
      ? { value: tiers.archivedBytes, source: 'measured', how: 'sum of the stub documents as stored' }
      : {
          value: stubBytes,
          source: 'estimated',
          how: 'scanned stub projections plus ~400 B of summary fields each',
        };
  const compression = storedBytes > 0 ? archivedJsonBytes / storedBytes : 0;
  const measurements: Record<string, Figure> = {
    hotRecords: { value: tiers.hot, source: 'measured', how: 'hot-store count by tier' },
    archivedRecords: { value: tiers.archived, source: 'measured', how: 'hot-store count by tier (stubs)' },
    hotBytes,
    stubBytes: measuredStubBytes,
    meanStubBytes: {
      ...measuredStubBytes,
      value: tiers.archived > 0 ? measuredStubBytes.value / tiers.archived : 0,
    },
    archivedJsonBytes: {
      value: archivedJsonBytes,
      source: 'measured',
      how: 'sum of the stubs’ canonical sizes',
    },
    archivedStoredBytes: {
      value: storedBytes,
      source: 'measured',
      how: `sum of ${blobs} blob sizes in the archive`,
    },
    compressionRatio: {
      value: compression,
      source: 'measured',
      how: 'canonical JSON bytes / stored gzip bytes',
    },
    archivalRuPerRecord: {
      value: archivedByRuns > 0 ? runUnits / archivedByRuns : 0,
      source: runsEstimated || archivedByRuns === 0 ? 'estimated' : 'measured',
      how:
        archivedByRuns === 0
          ? 'no archival run yet'
          : `request charge of the last ${runs.length} runs / records they copied${runsEstimated ? ' (the store reports no real charges: documented RU model)' : ''}`,
    },
  };
  const input: CostInput = {
    totalRecords: { value: tiers.hot + tiers.archived, source: 'measured', how: 'hot + archived' },
    hotRecords: measurements.hotRecords!,
    hotBytes,
    archivedRecords: measurements.archivedRecords!,
    stubBytes: measuredStubBytes,
    archivedJsonBytes: measurements.archivedJsonBytes!,
    archivedStoredBytes: measurements.archivedStoredBytes!,
    throughput: settings.throughput,
    monthly: {
      archivedBlobReads: 0,
      recordsArchived: 0,
      archivalRuPerRecord: measurements.archivalRuPerRecord!.value,
    },
    cacheTier: settings.cacheTier,
  };
  const priced = monthlyCost(input, settings.prices);

  // What-if: records spread evenly over the measured history (estimated), moved across the age line.
  const spanMonths =
    oldestIssuedAt === undefined
      ? 0
      : Math.max(1, (now.getTime() - Date.parse(oldestIssuedAt)) / (30.44 * 86_400_000));
  const total = tiers.hot + tiers.archived;
  const meanStub = tiers.archived > 0 ? measuredStubBytes.value / tiers.archived : 500;
  const whatIf = WHAT_IF_MONTHS.map((months) => {
    const hotShare = spanMonths === 0 ? 1 : Math.min(1, months / spanMonths);
    const archived = total * (1 - hotShare);
    const scenario = monthlyCost(
      {
        ...input,
        hotRecords: { ...input.hotRecords, value: total * hotShare },
        hotBytes: { ...hotBytes, value: total * hotShare * avgJson },
        archivedRecords: { ...input.archivedRecords, value: archived },
        stubBytes: { ...measuredStubBytes, value: archived * meanStub },
        archivedJsonBytes: { ...input.archivedJsonBytes, value: archived * avgJson },
        archivedStoredBytes: {
          ...input.archivedStoredBytes,
          value: compression > 0 ? (archived * avgJson) / compression : archived * avgJson,
        },
      },
      settings.prices,
    );
    return {
      archiveAfterMonths: months,
      afterMonthly: round(scenario.after.total),
      afterToBefore: round(scenario.ratio, 4),
      how: `estimated: ${total} records spread evenly over ${spanMonths.toFixed(1)} months, measured mean sizes and compression`,
    };
  });

  return {
    generatedAt: now.toISOString(),
    prices: priced.prices,
    throughput: settings.throughput,
    measurements,
    before: roundBreakdown(priced.before),
    after: roundBreakdown(priced.after),
    floor: roundBreakdown(priced.floor),
    savings: {
      monthly: round(priced.before.total - priced.after.total),
      afterToBefore: round(priced.ratio, 4),
    },
    whatIf,
  };
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function roundBreakdown(breakdown: CostBreakdown): CostBreakdown {
  return {
    cosmosStorage: round(breakdown.cosmosStorage, 4),
    cosmosThroughput: round(breakdown.cosmosThroughput, 4),
    blobStorage: round(breakdown.blobStorage, 4),
    blobOperations: round(breakdown.blobOperations, 4),
    cache: round(breakdown.cache, 4),
    total: round(breakdown.total, 4),
    billedRuPerSecond: breakdown.billedRuPerSecond,
    cosmosGb: round(breakdown.cosmosGb, 6),
  };
}
