// The embedded hot store: one SQLite file (node:sqlite), durable across restarts, indexed for the
// list query and for finding old records. Same etag and conditional-write behaviour as Cosmos DB.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { AppError } from '../../domain/errors.ts';
import {
  fromPersisted,
  type RecordDocument,
  type StoredDocument,
  summaryOf,
  toPersisted,
} from '../../domain/record-document.ts';
import type { RecordKey } from '../../domain/record-rules.ts';
import {
  type ListRequest,
  type ListResult,
  MAX_DOCUMENT_BYTES,
  type RecordStore,
  type WriteCondition,
} from '../../ports/record-store.ts';

export interface SqliteRecordStoreOptions {
  /** A file path, or `:memory:` for tests. */
  readonly path: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  customer_id TEXT NOT NULL,
  id          TEXT NOT NULL,
  etag        TEXT NOT NULL,
  issued_at   TEXT NOT NULL,
  status      TEXT NOT NULL,
  tier        TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  doc         TEXT NOT NULL,
  PRIMARY KEY (customer_id, id)
);
-- The list query: one customer, newest issuedAt first, keyset on (issued_at, id).
CREATE INDEX IF NOT EXISTS records_by_customer_issued ON records (customer_id, issued_at DESC, id DESC);
-- Finding old hot records for archival without scanning the table.
CREATE INDEX IF NOT EXISTS records_by_tier_issued ON records (tier, issued_at);
`;

interface Row {
  etag: string;
  doc: string;
}

export class SqliteRecordStore implements RecordStore {
  readonly #db: DatabaseSync;
  readonly #statements: {
    get: StatementSync;
    insert: StatementSync;
    update: StatementSync;
    updateIfMatch: StatementSync;
    delete: StatementSync;
    deleteIfMatch: StatementSync;
    exists: StatementSync;
  };

  constructor(options: SqliteRecordStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    // WAL lets readers run beside the writer; FULL sync makes every acknowledged write survive a power cut.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    const columns = 'etag = ?, issued_at = ?, status = ?, tier = ?, modified_ms = ?, doc = ?';
    this.#statements = {
      get: this.#db.prepare('SELECT etag, doc FROM records WHERE customer_id = ? AND id = ?'),
      insert: this.#db.prepare(
        'INSERT INTO records (customer_id, id, etag, issued_at, status, tier, modified_ms, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      update: this.#db.prepare(`UPDATE records SET ${columns} WHERE customer_id = ? AND id = ?`),
      updateIfMatch: this.#db.prepare(`UPDATE records SET ${columns} WHERE customer_id = ? AND id = ? AND etag = ?`),
      delete: this.#db.prepare('DELETE FROM records WHERE customer_id = ? AND id = ?'),
      deleteIfMatch: this.#db.prepare('DELETE FROM records WHERE customer_id = ? AND id = ? AND etag = ?'),
      exists: this.#db.prepare('SELECT 1 AS found FROM records WHERE customer_id = ? AND id = ?'),
    };
  }

  get(key: RecordKey): Promise<StoredDocument | undefined> {
    return this.#run(() => {
      const row = this.#statements.get.get(key.customerId, key.id) as Row | undefined;
      return row === undefined ? undefined : toStored(row);
    });
  }

  create(document: RecordDocument): Promise<StoredDocument> {
    return this.#run(() => {
      const row = this.#row(document);
      const result = this.#statements.insert.run(document.customerId, document.id, ...row);
      if (result.changes === 0) {
        throw new AppError('ALREADY_EXISTS', `Record ${document.customerId}/${document.id} already exists`);
      }
      return { document, etag: row[0] };
    });
  }

  replace(document: RecordDocument, condition: WriteCondition): Promise<StoredDocument> {
    return this.#run(() => {
      const row = this.#row(document);
      const result =
        condition.ifMatch === undefined
          ? this.#statements.update.run(...row, document.customerId, document.id)
          : this.#statements.updateIfMatch.run(...row, document.customerId, document.id, condition.ifMatch);
      if (result.changes === 0) throw this.#missOrStale(document);
      return { document, etag: row[0] };
    });
  }

  delete(key: RecordKey, condition: WriteCondition): Promise<void> {
    return this.#run(() => {
      const result =
        condition.ifMatch === undefined
          ? this.#statements.delete.run(key.customerId, key.id)
          : this.#statements.deleteIfMatch.run(key.customerId, key.id, condition.ifMatch);
      if (result.changes === 0) throw this.#missOrStale(key);
    });
  }

  list(request: ListRequest): Promise<ListResult> {
    return this.#run(() => {
      const where = ['customer_id = ?'];
      const params: SQLInputValue[] = [request.customerId];
      if (request.issuedFrom !== undefined) where.push('issued_at >= ?'), params.push(request.issuedFrom);
      if (request.issuedTo !== undefined) where.push('issued_at < ?'), params.push(request.issuedTo);
      if (request.status !== undefined) where.push('status = ?'), params.push(request.status);
      if (request.after !== undefined) {
        where.push('(issued_at < ? OR (issued_at = ? AND id < ?))');
        params.push(request.after.issuedAt, request.after.issuedAt, request.after.id);
      }
      const sql = `SELECT etag, doc FROM records WHERE ${where.join(' AND ')} ORDER BY issued_at DESC, id DESC LIMIT ?`;
      const rows = this.#db.prepare(sql).all(...params, request.limit + 1) as unknown as Row[];
      const items = rows.slice(0, request.limit).map((row) => toStored(row).document);
      const last = items.at(-1);
      const next =
        rows.length > request.limit && last !== undefined
          ? { issuedAt: summaryOf(last).issuedAt, id: last.id }
          : undefined;
      return { items, next };
    });
  }

  ping(): Promise<void> {
    return this.#run(() => {
      this.#db.prepare('SELECT 1').get();
    });
  }

  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }

  /** The column values after (customer_id, id): etag, issued_at, status, tier, modified_ms, doc. */
  #row(document: RecordDocument): [string, string, string, string, number, string] {
    const doc = JSON.stringify(toPersisted(document));
    if (Buffer.byteLength(doc) > MAX_DOCUMENT_BYTES) {
      throw new AppError(
        'RECORD_TOO_LARGE',
        `Record ${document.customerId}/${document.id} is ${Buffer.byteLength(doc)} bytes stored; the limit is ${MAX_DOCUMENT_BYTES}`,
      );
    }
    const summary = summaryOf(document);
    return [`"${randomUUID()}"`, summary.issuedAt, summary.status, document.tier, Date.now(), doc];
  }

  #missOrStale(key: RecordKey): AppError {
    const exists = this.#statements.exists.get(key.customerId, key.id) !== undefined;
    return exists
      ? new AppError('PRECONDITION_FAILED', `Record ${key.customerId}/${key.id} has changed`)
      : new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
  }

  /** Runs a synchronous statement; SQLite's own errors become UNAVAILABLE (a closed or locked file). */
  #run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      if (error instanceof AppError) return Promise.reject(error);
      const message = error instanceof Error ? error.message : String(error);
      return Promise.reject(new AppError('UNAVAILABLE', `The SQLite hot store failed: ${message}`, { cause: error }));
    }
  }

  /** For tests of old schema versions: writes a raw persisted document as an older release would have. */
  insertRaw(raw: Record<string, unknown> & { id: string; customerId: string }): void {
    const summary = raw as { issuedAt?: string; status?: string };
    this.#db
      .prepare(
        'INSERT INTO records (customer_id, id, etag, issued_at, status, tier, modified_ms, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(raw.customerId, raw.id, `"${randomUUID()}"`, summary.issuedAt ?? '', summary.status ?? '', 'hot', Date.now(), JSON.stringify(raw));
  }
}

function toStored(row: Row): StoredDocument {
  return { document: fromPersisted(JSON.parse(row.doc) as Record<string, unknown>), etag: row.etag };
}
