// A customer's legal hold: every record of the customer, present and future, refuses PUT, PATCH and
// DELETE while it stands (RecordService consults it before each change). Archival goes on; the blobs
// of the customer's archived records carry a hold marker where the archive supports one, set by a job
// (customer-hold-marking.ts) that the change starts.
import { AppError } from '../domain/errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { LegalHoldEntry, LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { HoldMarkingRequest } from './customer-hold-marking.ts';

export interface CustomerLegalHoldsDependencies {
  readonly holds: LegalHoldStore;
  readonly clock: Clock;
  /**
   * Starts the job that marks (or unmarks) the customer's archived blobs, where the archive has hold
   * markers; absent, there is nothing to mark. The hold itself is in force before the job starts.
   */
  readonly startMarking?: (request: HoldMarkingRequest) => Promise<{ jobId: string }>;
}

/** A change of a customer's hold: in force at once; `jobId` follows the marking of its blobs, if any. */
export interface CustomerHoldChange {
  readonly jobId?: string;
}

export class CustomerLegalHolds {
  readonly #deps: CustomerLegalHoldsDependencies;

  constructor(dependencies: CustomerLegalHoldsDependencies) {
    this.#deps = dependencies;
  }

  async set(
    customerId: string,
    hold: { readonly reason: string; readonly setBy: string },
    options?: OperationOptions,
  ): Promise<LegalHoldEntry & CustomerHoldChange> {
    const entry: LegalHoldEntry = {
      customerId,
      recordId: null,
      reason: hold.reason,
      setBy: hold.setBy,
      setAt: this.#deps.clock.now().toISOString(),
    };
    await this.#deps.holds.put(entry, options);
    return { ...entry, ...(await this.#startMarking({ customerId, change: 'set', by: hold.setBy })) };
  }

  /** NOT_FOUND when the customer has no hold. */
  async clear(customerId: string, by: string, options?: OperationOptions): Promise<CustomerHoldChange> {
    if (!(await this.#deps.holds.remove(customerId, null, options)))
      throw new AppError('NOT_FOUND', `Customer ${customerId} has no legal hold`);
    return this.#startMarking({ customerId, change: 'clear', by });
  }

  /** The customer's hold, if any: what a change of one of its records must not find. */
  get(customerId: string, options?: OperationOptions): Promise<LegalHoldEntry | undefined> {
    return this.#deps.holds.get(customerId, null, options);
  }

  list(options?: OperationOptions): Promise<LegalHoldEntry[]> {
    return this.#deps.holds.list(options);
  }

  async #startMarking(request: HoldMarkingRequest): Promise<CustomerHoldChange> {
    const start = this.#deps.startMarking;
    return start === undefined ? {} : { jobId: (await start(request)).jobId };
  }
}
