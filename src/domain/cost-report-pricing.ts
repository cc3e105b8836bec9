// The cost report priced from measurements of the stores: the bill before and after tiering and at the
// floor, and a what-if over the archive age. Pure; the measuring is src/costs/measure-stores.ts.
import {
  type CostBreakdown,
  type CostInput,
  costByThroughputMode,
  type Figure,
  monthlyCost,
  type PriceTable,
  type ThroughputMode,
  workloadRates,
} from './cost-model.ts';

export interface CostSettings {
  readonly prices: PriceTable;
  readonly throughput: CostInput['throughput'];
  /** The workload's peak RU/s over its mean (COST_WORKLOAD_PEAK_TO_MEAN). */
  readonly peakToMean: number;
  readonly cacheTier: string;
  /** Archive age the service runs with, in months (ARCHIVE_AFTER). */
  readonly archiveAfterMonths: number;
}

/** What the stores hold now, each figure saying how it was obtained. */
export interface CostMeasurements {
  readonly hotRecords: Figure;
  readonly archivedRecords: Figure;
  /** Bytes of the full documents in the hot store. */
  readonly hotBytes: Figure;
  /** Bytes of all stubs together. */
  readonly stubBytes: Figure;
  /** Bytes of the archived records as canonical JSON (what they would take hot). */
  readonly archivedJsonBytes: Figure;
  /** Bytes the archive stores, superseded blobs awaiting collection included (they are billed too). */
  readonly archivedStoredBytes: Figure;
  readonly archivalRuPerRecord: Figure;
  /** Bytes of one record, the unit the what-if moves across the age line (not itself reported). */
  readonly meanRecordBytes: Figure;
  /** Issue date of the oldest record, hot or archived; undefined when there is none. */
  readonly oldestIssuedAt: string | undefined;
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
  /** The cost advisor: the same store and workload in each throughput mode, cheapest first. */
  readonly throughputModes: {
    readonly workload: {
      readonly peakRuPerSecond: number;
      readonly ruPerMonth: number;
      readonly peakToMean: number;
      readonly how: string;
    };
    readonly cheapest: ThroughputMode;
    readonly modes: ReadonlyArray<{
      readonly mode: ThroughputMode;
      readonly afterMonthly: number;
      readonly floorMonthly: number;
      readonly afterToFloor: number;
      readonly beforeMonthly: number;
      /** RU/s billed after tiering (provisioned: the floor or the peak; autoscale: the hourly mean billed). */
      readonly billedRuPerSecond: number;
    }>;
  };
}

const WHAT_IF_MONTHS = [1, 3, 6, 12] as const;
const MEAN_MONTH_MS = 30.44 * 86_400_000;
/** Stub size the what-if assumes while nothing is archived yet. */
const DEFAULT_STUB_BYTES = 500;

/** Prices the measurements as the service is set up, with no traffic counted (the stores show none). */
export function priceCostReport(measured: CostMeasurements, settings: CostSettings, now: Date): CostReport {
  const stored = measured.archivedStoredBytes.value;
  const compression = stored > 0 ? measured.archivedJsonBytes.value / stored : 0;
  const archived = measured.archivedRecords.value;
  // The keys and their order are the report's public JSON.
  const measurements: Record<string, Figure> = {
    hotRecords: measured.hotRecords,
    archivedRecords: measured.archivedRecords,
    hotBytes: measured.hotBytes,
    stubBytes: measured.stubBytes,
    meanStubBytes: { ...measured.stubBytes, value: archived > 0 ? measured.stubBytes.value / archived : 0 },
    archivedJsonBytes: measured.archivedJsonBytes,
    archivedStoredBytes: measured.archivedStoredBytes,
    compressionRatio: {
      value: compression,
      source: derivedSource(measured.archivedJsonBytes, measured.archivedStoredBytes),
      how: 'canonical JSON bytes / stored gzip bytes',
    },
    archivalRuPerRecord: measured.archivalRuPerRecord,
  };
  const input = costInputOf(measured, settings);
  const priced = monthlyCost(input, settings.prices);
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
    whatIf: whatIfArchiveAge(input, measured, compression, settings.prices, now),
    throughputModes: adviseThroughputMode(input, settings),
  };
}

/** Prices the measured store and the configured workload in every throughput mode. */
function adviseThroughputMode(input: CostInput, settings: CostSettings): CostReport['throughputModes'] {
  const rates = workloadRates(settings.throughput, settings.peakToMean, settings.prices);
  const modes = costByThroughputMode(input, rates, settings.prices).map(({ mode, comparison }) => ({
    mode,
    afterMonthly: round(comparison.after.total),
    floorMonthly: round(comparison.floor.total),
    afterToFloor:
      comparison.floor.total === 0 ? 0 : round(comparison.after.total / comparison.floor.total, 4),
    beforeMonthly: round(comparison.before.total),
    billedRuPerSecond: round(comparison.after.billedRuPerSecond),
  }));
  return {
    workload: {
      peakRuPerSecond: round(rates.peakRuPerSecond),
      ruPerMonth: Math.round(rates.ruPerMonth),
      peakToMean: rates.peakToMean,
      how:
        settings.throughput.mode === 'serverless'
          ? 'COST_WORKLOAD_RU (RU a month); the peak is the mean times COST_WORKLOAD_PEAK_TO_MEAN'
          : 'COST_WORKLOAD_RU (peak RU/s); RU a month is the peak over COST_WORKLOAD_PEAK_TO_MEAN, all month',
    },
    cheapest: modes[0]!.mode,
    modes,
  };
}

function costInputOf(measured: CostMeasurements, settings: CostSettings): CostInput {
  return {
    totalRecords: {
      value: measured.hotRecords.value + measured.archivedRecords.value,
      source: derivedSource(measured.hotRecords, measured.archivedRecords),
      how: 'hot + archived',
    },
    hotRecords: measured.hotRecords,
    hotBytes: measured.hotBytes,
    archivedRecords: measured.archivedRecords,
    stubBytes: measured.stubBytes,
    archivedJsonBytes: measured.archivedJsonBytes,
    archivedStoredBytes: measured.archivedStoredBytes,
    throughput: settings.throughput,
    monthly: {
      archivedBlobReads: 0,
      recordsArchived: 0,
      archivalRuPerRecord: measured.archivalRuPerRecord.value,
    },
    cacheTier: settings.cacheTier,
  };
}

/** Records spread evenly over the measured history (an estimate), moved across each age line. */
function whatIfArchiveAge(
  input: CostInput,
  measured: CostMeasurements,
  compression: number,
  prices: PriceTable,
  now: Date,
): CostReport['whatIf'] {
  const spanMonths =
    measured.oldestIssuedAt === undefined
      ? 0
      : Math.max(1, (now.getTime() - Date.parse(measured.oldestIssuedAt)) / MEAN_MONTH_MS);
  const total = measured.hotRecords.value + measured.archivedRecords.value;
  const meanRecord = measured.meanRecordBytes.value;
  const meanStub =
    measured.archivedRecords.value > 0
      ? measured.stubBytes.value / measured.archivedRecords.value
      : DEFAULT_STUB_BYTES;
  return WHAT_IF_MONTHS.map((months) => {
    const hotShare = spanMonths === 0 ? 1 : Math.min(1, months / spanMonths);
    const archived = total * (1 - hotShare);
    const scenario = monthlyCost(
      {
        ...input,
        hotRecords: { ...input.hotRecords, value: total * hotShare },
        hotBytes: { ...input.hotBytes, value: total * hotShare * meanRecord },
        archivedRecords: { ...input.archivedRecords, value: archived },
        stubBytes: { ...input.stubBytes, value: archived * meanStub },
        archivedJsonBytes: { ...input.archivedJsonBytes, value: archived * meanRecord },
        archivedStoredBytes: {
          ...input.archivedStoredBytes,
          value: compression > 0 ? (archived * meanRecord) / compression : archived * meanRecord,
        },
      },
      prices,
    );
    return {
      archiveAfterMonths: months,
      afterMonthly: round(scenario.after.total),
      afterToBefore: round(scenario.ratio, 4),
      how: `estimated: ${total} records spread evenly over ${spanMonths.toFixed(1)} months, measured mean sizes and compression`,
    };
  });
}

/** A figure computed from others is measured only when they all were. */
function derivedSource(...figures: readonly Figure[]): Figure['source'] {
  return figures.every((figure) => figure.source === 'measured') ? 'measured' : 'estimated';
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
    blobEarlyDeletion: round(breakdown.blobEarlyDeletion, 4),
    cache: round(breakdown.cache, 4),
    total: round(breakdown.total, 4),
    billedRuPerSecond: breakdown.billedRuPerSecond,
    cosmosGb: round(breakdown.cosmosGb, 6),
  };
}
