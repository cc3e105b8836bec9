// The audit trail's store: append-only events, one hash chain per writer instance, each chain's head
// anchored beside its events. Embedded: a SQLite table in the data folder; Azure: append blobs (a blob
// per day and instance) in a container under a time-based immutability policy.
import type { AuditAction, AuditEvent, ChainHead } from '../domain/audit-event.ts';
import type { OperationOptions } from './operation-options.ts';

/** A place in the log's query order: `at`, then chain, then seq. */
export interface AuditPosition {
  readonly at: string;
  readonly chain: string;
  readonly seq: number;
}

export interface AuditQuery {
  readonly customerId?: string;
  readonly recordId?: string;
  /** The actor's `sub`. */
  readonly actor?: string;
  readonly action?: AuditAction;
  /** Inclusive lower bound of `at`. */
  readonly from?: string;
  /** Exclusive upper bound of `at`. */
  readonly to?: string;
  readonly limit: number;
  /** Events strictly after this position. */
  readonly after?: AuditPosition;
}

export interface AuditPage {
  /** Oldest first (`at`, chain, seq). */
  readonly items: readonly AuditEvent[];
  /** Set when more events may match. */
  readonly next: AuditPosition | undefined;
}

/** One chain as stored: its events in the order the store keeps them, and what anchors it. */
export interface StoredChain {
  readonly chain: string;
  readonly events: readonly AuditEvent[];
  /** The head the store anchored for this chain: the stored chain must end there. */
  readonly head?: ChainHead;
  /** Heads named further on (a new blob's anchor line): each must be an event of the chain. */
  readonly anchors?: readonly ChainHead[];
}

export interface AuditLog {
  /**
   * Appends events of one chain, in order; durable when it resolves, all or none. The first must link
   * to the chain's stored head (or start a new chain at seq 1): PRECONDITION_FAILED otherwise, so two
   * writers can never interleave one chain.
   */
  append(events: readonly AuditEvent[], options?: OperationOptions): Promise<void>;
  query(query: AuditQuery, options?: OperationOptions): Promise<AuditPage>;
  /** Every chain, for verification. */
  chains(options?: OperationOptions): AsyncIterable<StoredChain>;
  close(): Promise<void>;
}

/** Orders positions as the log's queries do. */
export function compareAuditPositions(a: AuditPosition, b: AuditPosition): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  if (a.chain !== b.chain) return a.chain < b.chain ? -1 : 1;
  return a.seq - b.seq;
}

/** Whether an event passes a query's filters (position and limit aside). */
export function matchesAuditQuery(event: AuditEvent, query: Omit<AuditQuery, 'limit'>): boolean {
  return (
    (query.customerId === undefined || event.customerId === query.customerId) &&
    (query.recordId === undefined || event.recordId === query.recordId) &&
    (query.actor === undefined || event.actor.sub === query.actor) &&
    (query.action === undefined || event.action === query.action) &&
    (query.from === undefined || event.at >= query.from) &&
    (query.to === undefined || event.at < query.to) &&
    (query.after === undefined || compareAuditPositions(event, query.after) > 0)
  );
}
