// Opening an embedded SQLite file the same way for every table, and mapping SQLite's own errors.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { AppError } from '../../domain/errors.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';

/** A file path, or `:memory:` (a private database per connection). */
export function openSqliteDatabase(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new (sqliteModule().DatabaseSync)(path);
  // WAL lets readers run beside the writer; FULL sync makes every acknowledged write survive a power cut.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
  return db;
}

/**
 * node:sqlite is loaded when a database is first opened, not when this module is imported: on Node 20
 * (no node:sqlite) the library still loads and serves its Cosmos DB and Blob Storage adapters.
 */
function sqliteModule(): typeof import('node:sqlite') {
  const loaded = process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite') | undefined;
  if (loaded === undefined) {
    // Not retryable: a setup error, not an outage.
    throw new Error(
      `The embedded SQLite stores need Node 22.5 or later (this is ${process.version}): run on Node 22, or open the library with Cosmos DB and Blob Storage`,
    );
  }
  return loaded;
}

/** Runs synchronous statements; SQLite's own errors (a closed or locked file) become UNAVAILABLE. */
export function runSqlite<T>(what: string, work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    if (error instanceof AppError) return Promise.reject(error);
    const message = error instanceof Error ? error.message : String(error);
    return Promise.reject(
      new AppError('UNAVAILABLE', `The SQLite ${what} failed: ${message}`, { cause: error }),
    );
  }
}

/** SQLite reports no request units: callers are told the documented model's estimate, labelled as such. */
export function charge(options: OperationOptions | undefined, requestUnits: number | (() => number)): void {
  const listener = options?.onRequestCharge;
  // Estimated only for a listener: measuring a large document is not free on the hot read path.
  if (listener === undefined) return;
  listener(typeof requestUnits === 'function' ? requestUnits() : requestUnits, true);
}

/** Builds a WHERE clause from optional filters: a filter whose value is undefined adds nothing. */
export class SqlWhere {
  readonly #clauses: string[] = [];
  readonly params: SQLInputValue[] = [];

  add(clause: string, ...values: SQLInputValue[]): this {
    this.#clauses.push(clause);
    this.params.push(...values);
    return this;
  }

  /**
   * Keyset paging: the rows after `values` in the order of `columns`, as one row-value comparison, which
   * SQLite seeks to in an index that has those columns in that order. The same condition spelled as an
   * OR of its terms is only a filter: every page would read again every row before its position.
   */
  after(columns: readonly string[], values: readonly SQLInputValue[]): this {
    return this.add(`(${columns.join(', ')}) > (${columns.map(() => '?').join(', ')})`, ...values);
  }

  addIf<V>(
    value: V | undefined,
    clause: string,
    toParam: (value: V) => SQLInputValue = (v) => v as SQLInputValue,
  ): this {
    return value === undefined ? this : this.add(clause, toParam(value));
  }

  toString(): string {
    return this.#clauses.length === 0 ? '1 = 1' : this.#clauses.join(' AND ');
  }
}
