// A clock tests move by hand: no sleeps, no flakiness. A sleeper waits until the test moves time past
// its deadline (advance, set, tick), as in a time-skipping test environment; time never moves by itself.
import type { Clock } from '../../src/ports/clock.ts';

interface Sleeper {
  readonly until: number;
  readonly wake: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = '2026-01-15T12:00:00.000Z') {
    this.#now = Date.parse(start);
  }

  now(): Date {
    return new Date(this.#now);
  }

  /** Moves time forward at once; sleepers it passes wake (they run when the caller next yields). */
  advance(ms: number): void {
    this.#now += ms;
    this.#wakeDue();
  }

  set(instant: string): void {
    this.#now = Date.parse(instant);
    this.#wakeDue();
  }

  /**
   * Moves time forward by `ms` in steps: each sleeper due within it wakes at its own deadline and runs
   * until it waits again (on I/O or a new sleep) before time moves on, as a timer would in real time.
   */
  async tick(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const next = this.#sleepers.reduce<Sleeper | undefined>(
        (earliest, sleeper) =>
          earliest === undefined || sleeper.until < earliest.until ? sleeper : earliest,
        undefined,
      );
      if (next === undefined || next.until > end) break;
      this.#now = Math.max(this.#now, next.until);
      this.#wakeDue();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** How many sleeps are pending: tests wait on this condition rather than on time. */
  get sleeping(): number {
    return this.#sleepers.length;
  }

  /** Resolves once the clock is moved `ms` past now; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((other) => other !== sleeper);
        reject(signal?.reason as Error);
      };
      const sleeper: Sleeper = {
        until: this.#now + ms,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /**
   * This clock for code that waits briefly inside a step (a 429's retry-after): waits up to `upToMs`
   * move time by themselves, as time-skipping test environments do, where a scenario that moves time
   * only between its steps would wait for ever. Longer waits (lease timers) still wait for the test.
   */
  skippingWaitsUpTo(upToMs: number): Clock {
    return {
      now: () => this.now(),
      sleep: (ms, signal) => {
        if (ms > upToMs) return this.sleep(ms, signal);
        if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
        this.advance(Math.max(0, ms));
        return Promise.resolve();
      },
    };
  }

  #wakeDue(): void {
    const due = this.#sleepers.filter((sleeper) => sleeper.until <= this.#now);
    if (due.length === 0) return;
    this.#sleepers = this.#sleepers.filter((sleeper) => sleeper.until > this.#now);
    for (const sleeper of due.sort((a, b) => a.until - b.until)) sleeper.wake();
  }
}

/** Lets every woken task run until it waits on something again (promise jobs run before setImmediate). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
