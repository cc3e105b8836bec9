// Issue 4 on the embedded hot store (SQLite) through the real composition: the scenario of reads, writes
// and lists across tiers, then read spikes (one Blob read for a burst, rehydration after repeated reads)
// and the metric of archived reads by source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRecords,
  type Deployment,
  describeTieredRecordsScenario,
  header,
  openDeployment,
  recordUrl,
  type Snapshot,
  snapshotOf,
  sqliteHotStore,
  storedTier,
} from './tiered-records.scenario.ts';

describeTieredRecordsScenario('SQLite', sqliteHotStore);

const OLD = '2024-02-20T10:00:00.000Z';

describe('SQLite: a burst of reads of one archived record', () => {
  const customerId = 'cust-burst';
  const key = { customerId, id: 'inv-burst' };
  let deployment: Deployment | undefined;
  let hot: Snapshot | undefined;

  beforeAll(async () => {
    // Spike rehydration off: a rehydration racing the burst would drop the cache entry under it.
    deployment = await openDeployment({ env: { REHYDRATE_AFTER_READS: '0' } });
    hot = (await createRecords(deployment, customerId, [{ id: key.id, issuedAt: OLD, lines: 40 }])).get(
      key.id,
    );
    await deployment.archive();
  });
  afterAll(() => deployment?.close());

  it('answers 1000 concurrent GETs of an uncached archived record with one Blob read', async () => {
    const d = deployment!;
    expect(await storedTier(d, key)).toBe('archived');
    const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
    const answers = await Promise.all(Array.from({ length: 1000 }, () => d.call('GET', recordUrl(key))));
    expect(answers.map((answer) => answer.statusCode).filter((status) => status !== 200)).toEqual([]);
    expect(new Set(answers.map((answer) => JSON.stringify(snapshotOf(answer))))).toEqual(
      new Set([JSON.stringify(hot)]),
    );
    // Callers that joined the one read in flight say archive; any later one was served by the cache.
    const tiers = answers.map((answer) => header(answer, 'x-storage-tier'));
    expect(tiers.filter((tier) => tier !== 'archive' && tier !== 'cache')).toEqual([]);
    expect(tiers).toContain('archive');
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads + 1);
    await d.services.records.whenIdle();
    expect(await storedTier(d, key)).toBe('archived');
  });
});

describe('SQLite: records read often after archival come back hot', () => {
  const customerId = 'cust-spike';
  let deployment: Deployment | undefined;
  let hot: Map<string, Snapshot>;

  beforeAll(async () => {
    deployment = await openDeployment({ env: { REHYDRATE_AFTER_READS: '5' } });
    hot = await createRecords(deployment, customerId, [
      { id: 'inv-often', issuedAt: OLD },
      { id: 'inv-seldom', issuedAt: OLD },
    ]);
    await deployment.archive();
  });
  afterAll(() => deployment?.close());

  it('rehydrates a record after 5 archived reads, in the background, with the same bytes and ETag', async () => {
    const d = deployment!;
    const often = { customerId, id: 'inv-often' };
    const tiers: Array<string | undefined> = [];
    for (let read = 1; read <= 5; read++) {
      const answer = await d.call('GET', recordUrl(often));
      expect(answer.statusCode).toBe(200);
      expect(snapshotOf(answer)).toEqual(hot.get('inv-often'));
      tiers.push(header(answer, 'x-storage-tier'));
    }
    expect(tiers).toEqual(['archive', 'cache', 'cache', 'cache', 'cache']);
    await d.services.records.whenIdle();
    expect(await storedTier(d, often)).toBe('hot');
    expect(await d.counter('spike_rehydrations_total', { outcome: 'rehydrated' })).toBe(1);
    expect(await d.counter('spike_rehydrations_total', { outcome: 'failed' })).toBe(0);
    const after = await d.call('GET', recordUrl(often));
    expect(header(after, 'x-storage-tier')).toBe('hot');
    expect(snapshotOf(after)).toEqual(hot.get('inv-often'));
  });

  it('leaves a record read fewer times than the threshold archived', async () => {
    const d = deployment!;
    const seldom = { customerId, id: 'inv-seldom' };
    for (let read = 1; read <= 4; read++) {
      const answer = await d.call('GET', recordUrl(seldom));
      expect(snapshotOf(answer)).toEqual(hot.get('inv-seldom'));
    }
    await d.services.records.whenIdle();
    expect(await storedTier(d, seldom)).toBe('archived');
    expect(await d.counter('spike_rehydrations_total', { outcome: 'rehydrated' })).toBe(1);
  });
});

describe('SQLite: the metric of archived reads', () => {
  const key = { customerId: 'cust-metrics', id: 'inv-counted' };
  let deployment: Deployment | undefined;

  beforeAll(async () => {
    deployment = await openDeployment();
    await createRecords(deployment, key.customerId, [{ id: key.id, issuedAt: OLD }]);
    await deployment.archive();
  });
  afterAll(() => deployment?.close());

  // Product bug: open-services.ts only increments source="archive" (from onBlobRead); the reader has no
  // event for a cache hit, so the documented "archived_reads_total by source" never shows cache hits.
  it('counts archived reads served by the cache as archived_reads_total{source="cache"}', async () => {
    const d = deployment!;
    const tiers: Array<string | undefined> = [];
    for (let read = 1; read <= 3; read++)
      tiers.push(header(await d.call('GET', recordUrl(key)), 'x-storage-tier'));
    expect(tiers).toEqual(['archive', 'cache', 'cache']);
    expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(1);
    expect(await d.counter('archived_reads_total', { source: 'cache' })).toBe(2);
  });
});
