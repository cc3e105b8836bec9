// How many archival calls may be in flight, adapted as a run goes (AIMD, as TCP does): one more after
// each full window of calls answered without congestion, half as many on congestion. Congestion is a
// throttled call (429: also pause for its retry-after), a call latency grown well past the fastest seen,
// or the live API's latency risen over its idle figure. Pure apart from the injected clock, so tests
// drive it on a manual clock.
import type { Clock } from '../ports/clock.ts';

export interface AdaptiveConcurrencyOptions {
  /** Calls in flight at the start of a run. */
  readonly initial: number;
  readonly min: number;
  readonly max: number;
  /** A call latency (smoothed, per kind of call) above this multiple of the fastest seen is congestion. */
  readonly latencyGrowthLimit: number;
  /** Latencies below this are never congestion (timer resolution, in-process stores). */
  readonly latencyFloorMs: number;
  /** Live API latency over its idle figure above this is congestion (see `liveLatencyRatio`). */
  readonly liveLatencyLimit: number;
  /** After a decrease, no other for this long: the calls already in flight see the same congestion. */
  readonly decreaseSpacingMs: number;
  /** The live API's recent latency / its idle latency, when the process serves an API (undefined: none). */
  readonly liveLatencyRatio?: () => number | undefined;
}

export const DEFAULT_ADAPTIVE_CONCURRENCY: Omit<AdaptiveConcurrencyOptions, 'liveLatencyRatio'> = {
  initial: 8,
  min: 1,
  max: 64,
  latencyGrowthLimit: 3,
  // Local disks (fsync) and a busy CPU make calls of a few ms vary tenfold: only a call slower than
  // 3 x 50 ms is congestion; on Cosmos, 429s are the first signal anyway.
  latencyFloorMs: 50,
  liveLatencyLimit: 1.2,
  decreaseSpacingMs: 1_000,
};

export type CongestionCause = 'throttled' | 'latency' | 'live-latency';

/** What a run reports of its concurrency. */
export interface ConcurrencyReport {
  readonly current: number;
  readonly lowest: number;
  readonly highest: number;
  readonly decreases: Readonly<Partial<Record<CongestionCause, number>>>;
  /** Time spent paused by retry-after. */
  readonly pausedMs: number;
}

/** Weight of the newest latency sample in the smoothed figure. */
const SMOOTHING = 0.2;

export class AdaptiveConcurrency {
  readonly #options: AdaptiveConcurrencyOptions;
  readonly #clock: Clock;
  #limit: number;
  #inFlight = 0;
  #answeredInWindow = 0;
  /** Per kind of call (a scan is no point read): the fastest answer and the smoothed latency. */
  readonly #latency = new Map<string, { fastestMs: number; smoothedMs: number | undefined }>();
  #lastDecreaseMs = -Infinity;
  #pausedUntilMs = 0;
  #pausedMs = 0;
  #lowest: number;
  #highest: number;
  #decreases: Partial<Record<CongestionCause, number>> = {};
  #budgetBound = false;
  #waiters: Array<() => void> = [];

  constructor(options: AdaptiveConcurrencyOptions, clock: Clock) {
    if (options.min < 1 || options.max < options.min) throw new RangeError('need 1 <= min <= max');
    this.#options = options;
    this.#clock = clock;
    this.#limit = clamp(options.initial, options.min, options.max);
    this.#lowest = this.#limit;
    this.#highest = this.#limit;
  }

  get limit(): number {
    return this.#limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Until when calls wait for a retry-after (epoch ms; in the past when not paused). */
  get pausedUntilMs(): number {
    return this.#pausedUntilMs;
  }

  report(): ConcurrencyReport {
    return {
      current: this.#limit,
      lowest: this.#lowest,
      highest: this.#highest,
      decreases: { ...this.#decreases },
      pausedMs: this.#pausedMs,
    };
  }

  /** Waits for a slot (and out any retry-after pause); pair every resolved acquire with `release`. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const pauseMs = this.#pausedUntilMs - this.#clock.now().getTime();
      if (pauseMs > 0) await this.#clock.sleep(pauseMs, signal);
      else if (this.#inFlight < this.#limit) {
        this.#inFlight += 1;
        return;
      } else await this.#slotFreed(signal);
    }
  }

  release(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    this.#wakeOne();
  }

  /**
   * A call of `kind` answered in `latencyMs`. A full window of answers without congestion raises the
   * limit by one, unless the request-unit budget held calls back meanwhile: more would only queue there.
   */
  answered(latencyMs: number, kind = 'call'): void {
    const latency = this.#latency.get(kind) ?? { fastestMs: Infinity, smoothedMs: undefined };
    this.#latency.set(kind, latency);
    latency.fastestMs = Math.min(latency.fastestMs, latencyMs);
    latency.smoothedMs =
      latency.smoothedMs === undefined
        ? latencyMs
        : latency.smoothedMs + SMOOTHING * (latencyMs - latency.smoothedMs);
    const live = this.#options.liveLatencyRatio?.();
    if (live !== undefined && live > this.#options.liveLatencyLimit) {
      this.#decrease('live-latency');
      return;
    }
    const normalMs = Math.max(this.#options.latencyFloorMs, latency.fastestMs);
    if (latency.smoothedMs > normalMs * this.#options.latencyGrowthLimit) {
      this.#decrease('latency');
      // Judge the next window from where latency stands now, not from the congested samples.
      latency.smoothedMs = undefined;
      return;
    }
    this.#answeredInWindow += 1;
    if (this.#answeredInWindow < this.#limit) return;
    this.#answeredInWindow = 0;
    if (this.#budgetBound) {
      this.#budgetBound = false;
      return;
    }
    this.#setLimit(this.#limit + 1);
  }

  /** A call was throttled (429): halve, and hold every call back for the store's retry-after. */
  throttled(retryAfterMs: number | undefined): void {
    const until = this.#clock.now().getTime() + Math.max(0, retryAfterMs ?? 0);
    if (until > this.#pausedUntilMs) {
      this.#pausedMs += until - Math.max(this.#pausedUntilMs, this.#clock.now().getTime());
      this.#pausedUntilMs = until;
    }
    this.#decrease('throttled');
  }

  /** The request-unit budget made a call wait: the limit is not raised in this window. */
  budgetWaited(): void {
    this.#budgetBound = true;
  }

  #decrease(cause: CongestionCause): void {
    const now = this.#clock.now().getTime();
    this.#answeredInWindow = 0;
    if (now - this.#lastDecreaseMs < this.#options.decreaseSpacingMs) return;
    this.#lastDecreaseMs = now;
    this.#decreases[cause] = (this.#decreases[cause] ?? 0) + 1;
    this.#setLimit(Math.floor(this.#limit / 2));
  }

  #setLimit(limit: number): void {
    this.#limit = clamp(limit, this.#options.min, this.#options.max);
    this.#lowest = Math.min(this.#lowest, this.#limit);
    this.#highest = Math.max(this.#highest, this.#limit);
    for (let free = this.#limit - this.#inFlight; free > 0 && this.#waiters.length > 0; free--)
      this.#wakeOne();
  }

  #slotFreed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== wake);
        reject(signal?.reason as Error);
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(wake);
    });
  }

  #wakeOne(): void {
    this.#waiters.shift()?.();
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
