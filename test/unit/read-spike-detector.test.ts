// Records read often after archival come back hot: counted per record in a sliding window (or in the
// cache every instance shares), reported once, and rehydrated in the background by the data-access layer.
import { describe, expect, it } from 'vitest';
import { LruMemoryCache } from '../../src/adapters/lru/lru-memory-cache.ts';
import { ReadSpikeDetector } from '../../src/records/read-spike-detector.ts';
import { RecordService } from '../../src/records/record-service.ts';
import { createArchivalWorld, policyOf } from '../support/archival-harness.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { makeInput } from '../support/record-fixtures.ts';

const key = { customerId: 'c', id: 'r' };

describe('ReadSpikeDetector', () => {
  it('reports a record once when its reads within the window reach the threshold', async () => {
    const clock = new ManualClock();
    const detector = new ReadSpikeDetector({ threshold: 3, windowMs: 60_000 }, clock);
    expect(await detector.recordRead(key)).toBe(false);
    expect(await detector.recordRead(key)).toBe(false);
    expect(await detector.recordRead(key)).toBe(true);
    expect(await detector.recordRead(key)).toBe(false); // already reported
    detector.forget(key);
    expect(await detector.recordRead(key)).toBe(false);
  });

  it('forgets reads older than the window', async () => {
    const clock = new ManualClock();
    const detector = new ReadSpikeDetector({ threshold: 3, windowMs: 60_000 }, clock);
    await detector.recordRead(key);
    await detector.recordRead(key);
    clock.advance(61_000);
    expect(await detector.recordRead(key)).toBe(false);
    expect(await detector.recordRead(key)).toBe(false);
    expect(await detector.recordRead(key)).toBe(true);
  });

  it('is off at threshold 0, and bounds the records it tracks', async () => {
    const clock = new ManualClock();
    expect(await new ReadSpikeDetector({ threshold: 0, windowMs: 1 }, clock).recordRead(key)).toBe(false);
    const bounded = new ReadSpikeDetector({ threshold: 2, windowMs: 60_000, maxTracked: 2 }, clock);
    await bounded.recordRead({ customerId: 'c', id: 'a' });
    await bounded.recordRead({ customerId: 'c', id: 'b' });
    await bounded.recordRead({ customerId: 'c', id: 'c' }); // evicts a
    expect(await bounded.recordRead({ customerId: 'c', id: 'a' })).toBe(false);
  });
});

/** A cache whose counters fail (as a Redis that is down), or throw though the port says they never do. */
class FailingCounters extends LruMemoryCache {
  mode: 'up' | 'down' | 'throwing' = 'down';
  override increment(key: string, ttlMs: number): Promise<number | undefined> {
    if (this.mode === 'throwing') return Promise.reject(new Error('a cache that breaks its port'));
    return this.mode === 'down' ? Promise.resolve(undefined) : super.increment(key, ttlMs);
  }
}

describe('ReadSpikeDetector counting in a shared cache', () => {
  const policy = { threshold: 4, windowMs: 60_000 };
  const instances = (
    count: number,
    clock = new ManualClock(),
  ): { clock: ManualClock; cache: LruMemoryCache; detectors: ReadSpikeDetector[] } => {
    const cache = new LruMemoryCache({ maxBytes: 1024 * 1024 });
    const detectors = Array.from({ length: count }, () => new ReadSpikeDetector(policy, clock, cache));
    return { clock, cache, detectors };
  };

  it('reaches the threshold with reads spread over instances, and exactly one instance reports it', async () => {
    const { detectors } = instances(3);
    const answers: boolean[] = [];
    // Alone, no instance sees more than two of the reads.
    for (let read = 0; read < 6; read++) answers.push(await detectors[read % 3]!.recordRead(key));
    expect(answers).toEqual([false, false, false, true, false, false]);
  });

  it('reports a record at most once per window across instances, however the reads interleave', async () => {
    const { detectors } = instances(2);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, read) => detectors[read % 2]!.recordRead(key)),
    );
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('starts a new count with each window: a record reported once may be reported again in the next', async () => {
    const { clock, detectors } = instances(2);
    const [a, b] = detectors as [ReadSpikeDetector, ReadSpikeDetector];
    // The manual clock starts on a minute: these three reads and the next three fall in two windows.
    for (let read = 0; read < 3; read++) expect(await a.recordRead(key)).toBe(false);
    clock.advance(60_000);
    for (let read = 0; read < 3; read++) expect(await b.recordRead(key)).toBe(false);
    expect(await b.recordRead(key)).toBe(true);
    a.forget(key);
    b.forget(key); // rehydrated, then archived again and read often
    clock.advance(60_000);
    for (let read = 0; read < 3; read++) expect(await a.recordRead(key)).toBe(false);
    expect(await b.recordRead(key)).toBe(true);
  });

  it('counts each record apart, even when the ids would run together', async () => {
    const { detectors } = instances(1);
    const detector = detectors[0]!;
    const one = { customerId: 'c:1', id: 'r' };
    const other = { customerId: 'c', id: '1:r' };
    for (let read = 0; read < 3; read++) {
      expect(await detector.recordRead(one)).toBe(false);
      expect(await detector.recordRead(other)).toBe(false);
    }
    expect(await detector.recordRead(one)).toBe(true);
    expect(await detector.recordRead(other)).toBe(true);
  });

  it("falls back to the instance's own count while the cache fails, and never fails a read", async () => {
    const clock = new ManualClock();
    const cache = new FailingCounters({ maxBytes: 1024 * 1024 });
    const detector = new ReadSpikeDetector(policy, clock, cache);
    for (let read = 0; read < 3; read++) expect(await detector.recordRead(key)).toBe(false);
    cache.mode = 'throwing';
    expect(await detector.recordRead(key)).toBe(true);
    expect(await detector.recordRead(key)).toBe(false); // already reported

    // Back up, the shared count decides again: three reads elsewhere and one here make four.
    cache.mode = 'up';
    const other = { customerId: 'c', id: 'other' };
    const elsewhere = new ReadSpikeDetector(policy, clock, cache);
    for (let read = 0; read < 3; read++) expect(await elsewhere.recordRead(other)).toBe(false);
    expect(await detector.recordRead(other)).toBe(true);
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
