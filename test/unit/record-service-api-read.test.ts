import { describe, expect, it } from 'vitest';
import { serializeRecord } from '../../src/domain/billing-record.ts';
import { ReadSpikeDetector } from '../../src/records/read-spike-detector.ts';
import { RecordService } from '../../src/records/record-service.ts';
import { createArchivalWorld, policyOf } from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

describe('RecordService.getForApi: the read a GET answers', () => {
  it('answers a hot record as the JSON its store keeps, an archived one as the record: the same bytes, and archived reads still count toward rehydration', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const records = new RecordService({
      store: world.store,
      clock: world.clock,
      archive: world.reader(),
      readSpikes: { detector: new ReadSpikeDetector({ threshold: 2, windowMs: 3_600_000 }, world.clock) },
    });
    const record = await records.create(
      'cust-api',
      makeInput({ id: 'r1', issuedAt: '2025-01-01T00:00:00.000Z' }),
    );
    const bytes = serializeRecord(record);

    const hot = await records.getForApi(record);
    expect(hot.json, 'the SQLite store keeps the API JSON').toBeInstanceOf(Uint8Array);
    expect(Buffer.from(hot.json!).toString('utf8')).toBe(bytes);
    expect(hot).toMatchObject({ tier: 'hot', version: 1 });

    world.clock.advance(2 * 24 * 3600_000);
    await world.engine().run();
    const archived = await records.getForApi(record);
    expect(archived.json).toBeUndefined();
    expect(archived.tier).toBe('archive');
    expect(serializeRecord(archived.record!)).toBe(bytes);

    // The second archived read crosses the threshold: the record is brought back, and read as JSON again.
    await records.getForApi(record);
    await records.whenIdle();
    expect((await world.store.get(record))?.document.tier).toBe('hot');
    const back = await records.getForApi(record);
    expect(Buffer.from(back.json!).toString('utf8')).toBe(bytes);
    await world.close();
  });
});
