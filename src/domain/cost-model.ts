// The monthly bill, before and after tiering, from measured sizes, counts and request charges, with a
// dated price table (overridable from a file). Every figure says whether it was measured or estimated.
import type { AccessTier } from './access-tier.ts';

export interface BlobTierPrices {
  readonly storagePerGbMonth: number;
  readonly writePer10k: number;
  readonly readPer10k: number;
  /**
   * "All other operations": Get Blob Properties (the purge's HEAD) among them, on general-purpose v2
   * accounts (Azure's "Map each REST operation to a price"). Delete is free.
   */
  readonly otherPer10k: number;
  /** Data retrieval, per GB read. */
  readonly retrievalPerGb: number;
  /** Deleting (or re-tiering) a blob earlier than this is charged as if it stayed. */
  readonly earlyDeletionDays: number;
}

export interface PriceTable {
  /** When these list prices were read; check the Azure pricing pages before relying on them. */
  readonly asOf: string;
  readonly region: string;
  readonly currency: 'USD';
  readonly hoursPerMonth: number;
  readonly cosmos: {
    readonly storagePerGbMonth: number;
    /** Standard (manual) provisioned throughput, per 100 RU/s per hour, single region. */
    readonly provisionedPer100RuHour: number;
    readonly autoscalePer100RuHour: number;
    readonly serverlessPerMillionRu: number;
    /** A manual-throughput container (or shared database) never goes below this. */
    readonly minimumRuPerSecond: number;
    /** ... nor below this many RU/s per GB stored. */
    readonly minimumRuPerSecondPerGb: number;
    /** Autoscale: the maximum RU/s is set in steps of this, and never below it ... */
    readonly autoscaleMinimumMaxRuPerSecond: number;
    /** ... nor below this many RU/s per GB stored. */
    readonly autoscaleMinimumMaxRuPerSecondPerGb: number;
    /** Autoscale bills each hour the highest RU/s it scaled to, never below this share of the maximum. */
    readonly autoscaleFloorShare: number;
  };
  readonly blob: Readonly<Record<AccessTier, BlobTierPrices>>;
  /** Cache options for archived reads, monthly. */
  readonly cache: Readonly<Record<string, { readonly monthly: number; readonly capacityGb: number }>>;
}

/** Pay-as-you-go list prices, East US, LRS, USD, as published in November 2025. */
export const DEFAULT_PRICES: PriceTable = {
  asOf: '2025-11-01',
  region: 'eastus',
  currency: 'USD',
  hoursPerMonth: 730,
  cosmos: {
    storagePerGbMonth: 0.25,
    provisionedPer100RuHour: 0.008,
    autoscalePer100RuHour: 0.012,
    serverlessPerMillionRu: 0.25,
    minimumRuPerSecond: 400,
    minimumRuPerSecondPerGb: 1,
    autoscaleMinimumMaxRuPerSecond: 1000,
    autoscaleMinimumMaxRuPerSecondPerGb: 10,
    autoscaleFloorShare: 0.1,
  },
  blob: {
    Hot: {
      storagePerGbMonth: 0.0184,
      writePer10k: 0.05,
      readPer10k: 0.004,
      otherPer10k: 0.004,
      retrievalPerGb: 0,
      earlyDeletionDays: 0,
    },
    Cool: {
      storagePerGbMonth: 0.01,
      writePer10k: 0.1,
      readPer10k: 0.01,
      otherPer10k: 0.004,
      retrievalPerGb: 0.01,
      earlyDeletionDays: 30,
    },
    Cold: {
      storagePerGbMonth: 0.0036,
      writePer10k: 0.18,
      readPer10k: 0.1,
      otherPer10k: 0.0052,
      retrievalPerGb: 0.03,
      earlyDeletionDays: 90,
    },
    Archive: {
      storagePerGbMonth: 0.00099,
      writePer10k: 0.1,
      readPer10k: 5,
      otherPer10k: 0.004,
      retrievalPerGb: 0.02,
      earlyDeletionDays: 180,
    },
  },
  cache: {
    none: { monthly: 0, capacityGb: 0 },
    'azure-cache-basic-c0': { monthly: 16.06, capacityGb: 0.25 },
    'azure-cache-standard-c1': { monthly: 100.74, capacityGb: 1 },
    'azure-managed-redis-b0': { monthly: 12.41, capacityGb: 0.5 },
  },
};

export type Provenance = 'measured' | 'estimated';

export interface Figure {
  readonly value: number;
  readonly source: Provenance;
  readonly how: string;
}

export interface CostInput {
  readonly totalRecords: Figure;
  readonly hotRecords: Figure;
  /** Bytes of the full documents that stay hot. */
  readonly hotBytes: Figure;
  readonly archivedRecords: Figure;
  /** Bytes of all stubs together. */
  readonly stubBytes: Figure;
  /** Bytes of the archived records as canonical JSON (what they would take hot). */
  readonly archivedJsonBytes: Figure;
  /** Bytes the archive stores (gzip). */
  readonly archivedStoredBytes: Figure;
  readonly throughput:
    | {
        readonly mode: 'provisioned' | 'autoscale';
        /** The peak the workload needs: what provisioned throughput must carry, the autoscale maximum. */
        readonly workloadRuPerSecond: number;
        /** Its mean over the month (autoscale bills near it); the peak when absent. */
        readonly meanRuPerSecond?: number;
      }
    | { readonly mode: 'serverless'; readonly workloadRuPerMonth: number };
  /** Traffic that changes with tiering (zero where unknown). */
  readonly monthly: {
    /** Archived reads that miss the cache and go to Blob. */
    readonly archivedBlobReads: number;
    /** Records archived per month (an upload each, and the HEAD that re-checks it before the purge). */
    readonly recordsArchived: number;
    /** RU the archiver spends per archived record (measured or estimated). */
    readonly archivalRuPerRecord: number;
    /**
     * Archived blobs the collector deletes per month because nothing references them any more: the old
     * version of a record rehydrated and written, a copy dropped because its record changed in grace, a
     * deleted record. Absent: none.
     */
    readonly supersededBlobsDeleted?: number;
    /**
     * Their mean age in days when deleted. The collector deletes them once untouched for
     * ARCHIVE_GC_SAFETY_WINDOW (default a day), so most are far younger than the tier's minimum.
     */
    readonly supersededBlobAgeDays?: number;
  };
  readonly cacheTier: string;
  readonly archiveTier?: AccessTier;
}

export interface CostBreakdown {
  readonly cosmosStorage: number;
  readonly cosmosThroughput: number;
  readonly blobStorage: number;
  readonly blobOperations: number;
  /**
   * Early deletion: a blob deleted (or moved) before the tier's minimum (Cold: 90 days) is billed the
   * storage of the days it did not stay.
   */
  readonly blobEarlyDeletion: number;
  readonly cache: number;
  readonly total: number;
  /** The RU/s billed (provisioned modes). */
  readonly billedRuPerSecond: number;
  readonly cosmosGb: number;
}

export interface CostComparison {
  readonly before: CostBreakdown;
  readonly after: CostBreakdown;
  readonly floor: CostBreakdown;
  /** after / before. */
  readonly ratio: number;
  readonly prices: { readonly asOf: string; readonly region: string; readonly currency: string };
}

const GB = 1024 ** 3;

/** What the bill is with everything in Cosmos (before), tiered (after), and at its floor. */
export function monthlyCost(input: CostInput, prices: PriceTable = DEFAULT_PRICES): CostComparison {
  const allHotBytes = input.hotBytes.value + input.archivedJsonBytes.value;
  const tieredCosmosBytes = input.hotBytes.value + input.stubBytes.value;
  const tier = prices.blob[input.archiveTier ?? 'Cold'];
  const avgStored =
    input.archivedRecords.value > 0 ? input.archivedStoredBytes.value / input.archivedRecords.value : 0;
  const archivalRu = input.monthly.recordsArchived * input.monthly.archivalRuPerRecord;

  const before = breakdown(prices, input, allHotBytes / GB, 0, 0, 0, 0, 0);
  const blobOperations =
    // The upload, and the purge's HEAD (an "other" operation).
    (input.monthly.recordsArchived * (tier.writePer10k + tier.otherPer10k)) / 10_000 +
    (input.monthly.archivedBlobReads * tier.readPer10k) / 10_000 +
    (input.monthly.archivedBlobReads * avgStored * tier.retrievalPerGb) / GB;
  const after = breakdown(
    prices,
    input,
    tieredCosmosBytes / GB,
    (input.archivedStoredBytes.value / GB) * tier.storagePerGbMonth,
    blobOperations,
    earlyDeletion(input, tier, avgStored, prices.hoursPerMonth / 24),
    prices.cache[input.cacheTier]?.monthly ?? 0,
    archivalRu,
  );
  const floor = breakdown(
    prices,
    { ...input, throughput: floorThroughput(input) },
    tieredCosmosBytes / GB,
    (input.archivedStoredBytes.value / GB) * prices.blob.Cold.storagePerGbMonth,
    0,
    0,
    0,
    0,
  );
  return {
    before,
    after,
    floor,
    ratio: before.total === 0 ? 0 : after.total / before.total,
    prices: { asOf: prices.asOf, region: prices.region, currency: prices.currency },
  };
}

/**
 * What the collector's deletions of superseded blobs cost on top of their storage: each one deleted at
 * `ageDays` pays the storage of the `earlyDeletionDays - ageDays` it did not stay (Cold: 90 days, so a blob
 * collected after a day pays 89 days, about three months of its storage).
 */
export function earlyDeletion(
  input: CostInput,
  tier: BlobTierPrices,
  meanStoredBytes: number,
  daysPerMonth: number,
): number {
  const deleted = input.monthly.supersededBlobsDeleted ?? 0;
  const unpaidDays = Math.max(0, tier.earlyDeletionDays - (input.monthly.supersededBlobAgeDays ?? 1));
  return ((deleted * meanStoredBytes) / GB) * tier.storagePerGbMonth * (unpaidDays / daysPerMonth);
}

/** The floor: the hot set, the stubs and the compressed cold set, and only the throughput their storage forces. */
function floorThroughput(input: CostInput): CostInput['throughput'] {
  return input.throughput.mode === 'serverless'
    ? { mode: 'serverless', workloadRuPerMonth: 0 }
    : { mode: input.throughput.mode, workloadRuPerSecond: 0 };
}

function breakdown(
  prices: PriceTable,
  input: CostInput,
  cosmosGb: number,
  blobStorage: number,
  blobOperations: number,
  blobEarlyDeletion: number,
  cache: number,
  extraRuPerMonth: number,
): CostBreakdown {
  const cosmosStorage = cosmosGb * prices.cosmos.storagePerGbMonth;
  let cosmosThroughput: number;
  let billedRuPerSecond = 0;
  if (input.throughput.mode === 'serverless') {
    cosmosThroughput =
      ((input.throughput.workloadRuPerMonth + extraRuPerMonth) / 1e6) * prices.cosmos.serverlessPerMillionRu;
  } else if (input.throughput.mode === 'autoscale') {
    // The maximum is set for the peak, in steps, above what storage forces; each hour bills the highest
    // RU/s reached, at least a tenth of the maximum (the month's mean stands in for each hour's peak).
    const { cosmos } = prices;
    const least = Math.max(
      cosmos.autoscaleMinimumMaxRuPerSecond,
      Math.ceil(cosmosGb * cosmos.autoscaleMinimumMaxRuPerSecondPerGb),
    );
    const step = cosmos.autoscaleMinimumMaxRuPerSecond;
    const maximum = Math.ceil(Math.max(least, input.throughput.workloadRuPerSecond) / step) * step;
    const secondsPerMonth = prices.hoursPerMonth * 3600;
    const mean =
      (input.throughput.meanRuPerSecond ?? input.throughput.workloadRuPerSecond) +
      extraRuPerMonth / secondsPerMonth;
    billedRuPerSecond = Math.min(maximum, Math.max(maximum * cosmos.autoscaleFloorShare, mean));
    cosmosThroughput = (billedRuPerSecond / 100) * cosmos.autoscalePer100RuHour * prices.hoursPerMonth;
  } else {
    // The archiver runs inside the provisioned throughput (its RU budget); only the floor moves with GB.
    const floor = Math.max(
      prices.cosmos.minimumRuPerSecond,
      Math.ceil(cosmosGb * prices.cosmos.minimumRuPerSecondPerGb),
    );
    billedRuPerSecond = Math.ceil(Math.max(floor, input.throughput.workloadRuPerSecond) / 100) * 100;
    cosmosThroughput =
      (billedRuPerSecond / 100) * prices.cosmos.provisionedPer100RuHour * prices.hoursPerMonth;
  }
  const total = cosmosStorage + cosmosThroughput + blobStorage + blobOperations + blobEarlyDeletion + cache;
  return {
    cosmosStorage,
    cosmosThroughput,
    blobStorage,
    blobOperations,
    blobEarlyDeletion,
    cache,
    total,
    billedRuPerSecond,
    cosmosGb,
  };
}

export type ThroughputMode = CostInput['throughput']['mode'];
export const THROUGHPUT_MODES: readonly ThroughputMode[] = ['provisioned', 'autoscale', 'serverless'];

/** One workload in the terms of every mode: the peak RU/s and the RU consumed in a month. */
export interface WorkloadRates {
  readonly peakRuPerSecond: number;
  readonly ruPerMonth: number;
  /** Peak RU/s over mean RU/s: how the one is had from the other. */
  readonly peakToMean: number;
}

export function workloadRates(
  throughput: CostInput['throughput'],
  peakToMean: number,
  prices: PriceTable = DEFAULT_PRICES,
): WorkloadRates {
  const secondsPerMonth = prices.hoursPerMonth * 3600;
  if (throughput.mode === 'serverless') {
    const mean = throughput.workloadRuPerMonth / secondsPerMonth;
    return { peakRuPerSecond: mean * peakToMean, ruPerMonth: throughput.workloadRuPerMonth, peakToMean };
  }
  const mean = throughput.meanRuPerSecond ?? throughput.workloadRuPerSecond / peakToMean;
  return { peakRuPerSecond: throughput.workloadRuPerSecond, ruPerMonth: mean * secondsPerMonth, peakToMean };
}

/** The workload as a mode takes it. */
export function throughputIn(
  mode: ThroughputMode,
  rates: WorkloadRates,
  prices: PriceTable = DEFAULT_PRICES,
): CostInput['throughput'] {
  if (mode === 'serverless') return { mode, workloadRuPerMonth: rates.ruPerMonth };
  return {
    mode,
    workloadRuPerSecond: rates.peakRuPerSecond,
    meanRuPerSecond: rates.ruPerMonth / (prices.hoursPerMonth * 3600),
  };
}

export interface ModeCost {
  readonly mode: ThroughputMode;
  readonly comparison: CostComparison;
}

/** The same tiered store and workload priced in each throughput mode, cheapest after tiering first. */
export function costByThroughputMode(
  input: CostInput,
  rates: WorkloadRates,
  prices: PriceTable = DEFAULT_PRICES,
): ModeCost[] {
  return THROUGHPUT_MODES.map((mode) => ({
    mode,
    comparison: monthlyCost({ ...input, throughput: throughputIn(mode, rates, prices) }, prices),
  })).sort((a, b) => a.comparison.after.total - b.comparison.after.total);
}

/**
 * Merges a price file over a table (a partial table, nested like PriceTable). Unknown keys are
 * refused so a typo cannot silently keep the default.
 */
export function mergePrices(base: PriceTable, override: unknown, path = 'prices'): PriceTable {
  if (override === null || typeof override !== 'object' || Array.isArray(override)) {
    throw new Error(`${path} must be an object`);
  }
  const merged: Record<string, unknown> = { ...(base as unknown as Record<string, unknown>) };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    if (current === undefined && path !== 'prices.cache')
      throw new Error(`${path}.${key} is not a known price`);
    if (current !== null && typeof current === 'object')
      merged[key] = mergePrices(current as PriceTable, value, `${path}.${key}`);
    else if (typeof value === typeof current || (current === undefined && typeof value === 'object'))
      merged[key] = value;
    else throw new Error(`${path}.${key} must be a ${typeof current}`);
  }
  return merged as unknown as PriceTable;
}
