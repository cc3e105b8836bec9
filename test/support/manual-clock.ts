// A clock tests move by hand: no sleeps, no flakiness.
import type { Clock } from '../../src/ports/clock.ts';

export class ManualClock implements Clock {
  #now: number;
  constructor(start = '2026-01-15T12:00:00.000Z') {
    this.#now = Date.parse(start);
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
  set(instant: string): void {
    this.#now = Date.parse(instant);
  }
  sleep(ms: number): Promise<void> {
    this.#now += ms;
    return Promise.resolve();
  }
}
