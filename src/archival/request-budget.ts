// The archiver's request-unit budget: a token bucket fed by the charge each response reports, so
// archival never takes more than its share of the provisioned throughput from live traffic.
import type { Clock } from '../ports/clock.ts';

export interface RequestBudgetOptions {
  /** Sustained request units per second the archiver may spend; 0 or Infinity means no limit. */
  readonly requestUnitsPerSecond: number;
  /** How much may be spent in a burst (default: one second's worth). */
  readonly burst?: number;
}

export class RequestBudget {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #balance: number;
  #refilledAtMs: number;
  #spent = 0;
  #estimated = false;

  constructor(options: RequestBudgetOptions, clock: Clock) {
    this.#rate = options.requestUnitsPerSecond > 0 ? options.requestUnitsPerSecond : Infinity;
    this.#burst = options.burst ?? this.#rate;
    this.#clock = clock;
    this.#balance = this.#burst;
    this.#refilledAtMs = clock.now().getTime();
  }

  /** Total charge reported so far, and whether any of it was estimated rather than measured. */
  get spent(): { readonly requestUnits: number; readonly estimated: boolean } {
    return { requestUnits: this.#spent, estimated: this.#estimated };
  }

  /** Record a response's charge (pass as `onRequestCharge` to every store call of the run). */
  readonly charge = (requestUnits: number, estimated: boolean): void => {
    this.#spent += requestUnits;
    this.#estimated ||= estimated;
    if (this.#rate !== Infinity) this.#balance -= requestUnits;
  };

  /** Waits until the bucket is out of debt. Charges are known only after a call, so the bucket may dip below zero. */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.#rate === Infinity) return;
    this.#refill();
    if (this.#balance > 0) return;
    const waitMs = Math.ceil(((0 - this.#balance) / this.#rate) * 1000) + 1;
    await this.#clock.sleep(waitMs, signal);
    this.#refill();
  }

  #refill(): void {
    const now = this.#clock.now().getTime();
    this.#balance = Math.min(this.#burst, this.#balance + ((now - this.#refilledAtMs) / 1000) * this.#rate);
    this.#refilledAtMs = now;
  }
}
