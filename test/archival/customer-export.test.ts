// A customer's export: both tiers merged in (issuedAt, id) order, each line the bytes a GET returns,
// nobody else's records, paging across tier boundaries, and records deleted meanwhile left out.
import { describe, expect, it } from 'vitest';
import { LruMemoryCache } from '../../src/adapters/lru/lru-memory-cache.ts';
import { recordResponse } from '../../src/api/record-routes.ts';
import { wireServices } from '../../src/composition/wire-services.ts';
import { serializeRecord } from '../../src/domain/billing-record.ts';
import { exportCustomer, type ExportLine } from '../../src/records/customer-export.ts';
import { createArchivalWorld, policyOf, silentLogger } from '../support/archival-harness.ts';
import { archiveAsSchemaV1, makeInput, makeRecord } from '../support/record-fixtures.ts';

const DAY = 24 * 3600_000;

/** The export's lines as text, one a record. */
async function collect(lines: AsyncIterable<ExportLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(Buffer.concat(line).toString('utf8'));
  return out;
}

describe('customer export', () => {
  it('merges hot and archived records in issuedAt then id order, as a GET returns each', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const services = world.services();
    const { records } = services;
    // Old ones get archived, recent ones stay hot; two share an issuedAt (id breaks the tie).
    const issued = [
      ['a-old', '2025-01-05T00:00:00.000Z'],
      ['c-old', '2025-02-01T00:00:00.000Z'],
      ['b-old', '2025-02-01T00:00:00.000Z'],
      ['d-old', '2025-03-01T00:00:00.000Z'],
      ['e-new', '2026-01-10T00:00:00.000Z'],
      ['f-new', '2026-01-12T00:00:00.000Z'],
    ] as const;
    for (const [id, issuedAt] of issued) await records.create('cust-exp', makeInput({ id, issuedAt }));
    await records.create('cust-other', makeInput({ id: 'x', issuedAt: '2025-02-01T00:00:00.000Z' }));
    world.clock.advance(2 * DAY);
    expect((await services.archival.run()).counts.purged).toBe(5);
    // One archived record is written again (hot, version 2): the export has its newest content.
    await records.patch({ customerId: 'cust-exp', id: 'c-old' }, { status: 'paid' }, {});
    expect((await world.store.countByTier()).archived).toBe(4);

    const lines = await collect(
      exportCustomer({ store: world.store, get: (key) => records.get(key), pageSize: 2 }, 'cust-exp'),
    );
    const expected = [];
    for (const id of ['a-old', 'b-old', 'c-old', 'd-old', 'e-new', 'f-new'])
      expected.push(`${serializeRecord((await records.get({ customerId: 'cust-exp', id })).record)}\n`);
    expect(lines).toEqual(expected);
    expect(lines[2]).toContain('"status":"paid"');
    expect(await collect(services.exportCustomer('cust-none'))).toEqual([]);
    await world.close();
  });

  it('writes each line as the bytes a GET answers: hot, archived, and archived under an older schema', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const services = world.services();
    const { records } = services;
    const customerId = 'cust-bytes';
    await records.create(customerId, makeInput({ id: 'a-archived', issuedAt: '2025-01-05T00:00:00.000Z' }));
    await records.create(customerId, makeInput({ id: 'c-hot', issuedAt: '2026-01-10T00:00:00.000Z' }));
    world.clock.advance(2 * DAY);
    expect((await services.archival.run()).counts.purged).toBe(1);
    // Archived by the first release (schema v1): its blob's bytes are not what a GET serves, the upcast record is.
    const old = makeRecord({ id: 'b-schema-v1', customerId, issuedAt: '2025-02-01T00:00:00.000Z' });
    await world.store.create(await archiveAsSchemaV1(world.archive, old));

    const lines = await collect(services.exportCustomer(customerId));
    const answers = [];
    for (const id of ['a-archived', 'b-schema-v1', 'c-hot']) {
      const read = await records.get({ customerId, id });
      answers.push({ tier: read.tier, line: `${recordResponse(200, read.record).body as string}\n` });
    }
    expect(answers.map((answer) => answer.tier)).toEqual(['archive', 'archive', 'hot']);
    expect(lines).toEqual(answers.map((answer) => answer.line));
    expect(lines[1]).toBe(`${serializeRecord(old)}\n`);
    await world.close();
  });

  it('leaves out a record deleted while the export runs', async () => {
    const world = createArchivalWorld();
    const { records } = world.services();
    for (const id of ['r1', 'r2', 'r3'])
      await records.create('cust-exp2', makeInput({ id, issuedAt: `2026-01-0${id.slice(1)}T00:00:00.000Z` }));
    const lines: string[] = [];
    for await (const line of exportCustomer(
      { store: world.store, get: (key) => records.get(key), pageSize: 10 },
      'cust-exp2',
    )) {
      lines.push(Buffer.concat(line).toString('utf8'));
      if (lines.length === 1) await records.delete({ customerId: 'cust-exp2', id: 'r2' }, {});
    }
    expect(lines.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['r1', 'r3']);
    await world.close();
  });

  it('reads each archived record once, filling no cache and rehydrating nothing (bulk reads)', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    for (const id of ['r1', 'r2', 'r3'])
      await world
        .services()
        .records.create('cust-bulk', makeInput({ id, issuedAt: `2025-01-0${id.slice(1)}T00:00:00.000Z` }));
    world.clock.advance(2 * DAY);
    expect((await world.services().archival.run()).counts.purged).toBe(3);
    // Every layer an archived read can fill, and rehydration after a single read.
    const cache = new LruMemoryCache({ maxBytes: 16 * 1024 * 1024 });
    const services = wireServices(
      { ...world.stores(), cache },
      {
        clock: world.clock,
        log: silentLogger,
        policy: world.policy,
        decodedCacheBytes: 1024 * 1024,
        readSpikes: { threshold: 1, windowMs: DAY },
      },
    );
    expect(await collect(services.exportCustomer('cust-bulk'))).toHaveLength(3);
    await services.records.whenIdle();
    expect(await world.store.countByTier()).toMatchObject({ hot: 0, archived: 3 });
    // Nothing was kept: the next read goes to the archive.
    const read = await services.records.get({ customerId: 'cust-bulk', id: 'r1' });
    expect(read.tier).toBe('archive');
    await services.shutdown();
    await world.close();
  });
});
