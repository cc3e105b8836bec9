// A customer's legal hold: every record of the customer, present and future, refuses PUT, PATCH and
// DELETE while it stands (RecordService consults it before each change). Archival goes on; the blobs
// of the customer's archived records carry a hold marker where the archive supports one.
import { AppError } from '../domain/errors.ts';
import type { ArchiveLegalHolds } from '../ports/archive-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { LegalHoldEntry, LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';

const MARK_PAGE_SIZE = 200;

export interface CustomerLegalHoldsDependencies {
  readonly holds: LegalHoldStore;
  readonly store: RecordStore;
  readonly clock: Clock;
  readonly archiveHolds?: ArchiveLegalHolds;
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
  ): Promise<LegalHoldEntry> {
    const entry: LegalHoldEntry = {
      customerId,
      recordId: null,
      reason: hold.reason,
      setBy: hold.setBy,
      setAt: this.#deps.clock.now().toISOString(),
    };
    await this.#deps.holds.put(entry, options);
    await this.#markArchived(customerId, options);
    return entry;
  }

  /** NOT_FOUND when the customer has no hold. */
  async clear(customerId: string, options?: OperationOptions): Promise<void> {
    if (!(await this.#deps.holds.remove(customerId, null, options)))
      throw new AppError('NOT_FOUND', `Customer ${customerId} has no legal hold`);
    await this.#markArchived(customerId, options);
  }

  /** The customer's hold, if any: what a change of one of its records must not find. */
  get(customerId: string, options?: OperationOptions): Promise<LegalHoldEntry | undefined> {
    return this.#deps.holds.get(customerId, null, options);
  }

  list(options?: OperationOptions): Promise<LegalHoldEntry[]> {
    return this.#deps.holds.list(options);
  }

  /** Brings the hold markers of the customer's archived blobs in line with its holds (the customer's or their own). */
  async #markArchived(customerId: string, options?: OperationOptions): Promise<void> {
    const archiveHolds = this.#deps.archiveHolds;
    if (archiveHolds === undefined) return;
    const customerHeld = (await this.#deps.holds.get(customerId, null, options)) !== undefined;
    let after: Parameters<RecordStore['scan']>[0]['after'];
    do {
      const page = await this.#deps.store.scan(
        { tier: 'archived', customerId, limit: MARK_PAGE_SIZE, ...(after !== undefined ? { after } : {}) },
        options,
      );
      for (const item of page.items) {
        if (item.sys.archive === undefined) continue;
        await archiveHolds.setLegalHold(
          item.sys.archive.blobPath,
          customerHeld || item.sys.legalHold !== undefined,
          options,
        );
      }
      after = page.next;
    } while (after !== undefined);
  }
}
