// The cost model: before (all in Cosmos), after (tiered), floor, from sizes and counts.
import { describe, expect, it } from 'vitest';
import {
  type CostInput,
  DEFAULT_PRICES,
  type Figure,
  mergePrices,
  monthlyCost,
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
