// Legal holds by customer (present and future records) and the register of record holds, with who set
// them and when. A record's own hold also lives on its document (it travels with it to the stub); the
// register here is what lists every hold without scanning the records.
import type { OperationOptions } from './operation-options.ts';

export interface LegalHoldEntry {
  readonly customerId: string;
  /** Null: the hold covers every record of the customer, present and future. */
  readonly recordId: string | null;
  readonly reason: string;
  /** The `sub` of whoever set it. */
  readonly setBy: string;
  readonly setAt: string;
}

export interface LegalHoldStore {
  get(
    customerId: string,
    recordId: string | null,
    options?: OperationOptions,
  ): Promise<LegalHoldEntry | undefined>;
  /** Sets or replaces the hold. */
  put(hold: LegalHoldEntry, options?: OperationOptions): Promise<void>;
  /** False when there was none. */
  remove(customerId: string, recordId: string | null, options?: OperationOptions): Promise<boolean>;
  /** Every hold, customers first then their records, in id order. */
  list(options?: OperationOptions): Promise<LegalHoldEntry[]>;
}
