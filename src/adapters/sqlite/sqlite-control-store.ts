// The archiver's control documents (run reports, watermarks, checkpoints) and slice leases in a SQLite
// file of the data folder: the embedded default's stand-in for the Blob control container. Each call is
// one immediate transaction, so the conditions and leases hold across processes (server and CLI) as
// they do on Blob; leases expire on the injected clock, and keep Blob's rules (15 to 60 s, fencing).
// One thing Blob cannot know and a local file can: whether the holder's process still runs. A lease of a
// dead process (a server killed mid-run) ends at once, so its restart does not wait out the lease;
// correctness never depended on a lease, and fencing still holds (the dead process writes nothing).
import { assertLeaseDuration, assertWriteHoldsLease } from '../../domain/lease-rules.ts';
import { randomUUID } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { AppError } from '../../domain/errors.ts';
import type { ArchivalControlStore, ControlDocument, Lease } from '../../ports/archival-control-store.ts';
import type { Clock } from '../../ports/clock.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { openSqliteDatabase, runSqlite } from './sqlite-database.ts';

export interface SqliteControlStoreOptions {
  /** A file path, or `:memory:` for tests. */
  readonly path: string;
  /** Leases expire on this clock; the wall clock by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS control_documents (
  name              TEXT PRIMARY KEY,
  json              TEXT NOT NULL,
  etag              TEXT NOT NULL,
  lease_id          TEXT,
  lease_duration_ms INTEGER,
  lease_expires_ms  INTEGER,
  lease_holder_pid  INTEGER
) WITHOUT ROWID;
`;

interface Row {
  json: string;
  etag: string;
  lease_id: string | null;
  lease_duration_ms: number | null;
  lease_expires_ms: number | null;
  lease_holder_pid: number | null;
}

interface WriteCondition {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: '*';
  readonly lease?: Lease;
}

export class SqliteControlStore implements ArchivalControlStore {
  readonly #db: DatabaseSync;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #statements: Record<'get' | 'upsert' | 'list' | 'setLease', StatementSync>;
  #closed = false;

  constructor(options: SqliteControlStoreOptions) {
    this.#db = openSqliteDatabase(options.path);
    this.#db.exec(SCHEMA);
    this.#clock = options.clock ?? { now: () => new Date() };
    this.#statements = {
      get: this.#db.prepare(
        'SELECT json, etag, lease_id, lease_duration_ms, lease_expires_ms, lease_holder_pid FROM control_documents WHERE name = ?',
      ),
      upsert: this.#db.prepare(
        'INSERT OR REPLACE INTO control_documents (name, json, etag, lease_id, lease_duration_ms, lease_expires_ms, lease_holder_pid) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      // Names in their UTF-8 byte order (BINARY collation), as a Blob listing answers them.
      list: this.#db.prepare(
        'SELECT name FROM control_documents WHERE substr(name, 1, length(?)) = ? AND name >= ? ORDER BY name',
      ),
      setLease: this.#db.prepare(
        'UPDATE control_documents SET lease_id = ?, lease_duration_ms = ?, lease_expires_ms = ?, lease_holder_pid = ? WHERE name = ?',
      ),
    };
  }

  read<T>(name: string, options?: OperationOptions): Promise<ControlDocument<T> | undefined> {
    return this.#run(options, () => {
      const row = this.#get(name);
      return row === undefined ? undefined : { value: parse<T>(name, row.json), etag: row.etag };
    });
  }

  write<T>(name: string, value: T, condition: WriteCondition, options?: OperationOptions): Promise<string> {
    return this.#run(options, () => {
      const json = JSON.stringify(value) as string | undefined;
      if (json === undefined) throw new AppError('INTERNAL', `Control document ${name} is not JSON`);
      return this.#transaction(() => {
        const row = this.#get(name);
        if (condition.ifNoneMatch === '*' && row !== undefined) {
          throw new AppError('ALREADY_EXISTS', `Control document ${name} exists`);
        }
        if (condition.ifMatch !== undefined && row?.etag !== condition.ifMatch) {
          throw new AppError('PRECONDITION_FAILED', `Control document ${name} has changed`);
        }
        // As Blob: a leased document refuses a write without its lease, and a lost lease fences its writer off.
        const live = this.#isLive(row) ? row : undefined;
        assertWriteHoldsLease(name, live?.lease_id ?? undefined, condition.lease?.leaseId);
        const etag = newEtag();
        // An expired lease ends with the document's next change: Blob forgets its id then.
        this.#statements.upsert.run(
          name,
          json,
          etag,
          live?.lease_id ?? null,
          live?.lease_duration_ms ?? null,
          live?.lease_expires_ms ?? null,
          live?.lease_holder_pid ?? null,
        );
        return etag;
      });
    });
  }

  list(prefix: string, options?: OperationOptions): Promise<string[]> {
    return this.#run(options, () =>
      (this.#statements.list.all(prefix, prefix, prefix) as Array<{ name: string }>).map((row) => row.name),
    );
  }

  acquireLease(
    name: string,
    durationSeconds: number,
    options?: OperationOptions,
  ): Promise<Lease | undefined> {
    return this.#run(options, () => {
      assertLeaseDuration(durationSeconds);
      return this.#transaction(() => {
        const row = this.#get(name);
        if (this.#isLive(row)) return undefined;
        const leaseId = randomUUID();
        const durationMs = durationSeconds * 1_000;
        const expires = this.#nowMs() + durationMs;
        // A lease needs a document to hold, as a Blob lease needs a blob: created with null, etag kept otherwise.
        if (row === undefined) {
          this.#statements.upsert.run(name, 'null', newEtag(), leaseId, durationMs, expires, process.pid);
        } else {
          this.#statements.setLease.run(leaseId, durationMs, expires, process.pid, name);
        }
        return { name, leaseId };
      });
    });
  }

  renewLease(lease: Lease, options?: OperationOptions): Promise<boolean> {
    return this.#run(options, () =>
      this.#transaction(() => {
        const row = this.#get(lease.name);
        // An expired lease stays renewable until another holder takes it, as with Blob leases.
        if (row?.lease_id !== lease.leaseId || row.lease_duration_ms === null) return false;
        this.#statements.setLease.run(
          lease.leaseId,
          row.lease_duration_ms,
          this.#nowMs() + row.lease_duration_ms,
          process.pid,
          lease.name,
        );
        return true;
      }),
    );
  }

  releaseLease(lease: Lease, options?: OperationOptions): Promise<void> {
    return this.#run(options, () =>
      this.#transaction(() => {
        if (this.#get(lease.name)?.lease_id === lease.leaseId) {
          this.#statements.setLease.run(null, null, null, null, lease.name);
        }
      }),
    );
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #get(name: string): Row | undefined {
    return this.#statements.get.get(name) as Row | undefined;
  }

  #isLive(row: Row | undefined): row is Row {
    if (row?.lease_id == null || (row.lease_expires_ms ?? 0) <= this.#nowMs()) return false;
    return row.lease_holder_pid === null || isRunning(row.lease_holder_pid);
  }

  #nowMs(): number {
    return this.#clock.now().getTime();
  }

  /** One immediate transaction: its reads and its write see no other process's write in between. */
  #transaction<T>(work: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  #run<T>(options: OperationOptions | undefined, work: () => T): Promise<T> {
    if (options?.abortSignal?.aborted === true) return Promise.reject(options.abortSignal.reason as Error);
    if (this.#closed) {
      return Promise.reject(
        new AppError('UNAVAILABLE', 'The SQLite control store is closed', { retryable: false }),
      );
    }
    return runSqlite('control store', work);
  }
}

/** Whether a process of this host runs (EPERM: it does, under another user). */
function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

function newEtag(): string {
  return `"${randomUUID()}"`;
}

function parse<T>(name: string, json: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (error) {
    throw new AppError('INTERNAL', `Control document ${name} is not JSON`, { cause: error });
  }
}
