// The tier totals kept as work happens (src/costs/tier-counters.ts): every transition (create, change,
// delete, copy, purge, rehydrate, collect) keeps them equal to a full recount, and once they are set,
// status and the cost report read a few control documents: no scan of the records, no count query,
// no listing of the archive. Real adapters (SQLite :memory:, the in-memory archive and control store).
import { afterEach, describe, expect, it } from 'vitest';
import { archivalStatus } from '../../src/archival/archival-status.ts';
import { measureStores } from '../../src/costs/measure-stores.ts';
import { recountTiers } from '../../src/costs/tier-recount.ts';
import { TierCounters } from '../../src/costs/tier-counters.ts';
import { wireServices } from '../../src/composition/wire-services.ts';
import { parseIsoDuration } from '../../src/domain/iso-duration.ts';
import { emptyTierTotals } from '../../src/domain/tier-totals.ts';
import {
  type ArchivalWorld,
  createArchivalWorld,
  policyOf,
  silentLogger,
} from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const DAY = 86_400_000;
let world: ArchivalWorld;

afterEach(async () => {
  await world.close();
});

/** Every call a port receives, by `port.method`. */
function counted<T extends object>(port: T, name: string, calls: Map<string, unknown[][]>): T {
  return new Proxy(port, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const key = `${name}.${String(property)}`;
        calls.set(key, [...(calls.get(key) ?? []), args]);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function seed(count: number, monthsAgo: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const issuedAt = new Date(world.clock.now().getTime() - monthsAgo * 31 * DAY - i * 3600_000);
    await world
      .records()
      .create('cust-t', makeInput({ id: `${prefix}-${i}`, issuedAt: issuedAt.toISOString() }));
  }
}

describe('the tier counters', () => {
  it('follow every transition and equal a full recount afterwards', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const services = world.services();
    // A baseline on the empty stores, then everything through the services.
    expect((await services.tierRecount.run()).status).toBe('succeeded');
    await seed(6, 6, 'old');
    await seed(3, 1, 'new');
    const records = world.records();
    const key = (id: string) => ({ customerId: 'cust-t', id });
    await records.patch(key('new-0'), { status: 'paid' }, {});
    await records.delete(key('new-1'), {});
    world.clock.advance(2 * DAY);
    const run = await world.engine().run({ asOf: world.clock.now().toISOString() });
    expect(run.counts).toMatchObject({ copied: 6, purged: 6 });
    // A later run passes the purge's position over them (due the instant it read them): history now.
    world.clock.advance(60_000);
    await world.engine().run();
    await records.rehydrate(key('old-0')); // archived → hot, its blob now unreferenced
    await records.patch(key('old-1'), { status: 'void' }, {}); // a write rehydrates it
    await records.delete(key('old-2'), {}); // an archived record deleted
    await records.pin(key('new-2'));
    world.clock.advance(2 * DAY);
    const collected = await world.engine().collect({ safetyWindowMs: 0 });
    expect(collected.deleted).toBe(3);

    await services.tierCounters.flush();
    const kept = await services.tierCounters.read();
    const fresh = new TierCounters(world.control); // another process's view: only what is stored
    const recounted = await recountTiers({ ...world, counters: fresh });
    expect(recounted.estimated).toEqual([]);
    expect(kept?.totals).toEqual(recounted.totals);
    expect(recounted.totals).toMatchObject({ hotRecords: 4, archivedRecords: 3, blobs: 3 });
  });

  it('lose what retention and erasure remove, documents and blobs, and equal a full recount afterwards', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const services = wireServices(world.stores(), {
      clock: world.clock,
      log: silentLogger,
      policy: world.policy,
      archival: { batchSize: 4 },
      retentionPeriod: parseIsoDuration('P1Y'),
    });
    try {
      expect((await services.tierRecount.run()).status).toBe('succeeded');
      await seed(4, 18, 'expired'); // past the year: retention takes them, archived or hot
      await seed(3, 6, 'old');
      await seed(2, 1, 'new');
      await services.records.create(
        'cust-gone',
        makeInput({ id: 'g-1', issuedAt: '2025-07-01T00:00:00.000Z' }),
      );
      await services.records.create(
        'cust-gone',
        makeInput({ id: 'g-2', issuedAt: '2025-12-20T00:00:00.000Z' }),
      );
      world.clock.advance(2 * DAY);
      const run = await services.archival.run({ asOf: world.clock.now().toISOString() });
      expect(run.counts.purged).toBeGreaterThan(0);
      // One expired record rewritten after archival: a superseded blob of it stays until the collector.
      await services.records.patch({ customerId: 'cust-t', id: 'expired-0' }, { status: 'void' }, {});
      const system = { actor: { sub: 'test', roles: ['system'] } };
      const retention = await services.retention.run({ asOf: world.clock.now().toISOString() }, system);
      expect(retention.counts).toMatchObject({ deleted: 4 });
      const erasure = await services.erasure.run({ customerId: 'cust-gone' }, system);
      expect(erasure.status).toBe('succeeded');

      await services.tierCounters.flush();
      const kept = await services.tierCounters.read();
      const recounted = await recountTiers({ ...world, counters: new TierCounters(world.control) });
      expect(kept?.totals).toEqual(recounted.totals);
      expect(recounted.totals).toMatchObject({ hotRecords: 2, archivedRecords: 3, blobs: 3 });
    } finally {
      await services.shutdown();
    }
  });

  it('add up the changes of several writers without losing one', async () => {
    world = createArchivalWorld();
    const writers = [new TierCounters(world.control), new TierCounters(world.control)];
    await writers[0]!.setBaseline(emptyTierTotals(), world.clock.now(), []);
    for (let i = 0; i < 50; i++) for (const writer of writers) writer.add({ hotRecords: 1, hotBytes: 10 });
    await Promise.all(writers.map((writer) => writer.flush()));
    expect((await writers[1]!.read())?.totals).toMatchObject({ hotRecords: 100, hotBytes: 1000 });
  });
});

describe('status and the cost report once the counters are set', () => {
  it('scan no record, count nothing, list no blob', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(5, 6, 'old');
    await seed(2, 1, 'new');
    const services = world.services();
    await services.tierRecount.run();
    world.clock.advance(2 * DAY);
    await world.engine().run({ asOf: world.clock.now().toISOString() });
    // The purge's position passes copies due before it read them: a later run makes them history.
    world.clock.advance(60_000);
    await world.engine().run();
    await seed(1, 0, 'today');
    await services.tierCounters.flush();

    const calls = new Map<string, unknown[][]>();
    const store = counted(world.store, 'store', calls);
    const ledger = counted(world.ledger, 'ledger', calls);
    const archive = counted(world.archive, 'archive', calls);
    const control = counted(world.control, 'control', calls);
    const counters = new TierCounters(control);
    const status = await archivalStatus(
      { store, ledger, control, tierCounters: counters },
      world.clock.now(),
    );
    expect(status.counts).toMatchObject({ hot: 3, archived: 5, copied: 0 });
    const measured = await measureStores({ store, archive, control, counters }, world.clock.now());
    expect(measured.hotRecords.value).toBe(3);
    expect(measured.archivedRecords.value).toBe(5);

    expect(calls.get('store.countByTier')).toBeUndefined();
    expect(calls.get('store.get')).toBeUndefined();
    expect(calls.get('archive.list')).toBeUndefined();
    expect(calls.get('archive.get')).toBeUndefined();
    // The oldest record of each tier: two one-item index reads.
    expect(calls.get('store.scan')?.map(([request]) => (request as { limit: number }).limit)).toEqual([1, 1]);
    // The counters (a baseline and 8 shards, each twice) and the last 20 run reports: small documents.
    expect((calls.get('control.read') ?? []).length).toBeLessThanOrEqual(18 + 21);
  });

  it('start at zero on an empty store (the demo loads into one), and only there', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const services = world.services();
    expect(await services.tierCounters.read()).toBeUndefined();
    expect(await services.tierRecount.baselineIfEmpty()).toBe(true);
    await seed(4, 6, 'loaded');
    await services.tierCounters.flush();
    // Kept exact from the first write: equal to what a full recount measures.
    const kept = (await new TierCounters(world.control).read())!.totals;
    const recounted = await recountTiers({ ...world, counters: new TierCounters(world.control) });
    expect(kept).toEqual(recounted.totals);
    expect(kept.hotRecords).toBe(4);
    // Set once: a second call, or one on a store that holds records, changes nothing.
    expect(await services.tierRecount.baselineIfEmpty()).toBe(false);

    await world.close();
    world = createArchivalWorld();
    await seed(1, 6, 'there');
    expect(await world.services().tierRecount.baselineIfEmpty()).toBe(false);
    expect(await world.services().tierCounters.read()).toBeUndefined();
  });

  it('recount once, then never again, when no baseline was ever set', async () => {
    world = createArchivalWorld();
    await seed(3, 6, 'old');
    const calls = new Map<string, unknown[][]>();
    const stores = {
      store: counted(world.store, 'store', calls),
      archive: counted(world.archive, 'archive', calls),
      control: world.control,
      counters: new TierCounters(world.control),
    };
    await measureStores(stores, world.clock.now());
    expect(calls.get('store.countByTier')).toHaveLength(1);
    expect(calls.get('archive.list')).toHaveLength(1);
    calls.clear();
    expect((await measureStores(stores, world.clock.now())).hotRecords.value).toBe(3);
    expect(calls.get('store.countByTier')).toBeUndefined();
    expect(calls.get('archive.list')).toBeUndefined();
  });
});
