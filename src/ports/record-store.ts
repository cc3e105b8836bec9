// The hot store: where every record's document lives (full, or a stub after archival).
// Adapters own their connections and map every SDK error to an AppError before it leaves them.
import type { RecordStatus, RecordSummary } from '../domain/billing-record.ts';
import type {
  PersistedSys,
  RecordDocument,
  StoredDocument,
  StoredRecordJson,
} from '../domain/record-document.ts';
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
  /** Exact match; stubs keep it in their summary, so archived records answer without Blob. */
  readonly invoiceNumber?: string;
  readonly limit: number;
  /** Continue strictly after this position. */
  readonly after?: ListPosition;
}

/** One record of a list page: its summary (what the API answers) and where it lives. */
export interface ListItem {
  readonly summary: RecordSummary;
  readonly tier: RecordDocument['tier'];
}

export interface ListResult {
  /**
   * Summaries in list order. Never whole documents: a query is charged for what it returns, and
   * lineItems and metadata are most of a record's bytes (Cosmos DB projects the summary fields).
   */
  readonly items: readonly ListItem[];
  /** Where the next page starts, or undefined when there is none. */
  readonly next: ListPosition | undefined;
}

/** Keyset position in the scan order (issuedAt, customerId, id ascending). */
export interface ScanPosition {
  readonly issuedAt: string;
  readonly customerId: string;
  readonly id: string;
}

/**
 * A scan for background work (archival, verify, collection). It returns light projections, never
 * record bodies: a query that returns documents costs RU for every byte it loads.
 */
export interface ScanRequest {
  readonly tier: 'hot' | 'archived';
  /** Exclusive upper bound on issuedAt. */
  readonly issuedBefore?: string;
  /** Inclusive lower bound on issuedAt. */
  readonly issuedFrom?: string;
  /** Only documents the store last wrote at or after this instant (epoch ms; Cosmos `_ts`). */
  readonly modifiedSinceMs?: number;
  readonly customerId?: string;
  readonly limit: number;
  /** Continue strictly after this position. */
  readonly after?: ScanPosition;
}

export interface ScanItem {
  readonly customerId: string;
  readonly id: string;
  readonly issuedAt: string;
  readonly updatedAt: string;
  readonly version: number;
  /** The store etag: a copy is purged only if the document still has it. */
  readonly etag: string;
  /** When the store last wrote the document (epoch ms; second precision on Cosmos). */
  readonly modifiedAtMs: number;
  readonly sys: PersistedSys;
}

export interface ScanPage {
  readonly items: readonly ScanItem[];
  readonly next: ScanPosition | undefined;
}

export interface TierCounts {
  readonly hot: number;
  readonly archived: number;
  /** Bytes the store keeps for each tier's documents (as serialized), where it can tell. */
  readonly hotBytes?: number;
  readonly archivedBytes?: number;
}

export interface CreateManyResult {
  readonly created: number;
  /** Documents whose key was already there, left as they were. */
  readonly existing: number;
}

export interface RecordStore {
  /** Undefined when absent. */
  get(key: RecordKey, options?: OperationOptions): Promise<StoredDocument | undefined>;
  /**
   * Optional, for stores that keep a hot record's API JSON beside its document (SQLite): that JSON,
   * read without parsing the document; any other document (a stub, one written before the store kept
   * it, a foreign profile's) as `get` answers it. Undefined when absent.
   */
  getJson?(
    key: RecordKey,
    options?: OperationOptions,
  ): Promise<StoredRecordJson | StoredDocument | undefined>;
  /** Create-only: ALREADY_EXISTS when a document with this key exists. */
  create(document: RecordDocument, options?: OperationOptions): Promise<StoredDocument>;
  /**
   * Create-only for each document, for loaders (the demo): one already there is counted, not written.
   * One transaction where the store has them (SQLite: one commit for the batch), concurrent creates otherwise.
   */
  createMany(documents: readonly RecordDocument[], options?: OperationOptions): Promise<CreateManyResult>;
  /** NOT_FOUND when absent, PRECONDITION_FAILED when `ifMatch` is stale. RECORD_TOO_LARGE over the item limit. */
  replace(
    document: RecordDocument,
    condition: WriteCondition,
    options?: OperationOptions,
  ): Promise<StoredDocument>;
  /** NOT_FOUND when absent, PRECONDITION_FAILED when `ifMatch` is stale. */
  delete(key: RecordKey, condition: WriteCondition, options?: OperationOptions): Promise<void>;
  /** One page of a customer's documents, newest issuedAt first. */
  list(request: ListRequest, options?: OperationOptions): Promise<ListResult>;
  /** One page of documents of a tier in (issuedAt, customerId, id) order, as light projections. */
  scan(request: ScanRequest, options?: OperationOptions): Promise<ScanPage>;
  /** How many documents each tier holds. */
  countByTier(options?: OperationOptions): Promise<TierCounts>;
  /** Throws UNAVAILABLE when the store cannot serve. */
  ping(options?: OperationOptions): Promise<void>;
  /** What throughput the store has, for the archiver's default budget; never throws (`unknown` instead). */
  readThroughput(options?: OperationOptions): Promise<ContainerThroughput>;
  close(): Promise<void>;
}

export type ContainerThroughput =
  | {
      readonly kind: 'provisioned';
      readonly requestUnitsPerSecond: number;
      readonly scope: 'container' | 'database';
    }
  | {
      readonly kind: 'autoscale';
      readonly maxRequestUnitsPerSecond: number;
      readonly scope: 'container' | 'database';
    }
  | { readonly kind: 'serverless' }
  /** A local store: nothing provisioned. */
  | { readonly kind: 'embedded' }
  | { readonly kind: 'unknown'; readonly reason: string };

/** Cosmos DB's item limit (2 MB), enforced by every adapter so they behave alike. */
export const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;
