// The hot store: where every record's document lives (full, or a stub after archival).
// Adapters own their connections and map every SDK error to an AppError before it leaves them.
import type { RecordStatus } from '../domain/billing-record.ts';
import type { RecordDocument, StoredDocument } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { OperationOptions } from './operation-options.ts';
import type { Static } from 'typebox';

export interface WriteCondition {
  /** The store etag the write is conditioned on; absent means unconditional. */
  readonly ifMatch?: string;
}

/** Keyset position in the list order (issuedAt descending, then id descending). */
export interface ListPosition {
  readonly issuedAt: string;
  readonly id: string;
}

export interface ListRequest {
  readonly customerId: string;
  /** Inclusive lower bound on issuedAt. */
  readonly issuedFrom?: string;
  /** Exclusive upper bound on issuedAt. */
  readonly issuedTo?: string;
  readonly status?: Static<typeof RecordStatus>;
  readonly limit: number;
  /** Continue strictly after this position. */
  readonly after?: ListPosition;
}

export interface ListResult {
  /** Documents in list order; the caller takes their summaries. */
  readonly items: readonly RecordDocument[];
  /** Where the next page starts, or undefined when there is none. */
  readonly next: ListPosition | undefined;
}

export interface RecordStore {
  /** Undefined when absent. */
  get(key: RecordKey, options?: OperationOptions): Promise<StoredDocument | undefined>;
  /** Create-only: ALREADY_EXISTS when a document with this key exists. */
  create(document: RecordDocument, options?: OperationOptions): Promise<StoredDocument>;
  /** NOT_FOUND when absent, PRECONDITION_FAILED when `ifMatch` is stale. RECORD_TOO_LARGE over the item limit. */
  replace(document: RecordDocument, condition: WriteCondition, options?: OperationOptions): Promise<StoredDocument>;
  /** NOT_FOUND when absent, PRECONDITION_FAILED when `ifMatch` is stale. */
  delete(key: RecordKey, condition: WriteCondition, options?: OperationOptions): Promise<void>;
  /** One page of a customer's documents, newest issuedAt first. */
  list(request: ListRequest, options?: OperationOptions): Promise<ListResult>;
  /** Throws UNAVAILABLE when the store cannot serve. */
  ping(options?: OperationOptions): Promise<void>;
  close(): Promise<void>;
}

/** Cosmos DB's item limit (2 MB), enforced by every adapter so they behave alike. */
export const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;
