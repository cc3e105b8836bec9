// The live API's latency as the archiver's back-pressure signal: the API records each request's
// duration, the archiver reads how far recent latency stands above the API's usual figure. Pure but
// for the injected clock; no signal (undefined) before enough requests, or when the API is idle.
import type { Clock } from '../ports/clock.ts';

export interface LiveLatencyOptions {
  /** Requests before the signal speaks. */
  readonly warmUp: number;
  /** No request for this long: no live traffic to protect, no signal. */
  readonly staleAfterMs: number;
  /** Weight of the newest request in the recent figure. */
  readonly smoothing: number;
  /** How fast the usual figure follows a lasting rise, per request (it follows a fall at once). */
  readonly baselineDrift: number;
}

export const DEFAULT_LIVE_LATENCY: LiveLatencyOptions = {
  warmUp: 50,
  staleAfterMs: 5_000,
  smoothing: 0.05,
  baselineDrift: 0.0005,
};

/** Latencies below this are timer noise: a 0.2 ms read rising to 0.4 ms is no brownout. */
const FLOOR_MS = 1;

export class LiveLatency {
  readonly #options: LiveLatencyOptions;
  readonly #clock: Clock;
  #count = 0;
  #recentMs = 0;
  #usualMs = Infinity;
  #lastAtMs = -Infinity;

  constructor(clock: Clock, options: LiveLatencyOptions = DEFAULT_LIVE_LATENCY) {
    this.#clock = clock;
    this.#options = options;
  }

  /** One API request answered in `ms`. */
  record(ms: number): void {
    const sample = Math.max(FLOOR_MS, ms);
    this.#count += 1;
    this.#lastAtMs = this.#clock.now().getTime();
    this.#recentMs =
      this.#count === 1 ? sample : this.#recentMs + this.#options.smoothing * (sample - this.#recentMs);
    if (this.#count < this.#options.warmUp) return;
    this.#usualMs = Math.min(this.#usualMs * (1 + this.#options.baselineDrift), this.#recentMs);
  }

  /** Recent latency / usual latency (1: as usual), or undefined when there is nothing to compare. */
  ratio(): number | undefined {
    if (this.#count < this.#options.warmUp) return undefined;
    if (this.#clock.now().getTime() - this.#lastAtMs > this.#options.staleAfterMs) return undefined;
    return this.#recentMs / this.#usualMs;
  }
}
