// How a run's queries fanned out over the store's partitions, and what the service says they loaded: a
// query without a partition key (every scan and ledger query of an unscoped run) goes to every physical
// partition, so its charge grows with their number. Kept in the run report beside the request charge.
import type { QueryPageMetrics } from '../ports/operation-options.ts';

export interface QueryTotals {
  readonly pages: number;
  /** Requests the pages sent to partitions, summed. */
  readonly partitionRequests: number;
  /** The widest page: how many partitions one query reached. */
  readonly maxPartitionRequestsPerPage: number;
  /** The service's query metrics summed over the pages that had them (a real account only). */
  readonly service?: {
    readonly pages: number;
    readonly retrievedDocuments: number;
    readonly retrievedBytes: number;
    readonly outputDocuments: number;
    readonly outputBytes: number;
  };
}

export class QueryTally {
  #pages = 0;
  #partitionRequests = 0;
  #widest = 0;
  #service: { -readonly [K in keyof NonNullable<QueryTotals['service']>]: number } | undefined;

  /** Pass as `onQueryPage` to the run's store and ledger calls. */
  readonly add = (page: QueryPageMetrics): void => {
    this.#pages += 1;
    this.#partitionRequests += page.partitionRequests;
    this.#widest = Math.max(this.#widest, page.partitionRequests);
    if (page.service === undefined) return;
    const totals = (this.#service ??= {
      pages: 0,
      retrievedDocuments: 0,
      retrievedBytes: 0,
      outputDocuments: 0,
      outputBytes: 0,
    });
    totals.pages += 1;
    totals.retrievedDocuments += page.service.retrievedDocuments;
    totals.retrievedBytes += page.service.retrievedBytes;
    totals.outputDocuments += page.service.outputDocuments;
    totals.outputBytes += page.service.outputBytes;
  };

  /** Undefined while no store reported a page (SQLite has no partitions and reports none). */
  get totals(): QueryTotals | undefined {
    if (this.#pages === 0) return undefined;
    return {
      pages: this.#pages,
      partitionRequests: this.#partitionRequests,
      maxPartitionRequestsPerPage: this.#widest,
      ...(this.#service !== undefined ? { service: { ...this.#service } } : {}),
    };
  }
}
