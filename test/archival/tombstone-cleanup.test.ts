// Tombstones are cleaned by the collector: one goes once it is older than the collector's window plus
// the margin and its record's folder holds no blob written at or before it; while such a blob remains
// (here: the copy of an archiver's run that the deletion overtook, still referenced by its ledger entry)
// it stays, and a rebuild keeps the record deleted. Each removal is audited; a dry run removes nothing.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOMBSTONE_MARGIN_MS } from '../../src/archival/blob-collector.ts';
import { TOMBSTONE_PREFIX, tombstonePath } from '../../src/domain/tombstone.ts';
import { createArchivalWorld, policyOf } from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const DAY = 24 * 3600_000;
const BY = { actor: { sub: 'tombstone-test', roles: [] } };

describe('tombstone cleanup by the collector', () => {
  it('removes a tombstone once no blob it hides is left, keeps it while one is, and audits each removal', async () => {
    // A grace period: the copy is written (blob and ledger entry) and the document stays full meanwhile.
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P7D') });
    const services = world.services();
    const key = { customerId: 'cust-t', id: 'gone' };
    await services.records.create(
      key.customerId,
      makeInput({ id: key.id, issuedAt: '2025-01-10T00:00:00.000Z' }),
    );
    world.clock.advance(2 * DAY);
    expect((await services.archival.run()).counts).toMatchObject({ copied: 1, purged: 0 });
    const copies = (await world.archivePaths()).filter((path) => path.includes('/gone/'));
    expect(copies).toHaveLength(1);
    // Deleted during the grace period: the copy stays referenced by the ledger entry until the purge step.
    await services.records.delete(key, {});
    expect(await world.archive.getProperties(tombstonePath(key))).toBeDefined();
    // A tombstone written before tombstones named their folder: never removed by the collector.
    await world.archive.putIfAbsent({
      path: tombstonePath({ customerId: 'cust-t', id: 'legacy' }),
      body: Buffer.from('{}'),
      contentType: 'application/json',
      metadata: { customerid: 'cust-t', recordid: 'legacy' },
      accessTier: 'Cool',
    });

    // Too recent: the collector's window has passed, not the margin.
    world.clock.advance(2 * DAY);
    expect(await services.archival.collect()).toMatchObject({
      referenced: 1,
      tombstonesRemoved: 0,
      tombstonesKept: 2,
    });
    // Old enough, but the copy (written before the tombstone) is still there: the tombstone hides it.
    world.clock.advance(DEFAULT_TOMBSTONE_MARGIN_MS);
    expect(await services.archival.collect()).toMatchObject({ referenced: 1, tombstonesKept: 2 });
    const hidden = await services.rebuild.run({ dryRun: true }, BY);
    expect(hidden.counts).toMatchObject({ restored: 0, tombstoned: 1 });

    // The next run's purge finds no document and drops its entry; the copy is unreferenced now.
    await services.archival.run();
    expect(await world.ledger.get(key)).toBeUndefined();
    const dry = await services.archival.collect({ dryRun: true });
    expect(dry).toMatchObject({ deleted: 1, tombstonesKept: 2 });
    expect(await world.archive.getProperties(tombstonePath(key))).toBeDefined();
    // One pass: the copy goes (its month folder is listed first), then the tombstone that hid it.
    expect(await services.archival.collect()).toMatchObject({
      deleted: 1,
      tombstonesRemoved: 1,
      tombstonesKept: 1,
    });
    expect(await world.archive.getProperties(tombstonePath(key))).toBeUndefined();
    const left = (await world.archive.list(TOMBSTONE_PREFIX, { pageSize: 10 })).items.map(
      (item) => item.path,
    );
    expect(left).toEqual([tombstonePath({ customerId: 'cust-t', id: 'legacy' })]);
    const audit = await services.audit.query({ action: 'archive.gc', limit: 10 });
    expect(audit.items.map((event) => [event.customerId, event.recordId, event.actor.sub])).toEqual([
      ['cust-t', 'gone', 'system:collector'],
    ]);
    expect(audit.items[0]!.reason).toMatch(
      /^tombstone of cust-t\/gone \(written .*\) removed: no blob it hides is left$/,
    );

    // Nothing for a rebuild to bring back, and nothing brought back.
    const rebuilt = await services.rebuild.run({}, BY);
    expect(rebuilt.counts).toMatchObject({ restored: 0, records: 0 });
    await expect(services.records.get(key)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await world.close();
  });

  it('keeps a tombstone refreshed by a later deletion of the same id while its pass ran', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const services = world.services();
    const key = { customerId: 'cust-r', id: 'again' };
    await services.records.create(
      key.customerId,
      makeInput({ id: key.id, issuedAt: '2025-01-10T00:00:00.000Z' }),
    );
    await services.records.delete(key, {});
    world.clock.advance(2 * DAY + DEFAULT_TOMBSTONE_MARGIN_MS);
    // The same id is created and deleted again between the collector's listing and its delete: the
    // tombstone's etag changes, so the conditional delete leaves the newer tombstone in place.
    const original = world.archive.list.bind(world.archive);
    let refreshed = false;
    world.archive.list = async (prefix, page, options) => {
      const listed = await original(prefix, page, options);
      if (!refreshed && listed.items.some((item) => item.path === tombstonePath(key))) {
        refreshed = true;
        await services.records.create(
          key.customerId,
          makeInput({ id: key.id, issuedAt: '2025-01-10T00:00:00.000Z' }),
        );
        await services.records.delete(key, {});
      }
      return listed;
    };
    expect(await services.archival.collect()).toMatchObject({ tombstonesRemoved: 0, tombstonesKept: 1 });
    expect(refreshed).toBe(true);
    expect(await world.archive.getProperties(tombstonePath(key))).toBeDefined();
    await world.close();
  });
});
