// Records read often after archival come back hot: counted per record in a sliding window, reported
// once, and rehydrated in the background by the data-access layer.
import { describe, expect, it } from 'vitest';
import { ReadSpikeDetector } from '../../src/records/read-spike-detector.ts';
import { RecordService } from '../../src/records/record-service.ts';
import { createArchivalWorld, policyOf } from '../support/archival-harness.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { makeInput } from '../support/record-fixtures.ts';

const key = { customerId: 'c', id: 'r' };

describe('ReadSpikeDetector', () => {
  it('reports a record once when its reads within the window reach the threshold', () => {
    const clock = new ManualClock();
    const detector = new ReadSpikeDetector({ threshold: 3, windowMs: 60_000 }, clock);
    expect(detector.recordRead(key)).toBe(false);
    expect(detector.recordRead(key)).toBe(false);
    expect(detector.recordRead(key)).toBe(true);
    expect(detector.recordRead(key)).toBe(false); // already reported
    detector.forget(key);
    expect(detector.recordRead(key)).toBe(false);
  });

  it('forgets reads older than the window', () => {
    const clock = new ManualClock();
    const detector = new ReadSpikeDetector({ threshold: 3, windowMs: 60_000 }, clock);
    detector.recordRead(key);
    detector.recordRead(key);
    clock.advance(61_000);
    expect(detector.recordRead(key)).toBe(false);
    expect(detector.recordRead(key)).toBe(false);
    expect(detector.recordRead(key)).toBe(true);
  });

  it('is off at threshold 0, and bounds the records it tracks', () => {
    const clock = new ManualClock();
    expect(new ReadSpikeDetector({ threshold: 0, windowMs: 1 }, clock).recordRead(key)).toBe(false);
    const bounded = new ReadSpikeDetector({ threshold: 2, windowMs: 60_000, maxTracked: 2 }, clock);
    bounded.recordRead({ customerId: 'c', id: 'a' });
    bounded.recordRead({ customerId: 'c', id: 'b' });
    bounded.recordRead({ customerId: 'c', id: 'c' }); // evicts a
    expect(bounded.recordRead({ customerId: 'c', id: 'a' })).toBe(false);
  });
});

describe('rehydration on read spikes', () => {
  it('brings a record read past the threshold back hot in the background, same bytes and ETag', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const records = new RecordService({
      store: world.store,
      clock: world.clock,
      archive: world.reader(),
      readSpikes: {
        detector: new ReadSpikeDetector({ threshold: 5, windowMs: 3_600_000 }, world.clock),
      },
    });
    const record = await records.create(
      'cust-spike',
      makeInput({ id: 'hot-1', issuedAt: '2025-01-01T00:00:00.000Z' }),
    );
    world.clock.advance(2 * 24 * 3600_000);
    await world.engine().run();
    for (let i = 0; i < 4; i++) expect((await records.get(record)).tier).toBe('archive');
    await records.whenIdle();
    expect((await world.store.get(record))?.document.tier).toBe('archived');
    expect((await records.get(record)).tier).toBe('archive'); // the fifth read crosses the threshold
    await records.whenIdle();
    const read = await records.get(record);
    expect(read.tier).toBe('hot');
    expect(read.record).toEqual(record);
    // It stays hot for the cool-down, counted from the rehydration.
    expect((await world.engine().run()).skippedReasons['cooling-down']).toBe(1);
    await world.close();
  });
});
