// The audit trail in the embedded SQLite file (its own tables and connection): events in append order,
// each chain's head anchored in a second table updated in the same transaction.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { AuditEvent, ChainHead } from '../../domain/audit-event.ts';
import { auditPageOf } from '../../domain/audit-cursor.ts';
import { AppError } from '../../domain/errors.ts';
import type { AuditLog, AuditPage, AuditQuery, StoredChain } from '../../ports/audit-log.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { openSqliteDatabase, runSqlite, SqlWhere } from './sqlite-database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  pos         INTEGER PRIMARY KEY AUTOINCREMENT,
  chain       TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  at          TEXT NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  customer_id TEXT,
  record_id   TEXT,
  event       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_order ON audit_events (at, chain, seq);
CREATE INDEX IF NOT EXISTS audit_events_customer ON audit_events (customer_id, at);
CREATE INDEX IF NOT EXISTS audit_events_record ON audit_events (record_id, at);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor, at);
CREATE INDEX IF NOT EXISTS audit_events_chain ON audit_events (chain, pos);
CREATE TABLE IF NOT EXISTS audit_heads (
  chain TEXT PRIMARY KEY,
  seq   INTEGER NOT NULL,
  hash  TEXT NOT NULL
);
`;

export class SqliteAuditLog implements AuditLog {
  readonly #db: DatabaseSync;
  readonly #statements: Record<'head' | 'insert' | 'setHead' | 'chainIds' | 'chainEvents', StatementSync>;

  constructor(options: { readonly path: string }) {
    this.#db = openSqliteDatabase(options.path);
    this.#db.exec(SCHEMA);
    this.#statements = {
      head: this.#db.prepare('SELECT chain, seq, hash FROM audit_heads WHERE chain = ?'),
      insert: this.#db.prepare(
        'INSERT INTO audit_events (chain, seq, at, actor, action, customer_id, record_id, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      setHead: this.#db.prepare('INSERT OR REPLACE INTO audit_heads (chain, seq, hash) VALUES (?, ?, ?)'),
      chainIds: this.#db.prepare(
        'SELECT chain FROM audit_heads UNION SELECT DISTINCT chain FROM audit_events ORDER BY chain',
      ),
      chainEvents: this.#db.prepare('SELECT event FROM audit_events WHERE chain = ? ORDER BY pos'),
    };
  }

  append(events: readonly AuditEvent[], _options?: OperationOptions): Promise<void> {
    return runSqlite('audit append', () => {
      const first = events[0];
      const last = events.at(-1);
      if (first === undefined || last === undefined) return;
      if (events.some((event) => event.chain !== first.chain))
        throw new AppError('INTERNAL', 'An audit append holds events of one chain only');
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const head = this.#statements.head.get(first.chain) as ChainHead | undefined;
        const linked =
          head === undefined ? first.seq === 1 : head.seq + 1 === first.seq && head.hash === first.prevHash;
        if (!linked) {
          throw new AppError(
            'PRECONDITION_FAILED',
            `Audit chain ${first.chain} is at seq ${head?.seq ?? 0}; an append starting at seq ${first.seq} does not link to it`,
          );
        }
        for (const event of events) {
          this.#statements.insert.run(
            event.chain,
            event.seq,
            event.at,
            event.actor.sub,
            event.action,
            event.customerId,
            event.recordId,
            JSON.stringify(event),
          );
        }
        this.#statements.setHead.run(last.chain, last.seq, last.hash);
        this.#db.exec('COMMIT');
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  query(query: AuditQuery, _options?: OperationOptions): Promise<AuditPage> {
    return runSqlite('audit query', () => {
      const where = new SqlWhere()
        .addIf(query.customerId, 'customer_id = ?')
        .addIf(query.recordId, 'record_id = ?')
        .addIf(query.actor, 'actor = ?')
        .addIf(query.action, 'action = ?')
        .addIf(query.from, 'at >= ?')
        .addIf(query.to, 'at < ?');
      if (query.after !== undefined) {
        const { at, chain, seq } = query.after;
        where.after(['at', 'chain', 'seq'], [at, chain, seq]);
      }
      const rows = this.#db
        .prepare(`SELECT event FROM audit_events WHERE ${where.toString()} ORDER BY at, chain, seq LIMIT ?`)
        .all(...where.params, query.limit + 1) as Array<{ event: string }>;
      return auditPageOf(
        rows.map((row) => JSON.parse(row.event) as AuditEvent),
        query.limit,
      );
    });
  }

  async *chains(_options?: OperationOptions): AsyncIterable<StoredChain> {
    const ids = await runSqlite('audit read', () =>
      (this.#statements.chainIds.all() as Array<{ chain: string }>).map((row) => row.chain),
    );
    for (const chain of ids) {
      yield await runSqlite('audit read', () => {
        const head = this.#statements.head.get(chain) as ChainHead | undefined;
        const events = (this.#statements.chainEvents.all(chain) as Array<{ event: string }>).map(
          (row) => JSON.parse(row.event) as AuditEvent,
        );
        return {
          chain,
          events,
          ...(head !== undefined ? { head: { chain: head.chain, seq: head.seq, hash: head.hash } } : {}),
        };
      });
    }
  }

  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}
