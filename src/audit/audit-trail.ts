// The audit trail of one writer instance: it chains events (one chain per instance), writes a mutating
// request's event before the request is answered, batches read events for at most `flushIntervalMs`,
// and flushes what is left on close. Appends are serialised, so the chain is written in order.
import {
  type AuditEntry,
  type AuditEvent,
  type ChainBreak,
  chainEvents,
  verifyChain,
} from '../domain/audit-event.ts';
import { AppError, describeError } from '../domain/errors.ts';
import type { AuditLog, AuditPage, AuditQuery } from '../ports/audit-log.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { OperationOptions } from '../ports/operation-options.ts';

export const DEFAULT_FLUSH_INTERVAL_MS = 1_000;
/** Read events kept while the log is down; past this the oldest are dropped, loudly. */
export const DEFAULT_MAX_PENDING = 50_000;
/**
 * Events in one append. A busy second queues thousands of read events, and the embedded log writes them
 * on the event loop (about 11 µs each with their indexes): appends of this size, with the loop turning
 * between them, keep each stall to a few milliseconds (and an append blob's block well under its 4 MiB).
 */
export const MAX_EVENTS_PER_APPEND = 500;

export interface AuditTrailDependencies {
  readonly log: AuditLog;
  readonly clock: Clock;
  readonly logger: Logger;
  /** This writer's chain id: one per process (instance). */
  readonly chain: string;
  readonly flushIntervalMs?: number;
  readonly maxPending?: number;
  /** Told of every event made durable (audit_events_total). */
  readonly onWritten?: (events: readonly AuditEvent[]) => void;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Events re-computed. */
  readonly checked: number;
  readonly chains: number;
  /** The seq of the first broken link, or null. */
  readonly firstBroken: number | null;
  readonly brokenChain: string | null;
  readonly problem: string | null;
}

interface Pending {
  readonly entry: AuditEntry;
  readonly settle?: { resolve(): void; reject(error: unknown): void };
}

export class AuditTrail {
  readonly #deps: AuditTrailDependencies;
  readonly #flushIntervalMs: number;
  readonly #maxPending: number;
  #pending: Pending[] = [];
  #head: { seq: number; hash: string } | undefined;
  #writing: Promise<void> = Promise.resolve();
  #timer: AbortController | undefined;
  #lastAppendFailed = false;
  #closed = false;

  constructor(dependencies: AuditTrailDependencies) {
    this.#deps = dependencies;
    this.#flushIntervalMs = dependencies.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.#maxPending = dependencies.maxPending ?? DEFAULT_MAX_PENDING;
  }

  get chain(): string {
    return this.#deps.chain;
  }

  /** False while the log refuses appends: a mutating request is then refused before it changes anything. */
  writable(): boolean {
    return !this.#lastAppendFailed && !this.#closed;
  }

  /** A read's event: written with the next batch, within the flush interval. */
  recordLater(entry: AuditEntry): void {
    if (this.#closed) {
      this.#deps.logger.error({ audit: entry }, 'audit event after close, not written');
      return;
    }
    if (this.#pending.length >= this.#maxPending) {
      const dropped = this.#pending.findIndex((pending) => pending.settle === undefined);
      if (dropped >= 0) {
        const [lost] = this.#pending.splice(dropped, 1);
        this.#deps.logger.error({ audit: lost?.entry }, 'audit buffer full: oldest read event dropped');
      }
    }
    this.#pending.push({ entry });
    this.#scheduleFlush();
  }

  /**
   * A mutating request's event: resolves once it (and every event queued before it) is durable.
   * Rejects with UNAVAILABLE when the log refuses it; the event stays queued and is retried.
   */
  recordNow(entry: AuditEntry): Promise<void> {
    if (this.#closed) return Promise.reject(new AppError('UNAVAILABLE', 'The audit trail is closed'));
    const durable = new Promise<void>((resolve, reject) => {
      this.#pending.push({ entry, settle: { resolve, reject } });
    });
    void this.flush().catch(() => undefined);
    return durable;
  }

  /** Writes everything queued so far; rejects when the log refused the batch. */
  flush(options?: OperationOptions): Promise<void> {
    const next = this.#writing.catch(() => undefined).then(() => this.#writeQueued(options));
    this.#writing = next;
    return next;
  }

  /** What is queued now, in appends of at most MAX_EVENTS_PER_APPEND, letting the event loop turn between them. */
  async #writeQueued(options?: OperationOptions): Promise<void> {
    let left = this.#pending.length;
    while (left > 0) {
      const size = Math.min(left, MAX_EVENTS_PER_APPEND);
      await this.#writeBatch(size, options);
      left -= size;
      if (left > 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async #writeBatch(size: number, options?: OperationOptions): Promise<void> {
    const batch = this.#pending.splice(0, size);
    if (batch.length === 0) return;
    const events = chainEvents(
      this.#deps.chain,
      this.#head,
      batch.map((pending) => pending.entry),
    );
    try {
      await this.#deps.log.append(events, options);
    } catch (error) {
      this.#lastAppendFailed = true;
      // Nothing of the batch was stored (appends are all or nothing): keep every entry, in order, for
      // the next attempt; the chain head does not move. A request waiting on an event queued behind this
      // batch is refused now too, as it would have been with the batch, rather than left waiting for a retry.
      const queued = [...batch, ...this.#pending];
      const waiting = queued.filter((pending) => pending.settle !== undefined);
      this.#pending = queued.map((pending) => ({ entry: pending.entry }));
      this.#deps.logger.error(
        { err: error, queued: this.#pending.length },
        'audit append failed; events kept for retry',
      );
      const refused = new AppError(
        'UNAVAILABLE',
        `The audit log refused the event: ${describeError(error)}`,
        {
          cause: error,
          retryAfterMs: this.#flushIntervalMs,
        },
      );
      for (const pending of waiting) pending.settle?.reject(refused);
      this.#scheduleFlush();
      throw refused;
    }
    const last = events.at(-1)!;
    this.#head = { seq: last.seq, hash: last.hash };
    this.#lastAppendFailed = false;
    this.#deps.onWritten?.(events);
    for (const pending of batch) pending.settle?.resolve();
  }

  #scheduleFlush(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const timer = new AbortController();
    this.#timer = timer;
    this.#deps.clock
      .sleep(this.#flushIntervalMs, timer.signal)
      .then(
        () => {
          this.#timer = undefined;
          return this.flush();
        },
        () => undefined,
      )
      .catch(() => undefined);
  }

  query(query: AuditQuery, options?: OperationOptions): Promise<AuditPage> {
    return this.#deps.log.query(query, options);
  }

  /** Re-computes every chain in the log (this writer's queued events first) and names the first broken link. */
  async verify(options?: OperationOptions): Promise<AuditVerification> {
    await this.flush(options).catch(() => undefined);
    let checked = 0;
    let chains = 0;
    let broken: ChainBreak | undefined;
    for await (const stored of this.#deps.log.chains(options)) {
      chains++;
      const found = verifyChain(stored.chain, stored.events, stored);
      checked += found === undefined ? stored.events.length : Math.max(0, found.seq - 1);
      if (found !== undefined && broken === undefined) broken = found;
    }
    return {
      ok: broken === undefined,
      checked,
      chains,
      firstBroken: broken?.seq ?? null,
      brokenChain: broken?.chain ?? null,
      problem: broken?.problem ?? null,
    };
  }

  /** Flushes what is queued (shutdown) and stops the timer; later events are refused. */
  async close(): Promise<void> {
    this.#timer?.abort();
    this.#timer = undefined;
    try {
      await this.flush();
    } catch (error) {
      this.#deps.logger.error(
        { err: error, lost: this.#pending.map((pending) => pending.entry) },
        'audit events could not be written at shutdown',
      );
    } finally {
      this.#closed = true;
    }
  }
}
