// Measuring the stores for the cost report, over real in-memory adapters (SQLite :memory:, the in-memory
// archive and control store); and the report itself is exactly those measurements priced.
import { afterEach, describe, expect, it } from 'vitest';
import { buildCostReport } from '../../src/costs/cost-report.ts';
import { measureStores } from '../../src/costs/measure-stores.ts';
import { buildArchiveArtifact } from '../../src/domain/archive-artifact.ts';
import type { BillingRecord } from '../../src/domain/billing-record.ts';
import { DEFAULT_PRICES } from '../../src/domain/cost-model.ts';
import { type CostSettings, priceCostReport } from '../../src/domain/cost-report-pricing.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';
import { type ArchivalWorld, createArchivalWorld, policyOf } from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const DAY = 86_400_000;
const SETTINGS: CostSettings = {
  prices: DEFAULT_PRICES,
  throughput: { mode: 'provisioned', workloadRuPerSecond: 0 },
  peakToMean: 3,
  cacheTier: 'none',
  archiveAfterMonths: 3,
};
let world: ArchivalWorld;

afterEach(async () => {
  await world.close();
});

/** Six records of six months ago archived and purged, two of last month still hot. */
async function archivedWorld(): Promise<{ old: BillingRecord[]; recent: BillingRecord[] }> {
  world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
  const seed = async (count: number, monthsAgo: number): Promise<BillingRecord[]> => {
    const records: BillingRecord[] = [];
    for (let i = 0; i < count; i++) {
      const issuedAt = new Date(world.clock.now().getTime() - monthsAgo * 31 * DAY - i * 3600_000);
      records.push(
        await world
          .records()
          .create('cust-cost', makeInput({ id: `r-${monthsAgo}-${i}`, issuedAt: issuedAt.toISOString() })),
      );
    }
    return records;
  };
  const old = await seed(6, 6);
  const recent = await seed(2, 1);
  world.clock.advance(2 * DAY); // past the cool-down
  const run = await world.engine().run({ asOf: world.clock.now().toISOString() });
  expect(run.counts).toMatchObject({ copied: 6, purged: 6 });
  return { old, recent };
}

/** The same store, unable to tell how many bytes each tier holds (as a store without the figure). */
function withoutTierBytes(store: RecordStore): RecordStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'countByTier')
        return async () => {
          const { hot, archived } = await target.countByTier();
          return { hot, archived };
        };
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('measuring the stores', () => {
  it('counts each tier, sums the stubs’ canonical sizes and the blobs, and charges the runs per record', async () => {
    const { old, recent } = await archivedWorld();
    const stores = { store: world.store, archive: world.archive, control: world.control };
    const measured = await measureStores(stores, world.clock.now());
    const canonical = old.reduce((sum, record) => sum + buildArchiveArtifact(record).size, 0);
    const stored = old.reduce((sum, record) => sum + buildArchiveArtifact(record).body.byteLength, 0);
    const tiers = await world.store.countByTier();
    expect(measured.hotRecords).toMatchObject({ value: 2, source: 'measured' });
    expect(measured.archivedRecords).toMatchObject({ value: 6, source: 'measured' });
    expect(measured.hotBytes).toMatchObject({ value: tiers.hotBytes, source: 'measured' });
    expect(measured.stubBytes).toMatchObject({ value: tiers.archivedBytes, source: 'measured' });
    expect(measured.archivedJsonBytes).toMatchObject({ value: canonical, source: 'measured' });
    expect(measured.archivedStoredBytes).toMatchObject({ value: stored, source: 'measured' });
    expect(measured.archivedStoredBytes.how).toMatch(/^6 blobs in the archive/);
    expect(measured.meanRecordBytes).toMatchObject({ value: canonical / 6, source: 'measured' });
    // The SQLite store reports no real request charges: the RU model's estimate.
    expect(measured.archivalRuPerRecord.source).toBe('estimated');
    expect(measured.archivalRuPerRecord.value).toBeGreaterThan(0);
    const oldest = [...old, ...recent].map((record) => record.issuedAt).sort()[0];
    expect(measured.oldestIssuedAt).toBe(oldest);
  });

  it('estimates the bytes per tier where the store cannot tell them', async () => {
    await archivedWorld();
    const measured = await measureStores(
      { store: withoutTierBytes(world.store), archive: world.archive, control: world.control },
      world.clock.now(),
    );
    expect(measured.hotBytes).toMatchObject({
      value: 2 * measured.meanRecordBytes.value,
      source: 'estimated',
    });
    expect(measured.stubBytes.source).toBe('estimated');
    expect(measured.stubBytes.value).toBeGreaterThan(6 * 400);
  });

  it('measures empty stores as zeros, with no run and no history', async () => {
    world = createArchivalWorld();
    const measured = await measureStores(
      { store: world.store, archive: world.archive, control: world.control },
      world.clock.now(),
    );
    expect(measured.hotRecords.value + measured.archivedRecords.value).toBe(0);
    expect(measured.archivedStoredBytes.value).toBe(0);
    expect(measured.archivalRuPerRecord).toEqual({
      value: 0,
      source: 'estimated',
      how: 'no archival run yet',
    });
    expect(measured.meanRecordBytes).toMatchObject({ value: 0, source: 'estimated' });
    expect(measured.oldestIssuedAt).toBeUndefined();
  });
});

describe('the cost report', () => {
  it('is the stores’ measurements priced', async () => {
    await archivedWorld();
    const now = world.clock.now();
    for (const store of [world.store, withoutTierBytes(world.store)]) {
      const stores = { store, archive: world.archive, control: world.control };
      expect(await buildCostReport(stores, SETTINGS, now)).toEqual(
        priceCostReport(await measureStores(stores, now), SETTINGS, now),
      );
    }
  });
});
