// The cost report's pricing, pure: hand-made measurements in, before/after/floor, savings and the
// what-if over the archive age out; expectations are worked out by hand from the default price table.
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICES, type Figure } from '../../src/domain/cost-model.ts';
import {
  type CostMeasurements,
  type CostSettings,
  priceCostReport,
} from '../../src/domain/cost-report-pricing.ts';

const GB = 1024 ** 3;
const MONTH_MS = 30.44 * 86_400_000;
const NOW = new Date('2026-03-01T00:00:00.000Z');
const measured = (value: number): Figure => ({ value, source: 'measured', how: `measured ${value}` });
const estimated = (value: number): Figure => ({ value, source: 'estimated', how: `estimated ${value}` });
/** An amount the report rounds to cents is within half a cent of the exact one. */
const expectCents = (actual: number, exact: number): void => {
  expect(Math.abs(actual - exact)).toBeLessThanOrEqual(0.005 + 1e-9);
};

/** The reference shape: 2,000,000 records, 50 GB hot, 550 GB archived as 110 GB of gzip, 600 B stubs. */
function measurements(overrides: Partial<CostMeasurements> = {}): CostMeasurements {
  return {
    hotRecords: measured(166_667),
    archivedRecords: measured(1_833_333),
    hotBytes: measured(50 * GB),
    stubBytes: measured(1_833_333 * 600),
    archivedJsonBytes: measured(550 * GB),
    archivedStoredBytes: measured(110 * GB),
    archivalRuPerRecord: estimated(30),
    meanRecordBytes: measured(300_000),
    oldestIssuedAt: undefined,
    ...overrides,
  };
}

function settings(overrides: Partial<CostSettings> = {}): CostSettings {
  return {
    prices: DEFAULT_PRICES,
    throughput: { mode: 'provisioned', workloadRuPerSecond: 0 },
    peakToMean: 3,
    cacheTier: 'none',
    archiveAfterMonths: 3,
    ...overrides,
  };
}

describe('cost report pricing', () => {
  it('prices before (all in Cosmos), after (tiered, with the cache) and the floor (no cache, no traffic)', () => {
    const report = priceCostReport(measurements(), settings({ cacheTier: 'azure-cache-basic-c0' }), NOW);
    // Before: 600 GB in Cosmos at $0.25, and the 600 RU/s that 1 RU/s per GB forces, at $0.008 per 100 an hour.
    expect(report.before).toMatchObject({ cosmosGb: 600, billedRuPerSecond: 600, blobStorage: 0, cache: 0 });
    expect(report.before.cosmosStorage).toBeCloseTo(150, 3);
    expect(report.before.cosmosThroughput).toBeCloseTo(6 * 0.008 * 730, 3);
    expect(report.before.total).toBeCloseTo(150 + 35.04, 3);
    // After: the hot 50 GB and the stubs in Cosmos at the 400 RU/s minimum, 110 GB in Cold, the cache.
    const afterGb = 50 + (1_833_333 * 600) / GB;
    const afterTotal = afterGb * 0.25 + 4 * 0.008 * 730 + 110 * 0.0036 + 16.06;
    expect(report.after.cosmosGb).toBeCloseTo(afterGb, 5);
    expect(report.after).toMatchObject({ billedRuPerSecond: 400, blobOperations: 0, cache: 16.06 });
    expect(report.after.blobStorage).toBeCloseTo(0.396, 3);
    expect(report.after.total).toBeCloseTo(afterTotal, 3);
    // Floor: the same storage, no cache.
    expect(report.floor.cache).toBe(0);
    expect(report.floor.total).toBeCloseTo(afterTotal - 16.06, 3);
    expectCents(report.savings.monthly, 185.04 - afterTotal);
    expect(report.savings.afterToBefore).toBeCloseTo(afterTotal / 185.04, 3);
    // Amounts are rounded as the report publishes them.
    for (const amount of [report.before.total, report.after.total, report.floor.total]) {
      expect(Math.round(amount * 10_000) / 10_000).toBe(amount);
    }
  });

  it('keeps the workload throughput after tiering, and drops it at the floor', () => {
    const report = priceCostReport(
      measurements(),
      settings({ throughput: { mode: 'provisioned', workloadRuPerSecond: 1_000 } }),
      NOW,
    );
    expect(report.before.billedRuPerSecond).toBe(1_000);
    expect(report.after.billedRuPerSecond).toBe(1_000);
    expect(report.after.cosmosThroughput).toBeCloseTo(10 * 0.008 * 730, 3);
    expect(report.floor.billedRuPerSecond).toBe(400);
    expect(report.floor.cosmosThroughput).toBeCloseTo(4 * 0.008 * 730, 3);
    expect(report.throughput).toEqual({ mode: 'provisioned', workloadRuPerSecond: 1_000 });
  });

  it('advises the cheapest throughput mode for the configured workload, with each mode’s monthly figures', () => {
    const report = priceCostReport(
      measurements(),
      settings({ throughput: { mode: 'provisioned', workloadRuPerSecond: 1_000 }, peakToMean: 4 }),
      NOW,
    );
    const { workload, cheapest, modes } = report.throughputModes;
    expect(workload).toMatchObject({ peakRuPerSecond: 1_000, ruPerMonth: 250 * 730 * 3600, peakToMean: 4 });
    expect(modes.map((mode) => mode.mode).sort()).toEqual(['autoscale', 'provisioned', 'serverless']);
    expect(cheapest).toBe(modes[0]!.mode);
    const after = modes.map((mode) => mode.afterMonthly);
    expect(after).toEqual([...after].sort((a, b) => a - b));
    // The configured mode's figures are the report's own.
    const provisioned = modes.find((mode) => mode.mode === 'provisioned')!;
    expectCents(provisioned.afterMonthly, report.after.total);
    expectCents(provisioned.floorMonthly, report.floor.total);
    // Autoscale: 51 GB of Cosmos after tiering → a maximum of 1,000 RU/s; the mean, 250, is billed at $0.012.
    const autoscale = modes.find((mode) => mode.mode === 'autoscale')!;
    expect(autoscale.billedRuPerSecond).toBe(250);
    const storage = report.after.total - report.after.cosmosThroughput;
    expectCents(autoscale.afterMonthly, storage + 2.5 * 0.012 * 730);
    // Serverless: 250 RU/s all month at $0.25 per million.
    const serverless = modes.find((mode) => mode.mode === 'serverless')!;
    expectCents(serverless.afterMonthly, storage + (250 * 730 * 3600 * 0.25) / 1e6);
    expect(cheapest).toBe('autoscale');
  });

  it('reports the measurements as given, with the mean stub and the compression derived from them', () => {
    const given = measurements({ hotBytes: estimated(49 * GB) });
    const report = priceCostReport(given, settings(), NOW);
    expect(Object.keys(report.measurements)).toEqual([
      'hotRecords',
      'archivedRecords',
      'hotBytes',
      'stubBytes',
      'meanStubBytes',
      'archivedJsonBytes',
      'archivedStoredBytes',
      'compressionRatio',
      'archivalRuPerRecord',
    ]);
    expect(report.measurements.hotBytes).toEqual(estimated(49 * GB));
    expect(report.measurements.archivalRuPerRecord).toEqual(estimated(30));
    expect(report.measurements.meanStubBytes).toEqual({ ...given.stubBytes, value: 600 });
    expect(report.measurements.compressionRatio).toMatchObject({ value: 5, source: 'measured' });
    expect(report.generatedAt).toBe(NOW.toISOString());
    expect(report.prices).toEqual({ asOf: DEFAULT_PRICES.asOf, region: 'eastus', currency: 'USD' });
  });

  it('with nothing archived: no mean stub, no compression, and tiering changes nothing', () => {
    const report = priceCostReport(
      measurements({
        archivedRecords: measured(0),
        stubBytes: measured(0),
        archivedJsonBytes: measured(0),
        archivedStoredBytes: measured(0),
      }),
      settings(),
      NOW,
    );
    expect(report.measurements.meanStubBytes?.value).toBe(0);
    expect(report.measurements.compressionRatio?.value).toBe(0);
    expect(report.after).toEqual(report.before);
    expect(report.savings).toEqual({ monthly: 0, afterToBefore: 1 });
  });

  it('a compression ratio from an estimated size is estimated', () => {
    const report = priceCostReport(
      measurements({ archivedStoredBytes: estimated(110 * GB) }),
      settings(),
      NOW,
    );
    expect(report.measurements.compressionRatio).toMatchObject({ value: 5, source: 'estimated' });
  });
});

describe('cost report what-if over the archive age', () => {
  // 1,200,000 records of 100 kB over 24 months, 500 B stubs, gzip at 4:1, serverless with no workload:
  // the bill is storage alone, so each scenario can be worked out by hand.
  const total = 1_200_000;
  const mean = 100_000;
  const history = measurements({
    hotRecords: measured(100_000),
    archivedRecords: measured(1_100_000),
    hotBytes: measured(100_000 * mean),
    stubBytes: measured(1_100_000 * 500),
    archivedJsonBytes: measured(1_100_000 * mean),
    archivedStoredBytes: measured((1_100_000 * mean) / 4),
    meanRecordBytes: measured(mean),
    oldestIssuedAt: new Date(NOW.getTime() - 24 * MONTH_MS).toISOString(),
  });
  const serverless = settings({ throughput: { mode: 'serverless', workloadRuPerMonth: 0 } });

  it('moves the records of the later months across the age line, at the measured sizes and compression', () => {
    const report = priceCostReport(history, serverless, NOW);
    const before = ((total * mean) / GB) * 0.25;
    expect(report.whatIf.map((scenario) => scenario.archiveAfterMonths)).toEqual([1, 3, 6, 12]);
    for (const scenario of report.whatIf) {
      const hot = total * (scenario.archiveAfterMonths / 24);
      const archived = total - hot;
      const after = ((hot * mean + archived * 500) / GB) * 0.25 + ((archived * mean) / 4 / GB) * 0.0036;
      expectCents(scenario.afterMonthly, after);
      expect(scenario.afterToBefore).toBeCloseTo(after / before, 3);
      expect(scenario.how).toBe(
        'estimated: 1200000 records spread evenly over 24.0 months, measured mean sizes and compression',
      );
    }
    const costs = report.whatIf.map((scenario) => scenario.afterMonthly);
    expect(costs).toEqual([...costs].sort((a, b) => a - b));
  });

  it('keeps everything hot for ages beyond the history, and with no history at all', () => {
    const short = priceCostReport(
      { ...history, oldestIssuedAt: new Date(NOW.getTime() - 2 * MONTH_MS).toISOString() },
      serverless,
      NOW,
    );
    expect(short.whatIf.map((scenario) => scenario.afterToBefore)).toEqual([expect.any(Number), 1, 1, 1]);
    expect(short.whatIf[0]!.afterToBefore).toBeLessThan(0.6);
    const none = priceCostReport({ ...history, oldestIssuedAt: undefined }, serverless, NOW);
    expect(none.whatIf.map((scenario) => scenario.afterToBefore)).toEqual([1, 1, 1, 1]);
    expect(none.whatIf[0]!.how).toContain('over 0.0 months');
  });

  it('counts a history shorter than a month as one month', () => {
    const report = priceCostReport(
      { ...history, oldestIssuedAt: new Date(NOW.getTime() - 86_400_000).toISOString() },
      serverless,
      NOW,
    );
    expect(report.whatIf.every((scenario) => scenario.afterToBefore === 1)).toBe(true);
    expect(report.whatIf[0]!.how).toContain('over 1.0 months');
  });
});
