// Keeps a lease of the control store alive while long work runs under it: renewed on the injected clock
// every third of its duration, so a page slower than the lease no longer loses it. A lease only avoids
// duplicate work; correctness never depends on it (every write of the protocol is conditional).
import type { ArchivalControlStore, Lease } from '../ports/archival-control-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';

export class LeaseRenewal {
  readonly #control: ArchivalControlStore;
  readonly #lease: Lease;
  readonly #callOptions: OperationOptions | undefined;
  readonly #stopping = new AbortController();
  readonly #loop: Promise<void>;
  readonly #clock: Clock;
  readonly #everyMs: number;
  /** When the lease was last known held: taken just before this started, then each renewal answered. */
  #confirmedAtMs: number;
  #lost = false;

  /** Starts renewing at once; call stop() when the work ends (in `finally`), before releasing the lease. */
  constructor(
    control: ArchivalControlStore,
    lease: Lease,
    clock: Clock,
    options: { readonly everyMs: number; readonly callOptions?: OperationOptions },
  ) {
    this.#control = control;
    this.#lease = lease;
    this.#callOptions = options.callOptions;
    this.#clock = clock;
    this.#everyMs = options.everyMs;
    this.#confirmedAtMs = clock.now().getTime();
    const signal = AbortSignal.any([
      this.#stopping.signal,
      ...(options.callOptions?.abortSignal !== undefined ? [options.callOptions.abortSignal] : []),
    ]);
    this.#loop = this.#renewEvery(clock, options.everyMs, { ...options.callOptions, abortSignal: signal });
  }

  /** False once a renewal found the lease taken by another worker: the work stops between batches. */
  get held(): boolean {
    return !this.#lost;
  }

  /** Renews now, between batches, as well: false once the lease is lost. A failed call is the caller's. */
  async renewNow(): Promise<boolean> {
    const askedAtMs = this.#clock.now().getTime();
    if (!this.#lost && !(await this.#control.renewLease(this.#lease, this.#callOptions))) this.#lost = true;
    if (!this.#lost) this.#confirmedAtMs = Math.max(this.#confirmedAtMs, askedAtMs);
    return !this.#lost;
  }

  /**
   * renewNow, unless the lease was known held less than a renewal interval ago: no other worker can
   * take a lease before it expires, so between short batches the round trip would tell nothing new.
   */
  confirm(): Promise<boolean> {
    if (!this.#lost && this.#clock.now().getTime() - this.#confirmedAtMs < this.#everyMs)
      return Promise.resolve(true);
    return this.renewNow();
  }

  /** Ends the timer and any renewal in flight; resolves once nothing runs any more. Never rejects. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
  }

  async #renewEvery(
    clock: Clock,
    everyMs: number,
    callOptions: OperationOptions & { readonly abortSignal: AbortSignal },
  ): Promise<void> {
    const signal = callOptions.abortSignal;
    while (!signal.aborted && !this.#lost) {
      try {
        await clock.sleep(everyMs, signal);
      } catch {
        return; // stopped, or the run was cancelled
      }
      try {
        const askedAtMs = clock.now().getTime();
        if (!(await this.#control.renewLease(this.#lease, callOptions))) {
          this.#lost = true;
          return;
        }
        this.#confirmedAtMs = Math.max(this.#confirmedAtMs, askedAtMs);
      } catch {
        // An unanswered renewal is not a lost lease: the next one, well within the lease, tries again.
      }
    }
  }
}
