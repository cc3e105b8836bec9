// The archival ledger: one small entry per record between its copy and its purge (and per record
// whose copy keeps failing). Writing it costs a few RU; flagging the 300 KB document would cost ~150.
import type { RecordSummary } from '../domain/billing-record.ts';
import type { SystemFields } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { OperationOptions } from './operation-options.ts';

/** `copied`: a verified blob exists, the purge is due at `purgeAfter`. `failed`: the copy keeps failing. */
export type LedgerState = 'copied' | 'failed';

export interface LedgerEntry {
  readonly customerId: string;
  readonly id: string;
  readonly state: LedgerState;
  readonly version: number;
  /** Where the copy is (copied), or would be (failed). */
  readonly blobPath: string;
  /** sha256 of the canonical JSON; '' for a failed copy. */
  readonly sha256: string;
  /** Canonical JSON bytes, and bytes stored in Blob after compression. */
  readonly size: number;
  readonly storedBytes: number;
  /** base64 MD5 of the stored bytes as verified at copy time: the purge checks the blob still has them. */
  readonly contentMd5?: string;
  /** Bytes of the hot document as stored when it was copied: what the purge takes off the hot tier's total. */
  readonly sourceBytes?: number;
  /** The document's store etag when it was copied: the purge is conditioned on it. */
  readonly sourceEtag: string;
  /** What the stub keeps, so the purge never reads the full document again. */
  readonly summary: RecordSummary;
  readonly sys: SystemFields;
  readonly copiedAt: string;
  readonly purgeAfter: string;
  /** Failed attempts of the current step (copy or purge), with backoff until `nextAttemptAt`. */
  readonly attempts: number;
  readonly nextAttemptAt?: string;
  readonly lastError?: string;
  /** Parked for review after repeated failures; listed in the archival status, never retried alone. */
  readonly parked?: boolean;
}

export interface StoredLedgerEntry {
  readonly entry: LedgerEntry;
  readonly etag: string;
}

export interface LedgerPosition {
  readonly purgeAfter: string;
  readonly customerId: string;
  readonly id: string;
}

export interface LedgerPage {
  readonly items: readonly StoredLedgerEntry[];
  readonly next: LedgerPosition | undefined;
}

export interface LedgerQuery {
  readonly state?: LedgerState;
  /** Entries whose purgeAfter is at or before this instant. */
  readonly dueBy?: string;
  readonly parked?: boolean;
  readonly customerId?: string;
  readonly limit: number;
  readonly after?: LedgerPosition;
}

/** Keyset position in the order of due retries (nextAttemptAt, customerId, id). */
export interface RetryPosition {
  readonly nextAttemptAt: string;
  readonly customerId: string;
  readonly id: string;
}

export interface DueRetriesQuery {
  /** Entries whose nextAttemptAt is at or before this instant. */
  readonly dueBy: string;
  readonly customerId?: string;
  readonly limit: number;
  readonly after?: RetryPosition;
}

export interface DueRetriesPage {
  readonly items: readonly StoredLedgerEntry[];
  readonly next: RetryPosition | undefined;
}

export interface LedgerCounts {
  readonly copied: number;
  readonly failed: number;
  readonly parked: number;
}

/** How getMany keys its answer: ids and customer ids never contain '/' (see billing-record.ts). */
export function ledgerKeyOf(key: RecordKey): string {
  return `${key.customerId}/${key.id}`;
}

export interface ArchiveLedger {
  get(key: RecordKey, options?: OperationOptions): Promise<StoredLedgerEntry | undefined>;
  /**
   * The entries of these records, by `ledgerKeyOf`; absent ones are left out. One round trip per page
   * of candidates (adapters may split a long list) instead of one point read per record.
   */
  getMany(
    keys: readonly RecordKey[],
    options?: OperationOptions,
  ): Promise<ReadonlyMap<string, StoredLedgerEntry>>;
  /**
   * Writes the entry. `ifMatch`: only over that version of the entry; `ifNoneMatch: '*'`: only if none
   * exists (ALREADY_EXISTS otherwise); neither: upsert. PRECONDITION_FAILED on a stale etag.
   */
  put(
    entry: LedgerEntry,
    condition: { readonly ifMatch?: string; readonly ifNoneMatch?: '*' },
    options?: OperationOptions,
  ): Promise<StoredLedgerEntry>;
  /** False when absent; PRECONDITION_FAILED when `ifMatch` is stale. */
  delete(
    key: RecordKey,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean>;
  /** Entries in (purgeAfter, customerId, id) order. */
  query(query: LedgerQuery, options?: OperationOptions): Promise<LedgerPage>;
  /**
   * Unparked `failed` entries whose backoff is over (nextAttemptAt at or before `dueBy`), in
   * (nextAttemptAt, customerId, id) order: copies to retry, found without scanning their slices again.
   * Served by an index of its own; an entry without nextAttemptAt is never answered.
   */
  queryDueRetries(query: DueRetriesQuery, options?: OperationOptions): Promise<DueRetriesPage>;
  counts(options?: OperationOptions): Promise<LedgerCounts>;
  close(): Promise<void>;
}
