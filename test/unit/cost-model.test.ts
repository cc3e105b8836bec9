// The cost model: before (all in Cosmos), after (tiered), floor, from sizes and counts.
import { describe, expect, it } from 'vitest';
import {
  type CostInput,
  costByThroughputMode,
  DEFAULT_PRICES,
  type Figure,
  mergePrices,
  monthlyCost,
  workloadRates,
} from '../../src/domain/cost-model.ts';

const GB = 1024 ** 3;
const measured = (value: number): Figure => ({ value, source: 'measured', how: 'test' });

function input(overrides: Partial<CostInput> = {}): CostInput {
  return {
    totalRecords: measured(2_000_000),
    hotRecords: measured(166_667),
    hotBytes: measured(50 * GB),
    archivedRecords: measured(1_833_333),
    stubBytes: measured(1_833_333 * 600),
    archivedJsonBytes: measured(550 * GB),
    archivedStoredBytes: measured(110 * GB),
    throughput: { mode: 'provisioned', workloadRuPerSecond: 0 },
    monthly: { archivedBlobReads: 0, recordsArchived: 0, archivalRuPerRecord: 0 },
    cacheTier: 'none',
    ...overrides,
  };
}

describe('cost model', () => {
  it('prices storage and the RU/s floor that stored GB forces, before and after', () => {
    const { before, after, floor, ratio } = monthlyCost(input());
    // 600 GB in Cosmos: $150 storage, and 600 RU/s forced by 1 RU/s per GB (over the 400 minimum).
    expect(before.cosmosStorage).toBeCloseTo(150, 1);
    expect(before.billedRuPerSecond).toBe(600);
    expect(before.cosmosThroughput).toBeCloseTo(6 * 0.008 * 730, 2);
    expect(after.cosmosGb).toBeCloseTo(50 + (1_833_333 * 600) / GB, 3);
    expect(after.billedRuPerSecond).toBe(400);
    expect(after.blobStorage).toBeCloseTo(110 * 0.0036, 3);
    expect(ratio).toBeLessThan(0.5);
    expect(floor.total).toBeLessThanOrEqual(after.total);
  });

  it('keeps the workload throughput in both, so only what tiering changes moves', () => {
    const busy = monthlyCost(input({ throughput: { mode: 'provisioned', workloadRuPerSecond: 5_000 } }));
    expect(busy.before.cosmosThroughput).toBeCloseTo(busy.after.cosmosThroughput, 6);
    expect(busy.before.total - busy.after.total).toBeCloseTo(
      busy.before.cosmosStorage - busy.after.cosmosStorage - busy.after.blobStorage,
      3,
    );
  });

  it('serverless has no floor: storage and consumed RU only', () => {
    const serverless = monthlyCost(input({ throughput: { mode: 'serverless', workloadRuPerMonth: 0 } }));
    expect(serverless.before.total).toBeCloseTo(150, 1);
    expect(serverless.ratio).toBeLessThan(0.1);
  });

  it('charges Blob operations and the cache only after tiering', () => {
    const traffic = monthlyCost(
      input({
        monthly: { archivedBlobReads: 100_000, recordsArchived: 55_000, archivalRuPerRecord: 20 },
        cacheTier: 'azure-managed-redis-b0',
      }),
    );
    expect(traffic.before.blobOperations).toBe(0);
    expect(traffic.after.blobOperations).toBeGreaterThan(0);
    expect(traffic.after.cache).toBe(DEFAULT_PRICES.cache['azure-managed-redis-b0']!.monthly);
    expect(traffic.floor.cache + traffic.floor.blobOperations).toBe(0);
  });

  it('prices one upload and one HEAD per archived record (the copy verifies the upload answer itself)', () => {
    const archiving = monthlyCost(
      input({ monthly: { archivedBlobReads: 0, recordsArchived: 10_000, archivalRuPerRecord: 0 } }),
    );
    const cold = DEFAULT_PRICES.blob.Cold;
    // A HEAD is Get Blob Properties, billed as an "other" operation on general-purpose v2 accounts,
    // not as a read ("Map each REST operation to a price").
    expect(archiving.after.blobOperations).toBeCloseTo(cold.writePer10k + cold.otherPer10k, 9);
    expect(cold.otherPer10k).toBeLessThan(cold.readPer10k);
  });

  it('prices Cold early deletion of the blobs the collector removes young, and nothing else', () => {
    const archived = input({
      monthly: {
        archivedBlobReads: 0,
        recordsArchived: 0,
        archivalRuPerRecord: 0,
        supersededBlobsDeleted: 1_000,
        supersededBlobAgeDays: 1,
      },
    });
    const { before, after, floor } = monthlyCost(archived);
    // 1,000 blobs of the mean stored size, each billed the 89 Cold days it did not stay.
    const meanStored = (110 * GB) / 1_833_333;
    const expected = ((1_000 * meanStored) / GB) * 0.0036 * (89 / (730 / 24));
    expect(after.blobEarlyDeletion).toBeCloseTo(expected, 9);
    expect(after.total - monthlyCost(input()).after.total).toBeCloseTo(expected, 9);
    expect(before.blobEarlyDeletion + floor.blobEarlyDeletion).toBe(0);
    // Past the tier's minimum a deletion costs nothing more.
    const old = input({ monthly: { ...archived.monthly, supersededBlobAgeDays: 120 } });
    expect(monthlyCost(old).after.blobEarlyDeletion).toBe(0);
  });

  it('merges a price file and refuses unknown or mistyped prices', () => {
    const merged = mergePrices(DEFAULT_PRICES, {
      cosmos: { storagePerGbMonth: 0.3 },
      blob: { Cold: { storagePerGbMonth: 0.004 } },
    });
    expect(merged.cosmos.storagePerGbMonth).toBe(0.3);
    expect(merged.cosmos.minimumRuPerSecond).toBe(400);
    expect(merged.blob.Cold.storagePerGbMonth).toBe(0.004);
    expect(() => mergePrices(DEFAULT_PRICES, { cosmos: { storagPerGbMonth: 1 } })).toThrow(
      /not a known price/,
    );
    expect(() => mergePrices(DEFAULT_PRICES, { cosmos: { storagePerGbMonth: 'cheap' } })).toThrow(
      /must be a number/,
    );
  });
});

describe('throughput modes', () => {
  const HOURS = 730;
  const SECONDS = HOURS * 3600;
  // A small store: 4 GB in Cosmos after tiering, so no storage minimum beyond the modes' own.
  const small = (throughput: CostInput['throughput']): CostInput =>
    input({
      hotBytes: measured(3 * GB),
      archivedRecords: measured(1_000_000),
      stubBytes: measured(GB),
      archivedJsonBytes: measured(20 * GB),
      archivedStoredBytes: measured(3 * GB),
      throughput,
    });

  it('autoscale bills a tenth of its maximum while idle, and the mean above it, at its own price', () => {
    const idle = monthlyCost(small({ mode: 'autoscale', workloadRuPerSecond: 0 })).after;
    // Maximum 1,000 RU/s (the least settable); idle, each hour bills 100 RU/s at $0.012 per 100 an hour.
    expect(idle.billedRuPerSecond).toBe(100);
    expect(idle.cosmosThroughput).toBeCloseTo(1 * 0.012 * HOURS, 6);
    const busy = monthlyCost(
      small({ mode: 'autoscale', workloadRuPerSecond: 2_500, meanRuPerSecond: 800 }),
    ).after;
    // Maximum 3,000 (steps of 1,000); the mean, 800, is over its tenth.
    expect(busy.billedRuPerSecond).toBe(800);
    expect(busy.cosmosThroughput).toBeCloseTo(8 * 0.012 * HOURS, 6);
  });

  it('raises the autoscale maximum with storage: 10 RU/s per GB', () => {
    const large = monthlyCost(input({ throughput: { mode: 'autoscale', workloadRuPerSecond: 0 } }));
    // Before: 600 GB → a maximum of 6,000 RU/s, so 600 billed at least.
    expect(large.before.billedRuPerSecond).toBe(600);
  });

  it('turns a peak into RU a month and back by the peak-to-mean ratio', () => {
    expect(workloadRates({ mode: 'provisioned', workloadRuPerSecond: 900 }, 3)).toEqual({
      peakRuPerSecond: 900,
      ruPerMonth: 300 * SECONDS,
      peakToMean: 3,
    });
    const serverless = workloadRates({ mode: 'serverless', workloadRuPerMonth: 100 * SECONDS }, 4);
    expect(serverless.peakRuPerSecond).toBeCloseTo(400, 9);
  });

  it('names the cheapest mode: serverless for a quiet store, autoscale for a bursty one, provisioned for a steady busy one', () => {
    const quiet = costByThroughputMode(
      small({ mode: 'provisioned', workloadRuPerSecond: 15 }),
      workloadRates({ mode: 'provisioned', workloadRuPerSecond: 15 }, 3),
    );
    expect(quiet.map((mode) => mode.mode)).toEqual(['serverless', 'autoscale', 'provisioned']);
    // Serverless: 4 GB of storage and 5 RU/s all month at $0.25 per million; autoscale bills 100 RU/s.
    expect(quiet[0]!.comparison.after.total).toBeCloseTo(
      4 * 0.25 + (5 * SECONDS * 0.25) / 1e6 + 3 * 0.0036,
      6,
    );
    const bursty = costByThroughputMode(
      small({ mode: 'provisioned', workloadRuPerSecond: 900 }),
      workloadRates({ mode: 'provisioned', workloadRuPerSecond: 900 }, 10),
    );
    // 90 RU/s on average, under autoscale's tenth of 1,000: $8.76; provisioned 900 RU/s $52.56; serverless $59.13.
    expect(bursty.map((mode) => mode.mode)).toEqual(['autoscale', 'provisioned', 'serverless']);
    const steady = costByThroughputMode(
      small({ mode: 'provisioned', workloadRuPerSecond: 5_000 }),
      workloadRates({ mode: 'provisioned', workloadRuPerSecond: 5_000 }, 1),
    );
    expect(steady[0]!.mode).toBe('provisioned');
    // Autoscale at a steady 5,000: the same RU/s at 1.5 times the price.
    expect(steady.find((mode) => mode.mode === 'autoscale')!.comparison.after.cosmosThroughput).toBeCloseTo(
      1.5 * steady[0]!.comparison.after.cosmosThroughput,
      6,
    );
  });
});
