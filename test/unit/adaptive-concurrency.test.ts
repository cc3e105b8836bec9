// The archiver's back-pressure on the manual clock: AIMD concurrency (429 with retry-after, latency
// growth, live API latency, the RU budget), the live-latency signal, the default budget, and the store
// wrapper that feeds them. No timed assertion: time moves only when a test moves it.
import { describe, expect, it } from 'vitest';
import {
  AdaptiveConcurrency,
  type AdaptiveConcurrencyOptions,
  DEFAULT_ADAPTIVE_CONCURRENCY,
} from '../../src/archival/adaptive-concurrency.ts';
import {
  archivalBudget,
  FALLBACK_REQUEST_UNITS_PER_SECOND,
  SERVERLESS_REQUEST_UNITS_PER_SECOND,
} from '../../src/archival/archival-budget.ts';
import { MAX_THROTTLED_SENDS, observeCongestion } from '../../src/archival/congestion-observer.ts';
import { LiveLatency } from '../../src/archival/live-latency.ts';
import { RequestBudget } from '../../src/archival/request-budget.ts';
import { AppError } from '../../src/domain/errors.ts';
import { ManualClock } from '../fakes/manual-clock.ts';

function controller(clock: ManualClock, options: Partial<AdaptiveConcurrencyOptions> = {}) {
  return new AdaptiveConcurrency({ ...DEFAULT_ADAPTIVE_CONCURRENCY, initial: 4, max: 16, ...options }, clock);
}

/** `n` calls answered in `ms`, each through acquire and release. */
async function answer(control: AdaptiveConcurrency, n: number, ms: number, kind = 'store.get') {
  for (let i = 0; i < n; i++) {
    await control.acquire();
    control.answered(ms, kind);
    control.release();
  }
}

describe('adaptive concurrency (AIMD)', () => {
  it('adds one call per window of answers without congestion, up to the maximum', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { max: 6 });
    await answer(control, 3, 10);
    expect(control.limit).toBe(4);
    await answer(control, 1, 10);
    expect(control.limit).toBe(5); // a window of 4 answers
    await answer(control, 5, 10);
    expect(control.limit).toBe(6);
    await answer(control, 100, 10);
    expect(control.limit).toBe(6);
  });

  it('halves on a 429 and holds every new call back for its retry-after', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 8 });
    control.throttled(2_000);
    expect(control.limit).toBe(4);
    let acquired = false;
    const waiting = control.acquire().then(() => (acquired = true));
    await clock.tick(1_999);
    expect(acquired).toBe(false);
    await clock.tick(1);
    await waiting;
    expect(acquired).toBe(true);
    expect(control.report()).toMatchObject({
      current: 4,
      lowest: 4,
      decreases: { throttled: 1 },
      pausedMs: 2_000,
    });
  });

  it('halves once for a burst of 429s from the calls already in flight, again after the spacing', () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 16, decreaseSpacingMs: 1_000 });
    for (let i = 0; i < 8; i++) control.throttled(100);
    expect(control.limit).toBe(8);
    clock.advance(1_000);
    control.throttled(100);
    expect(control.limit).toBe(4);
    for (let i = 0; i < 10; i++) {
      clock.advance(1_000);
      control.throttled(100);
    }
    expect(control.limit).toBe(1); // never below the minimum
  });

  it('halves when a kind of call grows slower than its fastest answer, judged per kind', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 8, latencyGrowthLimit: 3, latencyFloorMs: 5 });
    await answer(control, 8, 10, 'store.get');
    // Uploads are slower by nature: no congestion at a steady 40 ms.
    await answer(control, 20, 40, 'archive.putIfAbsent');
    const before = control.limit;
    expect(before).toBeGreaterThan(8);
    // Point reads go from 10 ms to 100 ms: the smoothed figure passes 3 x 10 ms within a few answers.
    await answer(control, 10, 100, 'store.get');
    expect(control.limit).toBe(Math.floor(before / 2));
    expect(control.report().decreases).toEqual({ latency: 1 });
  });

  it('halves while the live API is slower than usual, and grows again once it is not', async () => {
    const clock = new ManualClock();
    let live: number | undefined = 1.5;
    const control = controller(clock, { initial: 8, liveLatencyRatio: () => live });
    await answer(control, 1, 10);
    expect(control.limit).toBe(4);
    clock.advance(1_000);
    await answer(control, 1, 10);
    expect(control.limit).toBe(2);
    live = 1.05;
    await answer(control, 2, 10);
    expect(control.limit).toBe(3);
    expect(control.report().decreases).toEqual({ 'live-latency': 2 });
  });

  it('does not grow in a window where the request-unit budget made calls wait', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 4 });
    control.budgetWaited();
    await answer(control, 4, 10);
    expect(control.limit).toBe(4);
    await answer(control, 4, 10);
    expect(control.limit).toBe(5);
  });

  it('never lets more calls in flight than the limit; a lowered limit lets the excess finish', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 2 });
    await control.acquire();
    await control.acquire();
    let third = false;
    const waiting = control.acquire().then(() => (third = true));
    await clock.tick(0);
    expect(third).toBe(false);
    control.throttled(0); // limit 1, two still in flight
    control.release();
    await clock.tick(0);
    expect(third).toBe(false);
    control.release();
    await waiting;
    expect(control.inFlight).toBe(1);
  });

  it('a cancelled wait rejects and takes no slot', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 1 });
    await control.acquire();
    const abort = new AbortController();
    const waiting = control.acquire(abort.signal);
    abort.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    control.release();
    expect(control.inFlight).toBe(0);
  });
});

describe('live API latency signal', () => {
  it('says nothing before warm-up or when the API is idle, and reports recent over usual latency', () => {
    const clock = new ManualClock();
    const live = new LiveLatency(clock, {
      warmUp: 10,
      staleAfterMs: 5_000,
      smoothing: 0.5,
      baselineDrift: 0,
    });
    for (let i = 0; i < 9; i++) live.record(10);
    expect(live.ratio()).toBeUndefined();
    live.record(10);
    expect(live.ratio()).toBe(1);
    for (let i = 0; i < 20; i++) live.record(20);
    expect(live.ratio()).toBeCloseTo(2, 3);
    clock.advance(5_001);
    expect(live.ratio()).toBeUndefined();
  });
});

describe('default request-unit budget', () => {
  it('takes the share of provisioned or autoscale-maximum throughput, a floor when unreadable, a rate on serverless', () => {
    expect(
      archivalBudget(undefined, 0.25, {
        kind: 'provisioned',
        requestUnitsPerSecond: 400,
        scope: 'container',
      }),
    ).toMatchObject({
      requestUnitsPerSecond: 100,
      source: 'provisioned-share',
    });
    expect(
      archivalBudget(undefined, 0.1, {
        kind: 'autoscale',
        maxRequestUnitsPerSecond: 10_000,
        scope: 'database',
      }),
    ).toMatchObject({ requestUnitsPerSecond: 1_000, source: 'autoscale-max-share' });
    expect(archivalBudget(undefined, 0.25, { kind: 'unknown', reason: '403' })).toMatchObject({
      requestUnitsPerSecond: FALLBACK_REQUEST_UNITS_PER_SECOND,
      source: 'fallback',
    });
    expect(archivalBudget(undefined, 0.25, { kind: 'serverless' })).toMatchObject({
      requestUnitsPerSecond: SERVERLESS_REQUEST_UNITS_PER_SECOND,
    });
    expect(archivalBudget(undefined, 0.25, { kind: 'embedded' })).toMatchObject({ requestUnitsPerSecond: 0 });
    // A set figure wins, 0 included (no limit).
    expect(
      archivalBudget(0, 0.25, { kind: 'provisioned', requestUnitsPerSecond: 400, scope: 'container' }),
    ).toMatchObject({
      requestUnitsPerSecond: 0,
      source: 'setting',
    });
  });

  it('a rate set after the start limits spending from then on, and says when it made a call wait', async () => {
    const clock = new ManualClock();
    const budget = new RequestBudget({ requestUnitsPerSecond: 0 }, clock);
    budget.charge(1_000, false);
    expect(await budget.acquire()).toBe(false);
    budget.setRate(100);
    budget.charge(150, false);
    let waited: boolean | undefined;
    const pending = budget.acquire().then((value) => (waited = value));
    await clock.tick(499);
    expect(waited).toBeUndefined();
    await clock.tick(2);
    await pending;
    expect(waited).toBe(true);
  });
});

describe('stores as a run sees them', () => {
  it('times every call, and sends a throttled call again after its retry-after', async () => {
    const clock = new ManualClock();
    const control = controller(clock, { initial: 8 });
    let sends = 0;
    const store = {
      name: 'fake',
      get(id: string): Promise<string> {
        sends += 1;
        if (sends === 1) return Promise.reject(new AppError('THROTTLED', 'slow down', { retryAfterMs: 300 }));
        return Promise.resolve(`value of ${id}`);
      },
    };
    const observed = observeCongestion(store, 'store', control, clock);
    expect(observed.name).toBe('fake');
    let result: string | undefined;
    const pending = observed.get('a').then((value) => (result = value));
    await clock.tick(0); // the 429 comes back and its wait begins
    await clock.tick(299);
    expect(result).toBeUndefined();
    expect(control.limit).toBe(4);
    await clock.tick(1);
    await pending;
    expect(result).toBe('value of a');
    expect(sends).toBe(2);
  });

  it('passes a 429 on after the last send, and every other error at once', async () => {
    const clock = new ManualClock();
    const control = controller(clock);
    let sends = 0;
    const store = {
      throttled: () => {
        sends += 1;
        return Promise.reject(new AppError('THROTTLED', 'slow down', { retryAfterMs: 10 }));
      },
      broken: () => Promise.reject(new AppError('UNAVAILABLE', 'down')),
    };
    const observed = observeCongestion(store, 'store', control, clock);
    const throttled = observed.throttled().catch((error: unknown) => error);
    for (let i = 0; i < MAX_THROTTLED_SENDS; i++) await clock.tick(10);
    expect(await throttled).toMatchObject({ code: 'THROTTLED' });
    expect(sends).toBe(MAX_THROTTLED_SENDS);
    await expect(observed.broken()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
