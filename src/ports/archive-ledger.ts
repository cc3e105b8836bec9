// The archival ledger: one small entry per record from its copy (and per record whose copy keeps
// failing). Writing it costs a few RU; flagging the 300 KB document would cost ~150. After the purge
// the entry stays, unwritten, as the record's migration history until its `expiresAt`: a delete would
// cost as much as the write did. The purge's saved position tells history from copies still to purge.
import type { RecordSummary } from '../domain/billing-record.ts';
import type { SystemFields } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { OperationOptions } from './operation-options.ts';

/**
 * `copied`: a verified blob exists, the purge is due at `purgeAfter` (or is done: see isMigrationHistory).
 * `failed`: the copy keeps failing. `archived` is never stored: it is how a purged entry reads (ledgerStateOf).
 */
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
  /**
   * When the store may drop the entry (Cosmos DB per-item ttl, SQLite's sweep): its migration history
   * ends ARCHIVE_HISTORY_TTL after its purge is due. Only on `copied` entries that are not failing or
   * parked: an entry still needed never expires.
   */
  readonly expiresAt?: string;
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
  /** Copies in grace or due (not history), unparked. */
  readonly copied: number;
  readonly failed: number;
  readonly parked: number;
  /** Migration history: unparked `copied` entries at or before `purgedThrough`. */
  readonly archived: number;
}

export interface LedgerCountsQuery {
  /** The purge's saved position (isMigrationHistory); absent: no entry is history yet. */
  readonly purgedThrough?: LedgerPosition;
}

/** The ledger's order: (purgeAfter, customerId, id). */
export function compareLedgerPositions(a: LedgerPosition, b: LedgerPosition): number {
  if (a.purgeAfter !== b.purgeAfter) return a.purgeAfter < b.purgeAfter ? -1 : 1;
  if (a.customerId !== b.customerId) return a.customerId < b.customerId ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/**
 * An entry the purge has finished with: unparked, `copied`, at or before the position the purge saved
 * once every entry up to it was settled. A failing purge moves its entry's purgeAfter past the position
 * (to its nextAttemptAt), an unpark moves it to now, and a new copy's purgeAfter lies ahead of it.
 */
export function isMigrationHistory(entry: LedgerEntry, purgedThrough: LedgerPosition | undefined): boolean {
  return (
    purgedThrough !== undefined &&
    entry.state === 'copied' &&
    entry.parked !== true &&
    compareLedgerPositions(entry, purgedThrough) <= 0
  );
}

/** The state an operator sees: `archived` for migration history. */
export function ledgerStateOf(
  entry: LedgerEntry,
  purgedThrough: LedgerPosition | undefined,
): LedgerState | 'archived' {
  return isMigrationHistory(entry, purgedThrough) ? 'archived' : entry.state;
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
  counts(query?: LedgerCountsQuery, options?: OperationOptions): Promise<LedgerCounts>;
  /**
   * Removes entries whose `expiresAt` is at or before `now`, answering how many. Stores that expire
   * items themselves (Cosmos DB's ttl) answer 0: the service has hidden them already.
   */
  sweepExpired(now: string, options?: OperationOptions): Promise<number>;
  close(): Promise<void>;
}
