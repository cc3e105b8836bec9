// The embedded hot store: one SQLite file (node:sqlite), durable across restarts, indexed for the
// list query and for finding old records. Same etag and conditional-write behaviour as Cosmos DB.
import { randomUUID } from 'node:crypto';
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { AppError } from '../../domain/errors.ts';
import {
  fromPersisted,
  PERSISTED_API_TAIL,
  type PersistedSys,
  persistedJson,
  type RecordDocument,
  type StoredDocument,
  type StoredRecordJson,
  summaryOf,
} from '../../domain/record-document.ts';
import type { RecordKey } from '../../domain/record-rules.ts';
import { BILLING_PROFILE } from '../../domain/billing-profile.ts';
import { isBillingProfile, propertyOf, type RecordProfile } from '../../domain/record-profile.ts';
import {
  type ContainerThroughput,
  type CreateManyResult,
  type ListRequest,
  type ListItem,
  type ListResult,
  MAX_DOCUMENT_BYTES,
  type RecordStore,
  type ScanItem,
  type ScanPage,
  type ScanRequest,
  type TierCounts,
  type WriteCondition,
} from '../../ports/record-store.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import {
  estimateDeleteUnits,
  estimateQueryUnits,
  estimateReadUnits,
  estimateWriteUnits,
  RECORD_INDEXED_TERMS,
} from '../../domain/request-unit-model.ts';
import { charge, openSqliteDatabase, runSqlite, SqlWhere } from './sqlite-database.ts';

export interface SqliteRecordStoreOptions {
  /** A file path, or `:memory:` for tests. */
  readonly path: string;
  /** The store's own write clock (Cosmos `_ts`); tests with a manual clock pass theirs. */
  readonly nowMs?: () => number;
  /** What the documents are; the billing record when absent. */
  readonly profile?: RecordProfile;
}

const TABLE = `
CREATE TABLE IF NOT EXISTS records (
  customer_id    TEXT NOT NULL,
  id             TEXT NOT NULL,
  etag           TEXT NOT NULL,
  issued_at      TEXT NOT NULL,
  status         TEXT NOT NULL,
  tier           TEXT NOT NULL,
  modified_ms    INTEGER NOT NULL,
  doc            TEXT NOT NULL,
  invoice_number TEXT NOT NULL DEFAULT '',
  api_end        INTEGER,
  version        INTEGER,
  updated_at     TEXT,
  sys            TEXT,
  derived_etag   TEXT,
  PRIMARY KEY (customer_id, id)
);
`;

const INDEXES = `
-- The list query: one customer, newest issuedAt first, keyset on (issued_at, id).
CREATE INDEX IF NOT EXISTS records_by_customer_issued ON records (customer_id, issued_at DESC, id DESC);
-- The list query by invoice number: the equality, then the same order, so no sort and no scan.
CREATE INDEX IF NOT EXISTS records_by_customer_invoice
  ON records (customer_id, invoice_number, issued_at DESC, id DESC);
-- Background scans (archival candidates, verify, collection) in keyset order, without a table scan.
DROP INDEX IF EXISTS records_by_tier_issued;
CREATE INDEX IF NOT EXISTS records_by_tier_issued_key ON records (tier, issued_at, customer_id, id);
`;

/**
 * Columns added since the first release, each with how a file written before it gets it, applied once
 * each, in one transaction. invoice_number (the invoiceNumber filter) is filled from the documents (full
 * and stub alike keep invoiceNumber at the top level); the others stay NULL until the record is written
 * again, and such a row is read by parsing its document, as before: api_end (where a hot record's API
 * JSON ends in `doc`: a GET answers it without parsing), and a billing document's version, updatedAt and
 * system property (what an archival scan reads of every row, so that a scan parses no document). Those
 * four hold only while derived_etag equals etag: a writer that does not know them (the release before,
 * after a rollback) writes a new etag and leaves them, and they are then ignored, never trusted.
 */
const ADDED_COLUMNS: ReadonlyArray<{ readonly name: string; readonly sql: readonly string[] }> = [
  {
    name: 'invoice_number',
    sql: [
      "ALTER TABLE records ADD COLUMN invoice_number TEXT NOT NULL DEFAULT ''",
      "UPDATE records SET invoice_number = COALESCE(json_extract(doc, '$.invoiceNumber'), '')",
    ],
  },
  { name: 'api_end', sql: ['ALTER TABLE records ADD COLUMN api_end INTEGER'] },
  { name: 'version', sql: ['ALTER TABLE records ADD COLUMN version INTEGER'] },
  { name: 'updated_at', sql: ['ALTER TABLE records ADD COLUMN updated_at TEXT'] },
  { name: 'sys', sql: ['ALTER TABLE records ADD COLUMN sys TEXT'] },
  { name: 'derived_etag', sql: ['ALTER TABLE records ADD COLUMN derived_etag TEXT'] },
];

function addColumns(db: DatabaseSync): void {
  const missing = (): typeof ADDED_COLUMNS => {
    const present = new Set(
      (db.prepare("SELECT name FROM pragma_table_info('records')").all() as Array<{ name: string }>).map(
        (column) => column.name,
      ),
    );
    return ADDED_COLUMNS.filter((column) => !present.has(column.name));
  };
  if (missing().length === 0) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    // Another process may have migrated the file between the check and the lock.
    for (const column of missing()) for (const statement of column.sql) db.exec(statement);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

interface Row {
  etag: string;
  doc: string;
  modified_ms: number;
}

/** A row read for the API: the document's bytes, with where its API JSON ends and whether that still holds. */
interface ApiJsonRow {
  etag: string;
  modified_ms: number;
  version: number | null;
  api_end: number | null;
  derived_etag: string | null;
  doc: Uint8Array;
}

/**
 * The document read once, as bytes (SQLite's CAST of UTF-8 text to BLOB copies nothing): every expression
 * over `doc` in SQL would read its overflow pages again, so the API JSON is found and cut in JavaScript.
 */
const GET_API_JSON = `SELECT etag, modified_ms, version, api_end, derived_etag, CAST(doc AS BLOB) AS doc
  FROM records WHERE customer_id = ? AND id = ?`;
const API_TAIL_BYTES = new TextEncoder().encode(PERSISTED_API_TAIL);
const CLOSING_BRACE = 0x7d;
const utf8 = new TextDecoder();

/**
 * Where `doc` holds the API JSON for this schema version: the columns were written with this etag (a
 * writer that does not know them leaves them stale) and the schema tail is where `api_end` says.
 */
function holdsApiJson(row: ApiJsonRow): row is ApiJsonRow & { api_end: number; version: number } {
  const end = row.api_end;
  if (end === null || row.version === null || row.derived_etag !== row.etag) return false;
  if (end + API_TAIL_BYTES.length > row.doc.length) return false;
  for (let i = 0; i < API_TAIL_BYTES.length; i++) if (row.doc[end + i] !== API_TAIL_BYTES[i]) return false;
  return true;
}

/** What a write binds after (customer_id, id), in the order of the insert's and the update's columns. */
type RowValues = [
  etag: string,
  issuedAt: string,
  status: string,
  invoiceNumber: string,
  tier: string,
  modifiedMs: number,
  doc: string,
  apiEnd: number | null,
  version: number | null,
  updatedAt: string | null,
  sys: string | null,
  derivedEtag: string | null,
];

interface ScanRow {
  customer_id: string;
  id: string;
  issued_at: string;
  etag: string;
  modified_ms: number;
  updated_at: string | null;
  version: number | null;
  sys: string | null;
}

export class SqliteRecordStore implements RecordStore {
  readonly #db: DatabaseSync;
  readonly #nowMs: () => number;
  readonly #profile: RecordProfile;
  readonly #statements: {
    get: StatementSync;
    getJson: StatementSync;
    insert: StatementSync;
    update: StatementSync;
    updateIfMatch: StatementSync;
    delete: StatementSync;
    deleteIfMatch: StatementSync;
    exists: StatementSync;
    countByTier: StatementSync;
  };

  constructor(options: SqliteRecordStoreOptions) {
    this.#db = openSqliteDatabase(options.path);
    this.#nowMs = options.nowMs ?? Date.now;
    this.#profile = options.profile ?? BILLING_PROFILE;
    this.#db.exec(TABLE);
    addColumns(this.#db);
    this.#db.exec(INDEXES);
    const columns =
      'etag = ?, issued_at = ?, status = ?, invoice_number = ?, tier = ?, modified_ms = ?, doc = ?, api_end = ?, version = ?, updated_at = ?, sys = ?, derived_etag = ?';
    this.#statements = {
      get: this.#db.prepare('SELECT etag, doc, modified_ms FROM records WHERE customer_id = ? AND id = ?'),
      getJson: this.#db.prepare(GET_API_JSON),
      insert: this.#db.prepare(
        'INSERT INTO records (customer_id, id, etag, issued_at, status, invoice_number, tier, modified_ms, doc, api_end, version, updated_at, sys, derived_etag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      update: this.#db.prepare(`UPDATE records SET ${columns} WHERE customer_id = ? AND id = ?`),
      updateIfMatch: this.#db.prepare(
        `UPDATE records SET ${columns} WHERE customer_id = ? AND id = ? AND etag = ?`,
      ),
      delete: this.#db.prepare('DELETE FROM records WHERE customer_id = ? AND id = ?'),
      deleteIfMatch: this.#db.prepare('DELETE FROM records WHERE customer_id = ? AND id = ? AND etag = ?'),
      exists: this.#db.prepare('SELECT 1 AS found FROM records WHERE customer_id = ? AND id = ?'),
      countByTier: this.#db.prepare(
        'SELECT tier, COUNT(*) AS n, SUM(octet_length(doc)) AS bytes FROM records GROUP BY tier',
      ),
    };
  }

  get(key: RecordKey, options?: OperationOptions): Promise<StoredDocument | undefined> {
    return this.#run(() => {
      const row = this.#statements.get.get(key.customerId, key.id) as Row | undefined;
      charge(options, () => estimateReadUnits(row === undefined ? 0 : Buffer.byteLength(row.doc)));
      return row === undefined ? undefined : toStored(row, this.#profile);
    });
  }

  getJson(
    key: RecordKey,
    options?: OperationOptions,
  ): Promise<StoredRecordJson | StoredDocument | undefined> {
    return this.#run(() => {
      const row = this.#statements.getJson.get(key.customerId, key.id) as ApiJsonRow | undefined;
      if (row === undefined) {
        charge(options, () => estimateReadUnits(0));
        return undefined;
      }
      // Charged as `get` is: for the document read, whatever part of it is answered.
      charge(options, () => estimateReadUnits(row.doc.length));
      if (holdsApiJson(row)) {
        // The bytes are this read's own copy: the tail's leading comma becomes the closing brace.
        row.doc[row.api_end] = CLOSING_BRACE;
        return { json: row.doc.subarray(0, row.api_end + 1), version: row.version, etag: row.etag };
      }
      return toStored(
        { etag: row.etag, doc: utf8.decode(row.doc), modified_ms: row.modified_ms },
        this.#profile,
      );
    });
  }

  create(document: RecordDocument, options?: OperationOptions): Promise<StoredDocument> {
    return this.#run(() => {
      const row = this.#row(document);
      charge(options, estimateWriteUnits(Buffer.byteLength(row[6]), RECORD_INDEXED_TERMS));
      const result = this.#statements.insert.run(document.customerId, document.id, ...row);
      if (result.changes === 0) {
        throw new AppError('ALREADY_EXISTS', `Record ${document.customerId}/${document.id} already exists`);
      }
      return { document, etag: row[0] };
    });
  }

  createMany(documents: readonly RecordDocument[], options?: OperationOptions): Promise<CreateManyResult> {
    return this.#run(() => {
      let created = 0;
      // One commit (one fsync) for the batch instead of one per record: what makes a bulk load fast.
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        for (const document of documents) {
          const row = this.#row(document);
          charge(options, estimateWriteUnits(Buffer.byteLength(row[6]), RECORD_INDEXED_TERMS));
          created += Number(this.#statements.insert.run(document.customerId, document.id, ...row).changes);
        }
        this.#db.exec('COMMIT');
      } catch (error) {
        this.#db.exec('ROLLBACK');
        throw error;
      }
      return { created, existing: documents.length - created };
    });
  }

  replace(
    document: RecordDocument,
    condition: WriteCondition,
    options?: OperationOptions,
  ): Promise<StoredDocument> {
    return this.#run(() => {
      const row = this.#row(document);
      charge(options, estimateWriteUnits(Buffer.byteLength(row[6]), RECORD_INDEXED_TERMS));
      const result =
        condition.ifMatch === undefined
          ? this.#statements.update.run(...row, document.customerId, document.id)
          : this.#statements.updateIfMatch.run(...row, document.customerId, document.id, condition.ifMatch);
      if (result.changes === 0) throw this.#missOrStale(document);
      return { document, etag: row[0] };
    });
  }

  delete(key: RecordKey, condition: WriteCondition, options?: OperationOptions): Promise<void> {
    return this.#run(() => {
      charge(options, estimateDeleteUnits(RECORD_INDEXED_TERMS));
      const result =
        condition.ifMatch === undefined
          ? this.#statements.delete.run(key.customerId, key.id)
          : this.#statements.deleteIfMatch.run(key.customerId, key.id, condition.ifMatch);
      if (result.changes === 0) throw this.#missOrStale(key);
    });
  }

  list(request: ListRequest, options?: OperationOptions): Promise<ListResult> {
    return this.#run(() => {
      const { sql, params } = listStatement(request, isBillingProfile(this.#profile));
      const rows = this.#db.prepare(sql).all(...params) as unknown as Array<Row & { doc_bytes: number }>;
      // Charged for the documents the query loads, whatever it returns (as the model has it).
      charge(options, () => estimateQueryUnits(rows.reduce((sum, row) => sum + row.doc_bytes, 0)));
      const items = rows.slice(0, request.limit).map((row): ListItem => {
        const { document } = toStored(row, this.#profile);
        return { summary: summaryOf(document), tier: document.tier };
      });
      const last = items.at(-1)?.summary;
      const next =
        rows.length > request.limit && last !== undefined
          ? { issuedAt: last.issuedAt, id: last.id }
          : undefined;
      return { items, next };
    });
  }

  scan(request: ScanRequest, options?: OperationOptions): Promise<ScanPage> {
    return this.#run(() => {
      const where = new SqlWhere()
        .add('tier = ?', request.tier)
        .addIf(request.issuedFrom, 'issued_at >= ?')
        .addIf(request.issuedBefore, 'issued_at < ?')
        .addIf(request.modifiedSinceMs, 'modified_ms >= ?')
        .addIf(request.customerId, 'customer_id = ?');
      if (request.after !== undefined) {
        const { issuedAt, customerId, id } = request.after;
        where.after(['issued_at', 'customer_id', 'id'], [issuedAt, customerId, id]);
      }
      // The columns a billing document's write fills; json_extract for any other row (a foreign profile's,
      // one written before the columns or by a writer that does not know them), which parses its document
      // in SQLite: the body never leaves it.
      const facts = scanFacts(this.#profile);
      const sql = `SELECT customer_id, id, issued_at, etag, modified_ms,
          CASE WHEN derived_etag = etag THEN updated_at ELSE json_extract(doc, '${facts.updatedAt}') END AS updated_at,
          CASE WHEN derived_etag = etag THEN version ELSE json_extract(doc, '${facts.version}') END AS version,
          CASE WHEN derived_etag = etag THEN sys ELSE json_extract(doc, '$.sys') END AS sys
        FROM records WHERE ${where.toString()} ORDER BY issued_at, customer_id, id LIMIT ?`;
      const rows = this.#db.prepare(sql).all(...where.params, request.limit + 1) as unknown as ScanRow[];
      charge(options, () => estimateQueryUnits(Buffer.byteLength(JSON.stringify(rows))));
      const items: ScanItem[] = rows.slice(0, request.limit).map((row) => ({
        customerId: row.customer_id,
        id: row.id,
        issuedAt: row.issued_at,
        // A foreign profile's document written before adoption has no system property: hot, version 1.
        updatedAt: row.updated_at ?? new Date(row.modified_ms).toISOString(),
        version: row.version ?? 1,
        etag: row.etag,
        modifiedAtMs: row.modified_ms,
        sys: row.sys === null ? { tier: 'hot' } : (JSON.parse(row.sys) as PersistedSys),
      }));
      const last = items.at(-1);
      const next =
        rows.length > request.limit && last !== undefined
          ? { issuedAt: last.issuedAt, customerId: last.customerId, id: last.id }
          : undefined;
      return { items, next };
    });
  }

  countByTier(): Promise<TierCounts> {
    return this.#run(() => {
      const rows = this.#statements.countByTier.all() as unknown as Array<{
        tier: string;
        n: number;
        bytes: number;
      }>;
      const of = (tier: string) => rows.find((row) => row.tier === tier);
      return {
        hot: of('hot')?.n ?? 0,
        archived: of('archived')?.n ?? 0,
        hotBytes: of('hot')?.bytes ?? 0,
        archivedBytes: of('archived')?.bytes ?? 0,
      };
    });
  }

  /** A local file: nothing provisioned to share. */
  readThroughput(): Promise<ContainerThroughput> {
    return Promise.resolve({ kind: 'embedded' });
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

  /**
   * The column values after (customer_id, id): etag, issued_at, status, invoice_number, tier, modified_ms,
   * doc, api_end, and for a billing document version, updated_at, sys and derived_etag (the etag itself).
   */
  #row(document: RecordDocument): RowValues {
    const { json: doc, apiEnd, sysJson } = persistedJson(document);
    if (Buffer.byteLength(doc) > MAX_DOCUMENT_BYTES) {
      throw new AppError(
        'RECORD_TOO_LARGE',
        `Record ${document.customerId}/${document.id} is ${Buffer.byteLength(doc)} bytes stored; the limit is ${MAX_DOCUMENT_BYTES}`,
      );
    }
    const summary = summaryOf(document);
    const etag = `"${randomUUID()}"`;
    return [
      etag,
      summary.issuedAt,
      // A foreign profile's summary has neither: the billing list filters are refused for it.
      summary.status ?? '',
      summary.invoiceNumber ?? '',
      document.tier,
      this.#nowMs(),
      doc,
      apiEnd ?? null,
      ...(isBillingProfile(this.#profile)
        ? ([summary.version ?? null, summary.updatedAt ?? null, sysJson, etag] as const)
        : ([null, null, null, null] as const)),
    ];
  }

  #missOrStale(key: RecordKey): AppError {
    const exists = this.#statements.exists.get(key.customerId, key.id) !== undefined;
    return exists
      ? new AppError('PRECONDITION_FAILED', `Record ${key.customerId}/${key.id} has changed`)
      : new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
  }

  #run<T>(work: () => T): Promise<T> {
    return runSqlite('hot store', work);
  }

  /**
   * For tests of old schema versions: writes a raw persisted document as an older release would have.
   * With a foreign profile: a document as its owner wrote it before adoption (no system property).
   */
  insertRaw(raw: Record<string, unknown> & { id: string; customerId?: string }): void {
    if (!isBillingProfile(this.#profile)) {
      const document = fromPersisted(raw, this.#profile, this.#nowMs());
      const [etag, issuedAt] = this.#row(document);
      this.#db
        .prepare(
          "INSERT INTO records (customer_id, id, etag, issued_at, status, invoice_number, tier, modified_ms, doc) VALUES (?, ?, ?, ?, '', '', 'hot', ?, ?)",
        )
        .run(document.customerId, document.id, etag, issuedAt, this.#nowMs(), JSON.stringify(raw));
      return;
    }
    if (raw.customerId === undefined) throw new Error('A billing document needs a customerId');
    const summary = raw as { issuedAt?: string; status?: string; invoiceNumber?: string };
    this.#db
      .prepare(
        'INSERT INTO records (customer_id, id, etag, issued_at, status, invoice_number, tier, modified_ms, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        raw.customerId,
        raw.id,
        `"${randomUUID()}"`,
        summary.issuedAt ?? '',
        summary.status ?? '',
        summary.invoiceNumber ?? '',
        'hot',
        Date.now(),
        JSON.stringify(raw),
      );
  }

  /** For tests: SQLite's query plan of a list request, one line per step. */
  explainList(request: ListRequest): string[] {
    const { sql, params } = listStatement(request, isBillingProfile(this.#profile));
    const steps = this.#db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as unknown as Array<{
      detail: string;
    }>;
    return steps.map((step) => step.detail);
  }
}

/**
 * A list page's query: one more row than the page tells whether there is a next page. A billing record's
 * summary is its document without `lineItems` and `metadata`:
 * SQLite drops them (most of a record's bytes) before the rows reach JavaScript, as the Cosmos query
 * projects the summary fields. A foreign profile's summary needs its whole document.
 */
function listStatement(request: ListRequest, billing: boolean): { sql: string; params: SQLInputValue[] } {
  const where = new SqlWhere()
    .add('customer_id = ?', request.customerId)
    .addIf(request.issuedFrom, 'issued_at >= ?')
    .addIf(request.issuedTo, 'issued_at < ?')
    .addIf(request.status, 'status = ?')
    .addIf(request.invoiceNumber, 'invoice_number = ?');
  if (request.after !== undefined) {
    const { issuedAt, id } = request.after;
    where.add('(issued_at < ? OR (issued_at = ? AND id < ?))', issuedAt, issuedAt, id);
  }
  // Without statistics the planner prefers the issuedAt index for a date window, then filters every
  // record of the window; the invoice index narrows to the matches first and keeps the order.
  const from =
    request.invoiceNumber !== undefined ? 'records INDEXED BY records_by_customer_invoice' : 'records';
  return {
    sql: `SELECT etag, ${billing ? "json_remove(doc, '$.lineItems', '$.metadata') AS doc" : 'doc'}, octet_length(doc) AS doc_bytes, modified_ms FROM ${from} WHERE ${where.toString()} ORDER BY issued_at DESC, id DESC LIMIT ?`,
    params: [...where.params, request.limit + 1],
  };
}

function toStored(row: Row, profile: RecordProfile): StoredDocument {
  const raw = JSON.parse(row.doc) as Record<string, unknown>;
  return { document: fromPersisted(raw, profile, row.modified_ms), etag: row.etag };
}

/** Where scan() finds a document's last write and version: its own fields, or the system property. */
function scanFacts(profile: RecordProfile): { readonly updatedAt: string; readonly version: string } {
  if (isBillingProfile(profile)) return { updatedAt: '$.updatedAt', version: '$.version' };
  return {
    updatedAt: '$.sys.updatedAt',
    version: profile.versionPath === undefined ? '$.sys.version' : `$.${propertyOf(profile.versionPath)}`,
  };
}
