// /readyz shares one readiness answer for a few seconds: probes from many instances stay cheap.
import { describe, expect, it } from 'vitest';
import type { ReadinessReport } from '../../src/api/route-definition.ts';
import { cachedReadiness, READINESS_CACHE_MS } from '../../src/composition/readiness.ts';
import { ManualClock } from '../fakes/manual-clock.ts';

const READY: ReadinessReport = { ready: true, checks: { hotStore: 'up', archive: 'up', cache: 'absent' } };

describe('cachedReadiness', () => {
  it('checks the stores at most once per window, and again once it has passed', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    let checks = 0;
    const readiness = cachedReadiness(() => (checks++, Promise.resolve(READY)), clock);
    await Promise.all([readiness(), readiness(), readiness()]);
    clock.advance(READINESS_CACHE_MS - 1);
    expect(await readiness()).toEqual(READY);
    expect(checks).toBe(1);
    clock.advance(1);
    await readiness();
    expect(checks).toBe(2);
  });

  it('does not keep a check that failed', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    let checks = 0;
    const readiness = cachedReadiness(
      () => (++checks === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(READY)),
      clock,
    );
    await expect(readiness()).rejects.toThrow('boom');
    expect(await readiness()).toEqual(READY);
    expect(checks).toBe(2);
  });
});
