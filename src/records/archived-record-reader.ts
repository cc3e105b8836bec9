// The archived read path: decoded records in process, then the shared cache (both keyed by record
// version and hash, so a stale entry is never served), then Blob with one read in flight per record
// however many callers wait, sha256 check, gunzip, upcast to the current schema, and the same record
// a hot read returns. Every layer answers the upcast record: the shared cache keeps the blob's schema
// version beside its bytes.
import { LRUCache } from 'lru-cache';
import type { BillingRecord } from '../domain/billing-record.ts';
import { ARCHIVE_METADATA, decodeArchivedBody, verifiedArchivedJson } from '../domain/archive-artifact.ts';
import { AppError } from '../domain/errors.ts';
import { isOwnerRecord, ownerRecordOf } from '../domain/record-profile.ts';
import { CURRENT_SCHEMA_VERSION, fromPersisted, type StubDocument } from '../domain/record-document.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { Cache } from '../ports/cache.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import { inSpan } from '../telemetry/spans.ts';

export interface ArchivedRead {
  readonly record: BillingRecord;
  readonly source: 'archive' | 'cache';
}

/**
 * A bulk read that spares the parse where it can: the blob's verified JSON, which is what a GET serves,
 * or the record where it has to be upcast or presented first.
 */
export type ArchivedJsonRead =
  | { readonly json: Buffer; readonly record?: undefined; readonly source: ArchivedRead['source'] }
  | (ArchivedRead & { readonly json?: undefined });

/** An archived read's options. */
export interface ArchivedReadOptions extends OperationOptions {
  /**
   * One of many records read once each (an export): answered from the caches when they hold it, but
   * filling neither, so a bulk read neither evicts the working set nor grows the process by what it reads.
   */
  readonly bulk?: boolean;
}

export interface ArchivedReadEvents {
  /** A blob failed its integrity check: never served, listed for review. */
  onIntegrityFailure?(stub: StubDocument, error: AppError): void;
  onBlobRead?(stub: StubDocument): void;
  /** A read answered from the cache (after its integrity check). */
  onCacheHit?(stub: StubDocument): void;
  /** A read answered, with where from and how long it took (seconds, the archived-read latency). */
  onRead?(stub: StubDocument, source: ArchivedRead['source'], seconds: number): void;
}

export interface ArchivedRecordReaderOptions {
  readonly archive: ArchiveStore;
  readonly cache?: Cache;
  readonly cacheTtlMs?: number;
  /**
   * Bytes of decoded records (counted as their canonical JSON) kept in this process in front of `cache`,
   * so a hit costs a lookup instead of gunzip, sha256 and parse; 0 turns the layer off.
   */
  readonly decodedCacheBytes?: number;
  readonly events?: ArchivedReadEvents;
  /** A monotonic timer in milliseconds, for latency only (never for decisions); performance.now by default. */
  readonly timer?: () => number;
}

export class ArchivedRecordReader {
  readonly #archive: ArchiveStore;
  readonly #cache: Cache | undefined;
  readonly #cacheTtlMs: number;
  readonly #events: ArchivedReadEvents;
  readonly #decoded: LRUCache<string, BillingRecord> | undefined;
  readonly #inFlight = new Map<string, Promise<ArchivedRead>>();
  readonly #timer: () => number;

  constructor(options: ArchivedRecordReaderOptions) {
    this.#archive = options.archive;
    this.#cache = options.cache;
    this.#cacheTtlMs = options.cacheTtlMs ?? 60 * 60 * 1000;
    this.#events = options.events ?? {};
    this.#timer = options.timer ?? (() => performance.now());
    const decodedBytes = options.decodedCacheBytes ?? 0;
    this.#decoded =
      decodedBytes > 0 && this.#cacheTtlMs > 0
        ? new LRUCache<string, BillingRecord>({
            maxSize: decodedBytes,
            ttl: Math.ceil(this.#cacheTtlMs),
          })
        : undefined;
  }

  /** The record behind a stub. Callers that arrive while a read is in flight share it. */
  read(stub: StubDocument, options?: ArchivedReadOptions): Promise<ArchivedRead> {
    const key = cacheKey(stub);
    const started = this.#timer();
    const decoded = this.#decoded?.get(key);
    if (decoded !== undefined) {
      this.#events.onCacheHit?.(stub);
      this.#events.onRead?.(stub, 'cache', (this.#timer() - started) / 1000);
      return Promise.resolve({ record: decoded, source: 'cache' });
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const read = inSpan(
      'archived-record.read',
      { 'billing.customer_id': stub.customerId, 'billing.record_id': stub.id },
      async (span) => {
        const result = await this.#readOnce(stub, key, options);
        span.setAttribute('billing.archive_source', result.source);
        this.#events.onRead?.(stub, result.source, (this.#timer() - started) / 1000);
        return result;
      },
    ).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, read);
    return read;
  }

  /**
   * A bulk read (an export): the blob's JSON as bytes, checked against the stub but never parsed, when it
   * is what a GET serves (a billing record written in the current schema); otherwise the record, as a
   * bulk `read` answers it. Either way it fills no cache.
   */
  readJson(stub: StubDocument, options?: OperationOptions): Promise<ArchivedJsonRead> {
    const bulk = { ...options, bulk: true };
    // A foreign profile is served as its owner's document, and a record decoded in process is at hand.
    if (isOwnerRecord(stub.summary) || this.#decoded?.has(cacheKey(stub)) === true)
      return this.read(stub, bulk);
    const started = this.#timer();
    return inSpan(
      'archived-record.read',
      { 'billing.customer_id': stub.customerId, 'billing.record_id': stub.id },
      async (span) => {
        const result = await this.#readJsonOnce(stub, bulk);
        span.setAttribute('billing.archive_source', result.source);
        this.#events.onRead?.(stub, result.source, (this.#timer() - started) / 1000);
        return result;
      },
    );
  }

  async #readJsonOnce(stub: StubDocument, options: ArchivedReadOptions): Promise<ArchivedJsonRead> {
    const entry = readCacheEntry(await this.#cache?.get(cacheKey(stub)));
    if (entry !== undefined) {
      const cached = this.#jsonOrRecord(stub, entry.body, entry.schemaVersion, false);
      if (cached !== undefined) {
        this.#events.onCacheHit?.(stub);
        return { ...cached, source: 'cache' };
      }
    }
    const blob = await this.#archive.get(stub.archive.blobPath, options);
    this.#events.onBlobRead?.(stub);
    // The record path reports a missing blob (an integrity failure) as it does for any read.
    if (blob === undefined) return this.read(stub, options);
    return {
      ...this.#jsonOrRecord(stub, blob.body, schemaVersionOf(blob.properties.metadata), true)!,
      source: 'archive',
    };
  }

  /** The verified bytes of a current-schema blob, or the decoded record of an older one (see #decode). */
  #jsonOrRecord(
    stub: StubDocument,
    body: Uint8Array,
    schemaVersion: number,
    fromBlob: boolean,
  ): { json: Buffer } | { record: BillingRecord } | undefined {
    if (schemaVersion !== CURRENT_SCHEMA_VERSION) {
      const record = this.#decode(stub, body, schemaVersion, fromBlob);
      return record === undefined ? undefined : { record };
    }
    try {
      return { json: verifiedArchivedJson(body, stub.archive) };
    } catch {
      if (!fromBlob) return undefined;
      // Reported and thrown as the record path does it.
      return { record: this.#decode(stub, body, schemaVersion, fromBlob)! };
    }
  }

  /** Drops the cached copy of a record (after a rehydration or a write). */
  async forget(stub: StubDocument): Promise<void> {
    const key = cacheKey(stub);
    this.#decoded?.delete(key);
    await this.#cache?.delete(key);
  }

  async #readOnce(stub: StubDocument, key: string, options?: ArchivedReadOptions): Promise<ArchivedRead> {
    const keep = options?.bulk !== true;
    const cache = this.#cache;
    const cached =
      cache === undefined
        ? undefined
        : await inSpan('cache.get', {}, async (span) => {
            const entry = readCacheEntry(await cache.get(key));
            span.setAttribute('cache.hit', entry !== undefined);
            return entry;
          });
    if (cached !== undefined) {
      const record = this.#decode(stub, cached.body, cached.schemaVersion, false);
      if (record !== undefined) {
        this.#events.onCacheHit?.(stub);
        return { record: keep ? this.#remember(key, stub, record) : record, source: 'cache' };
      }
    }
    const blob = await inSpan('blob.get', { 'billing.blob_path': stub.archive.blobPath }, () =>
      this.#archive.get(stub.archive.blobPath, options),
    );
    this.#events.onBlobRead?.(stub);
    if (blob === undefined) {
      const error = new AppError(
        'ARCHIVE_INTEGRITY',
        `Record ${stub.customerId}/${stub.id} points at ${stub.archive.blobPath}, which does not exist`,
      );
      this.#events.onIntegrityFailure?.(stub, error);
      throw error;
    }
    const schemaVersion = schemaVersionOf(blob.properties.metadata);
    const record = await inSpan('archived-record.decode', { 'billing.schema_version': schemaVersion }, () =>
      Promise.resolve(this.#decode(stub, blob.body, schemaVersion, true)!),
    );
    // The stored gzip bytes are cached as they are: compressed, and checked again on every hit.
    if (cache !== undefined && keep) {
      await inSpan('cache.set', {}, () =>
        cache.set(key, cacheEntry(schemaVersion, blob.body), this.#cacheTtlMs),
      );
    }
    return { record: keep ? this.#remember(key, stub, record) : record, source: 'archive' };
  }

  /** Keeps a verified record for later hits; frozen, since every later reader shares the object. */
  #remember(key: string, stub: StubDocument, record: BillingRecord): BillingRecord {
    if (this.#decoded === undefined) return record;
    const frozen = deepFreeze(record);
    this.#decoded.set(key, frozen, { size: Math.max(1, stub.archive.size) });
    return frozen;
  }

  /** Undefined for a cached value that does not decode (treated as a miss); throws for a bad blob. */
  #decode(
    stub: StubDocument,
    body: Uint8Array,
    schemaVersion: number,
    fromBlob: boolean,
  ): BillingRecord | undefined {
    try {
      const raw = decodeArchivedBody(body, stub.archive);
      // A foreign profile's blob is the owner's document; the stub has its version and timestamps.
      if (isOwnerRecord(stub.summary)) {
        const { profile, version, createdAt, updatedAt } = stub.summary;
        return ownerRecordOf(
          profile,
          raw,
          { version, createdAt, updatedAt },
          undefined,
        ) as unknown as BillingRecord;
      }
      // A blob of the current schema is the record as the API serves it: nothing to upcast or reshape.
      if (schemaVersion === CURRENT_SCHEMA_VERSION) return raw as unknown as BillingRecord;
      const document = fromPersisted({
        ...raw,
        schemaVersion,
        sys: { tier: 'hot' },
      });
      if (document.tier !== 'hot')
        throw new AppError('ARCHIVE_INTEGRITY', `${stub.archive.blobPath} is not a record`);
      return document.record;
    } catch (error) {
      if (!fromBlob) return undefined;
      const failure =
        error instanceof AppError
          ? error
          : new AppError('ARCHIVE_INTEGRITY', `${stub.archive.blobPath} cannot be read`, { cause: error });
      this.#events.onIntegrityFailure?.(stub, failure);
      throw failure;
    }
  }
}

/** The schema the blob was written in; a blob without it (none is known) is taken as current. */
function schemaVersionOf(metadata: Readonly<Record<string, string>>): number {
  const declared = Number(metadata[ARCHIVE_METADATA.schemaVersion]);
  return Number.isSafeInteger(declared) && declared > 0 ? declared : CURRENT_SCHEMA_VERSION;
}

// Cache entry: magic "ARS1" | uint16 schema version | the blob's gzip bytes as stored. Without the
// version a hit could not be upcast; an entry that lacks it (an older build's plain gzip) is a miss.
const ENTRY_MAGIC = Buffer.from('ARS1', 'latin1');
const ENTRY_HEADER_BYTES = ENTRY_MAGIC.length + 2;

function cacheEntry(schemaVersion: number, body: Uint8Array): Uint8Array {
  const entry = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + body.byteLength);
  ENTRY_MAGIC.copy(entry, 0);
  entry.writeUInt16BE(schemaVersion, ENTRY_MAGIC.length);
  entry.set(body, ENTRY_HEADER_BYTES);
  return entry;
}

function readCacheEntry(
  entry: Uint8Array | undefined,
): { readonly schemaVersion: number; readonly body: Uint8Array } | undefined {
  if (entry === undefined || entry.byteLength < ENTRY_HEADER_BYTES) return undefined;
  const bytes = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
  if (!bytes.subarray(0, ENTRY_MAGIC.length).equals(ENTRY_MAGIC)) return undefined;
  const schemaVersion = bytes.readUInt16BE(ENTRY_MAGIC.length);
  if (schemaVersion === 0) return undefined;
  return { schemaVersion, body: entry.subarray(ENTRY_HEADER_BYTES) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function cacheKey(stub: StubDocument): string {
  return `record:${stub.customerId}:${stub.id}:v${stub.summary.version}:${stub.archive.sha256.slice(0, 16)}`;
}
