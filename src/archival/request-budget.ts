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
  #rate: number;
  #burst: number;
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

  /** Sets the sustained rate (0 or Infinity: no limit) once it is known; the burst becomes a second of it. */
  setRate(requestUnitsPerSecond: number): void {
    this.#refill();
    this.#rate = requestUnitsPerSecond > 0 ? requestUnitsPerSecond : Infinity;
    this.#burst = this.#rate;
    this.#balance = Math.min(this.#balance, this.#burst);
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

  /**
   * Waits until the bucket is out of debt; true when it had to wait. Charges are known only after a
   * call, so the bucket may dip below zero.
   */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    if (this.#rate === Infinity) return false;
    this.#refill();
    if (this.#balance > 0) return false;
    const waitMs = Math.ceil(((0 - this.#balance) / this.#rate) * 1000) + 1;
    await this.#clock.sleep(waitMs, signal);
    this.#refill();
    return true;
  }

  #refill(): void {
    const now = this.#clock.now().getTime();
    if (this.#rate === Infinity) {
      this.#refilledAtMs = now;
      return;
    }
    this.#balance = Math.min(this.#burst, this.#balance + ((now - this.#refilledAtMs) / 1000) * this.#rate);
    this.#refilledAtMs = now;
  }
}
