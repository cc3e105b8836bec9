// The archival use cases behind every edge (admin API, CLI, scheduler, Functions timer): start a run in
// the background or run one to the end, read reports and status, rehydrate, hold, pin, verify, collect.
import { AppError } from '../domain/errors.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { SystemFields } from '../domain/record-document.ts';
import type { ArchivedRecordReader } from '../records/archived-record-reader.ts';
import { archivalStatus, type ArchivalStatus } from './archival-status.ts';
import { ArchivalEngine, type ArchivalEngineDependencies, newRunId, type RunOptions } from './archive-run.ts';
import { verifyArchive, type VerifyResult } from './archive-verify.ts';
import { collectUnreferencedBlobs, type CollectorCounts, type CollectorOptions } from './blob-collector.ts';
import { createRecordControls, type RecordControls } from './record-controls.ts';
import { rehydrate, type RehydrationResult } from './rehydration.ts';
import { listRunReports, readRunReport, type RunReport } from './run-reports.ts';

export interface ArchivalServiceDependencies extends ArchivalEngineDependencies {
  readonly reader: ArchivedRecordReader;
  readonly collectorSafetyWindowMs?: number;
}

export class ArchivalService {
  readonly #deps: ArchivalServiceDependencies;
  readonly #engine: ArchivalEngine;
  readonly #controls: RecordControls;
  /** Runs this process started and has not finished: cancelled (and awaited) on shutdown. */
  readonly #running = new Map<string, { controller: AbortController; done: Promise<RunReport> }>();

  constructor(dependencies: ArchivalServiceDependencies) {
    this.#deps = dependencies;
    this.#engine = new ArchivalEngine(dependencies);
    this.#controls = createRecordControls(dependencies.store, dependencies.clock);
  }

  /** Starts a run in the background and answers at once with its id (the 202 of the admin API). */
  startRun(options: Omit<RunOptions, 'runId' | 'abortSignal'>): { runId: string } {
    const runId = newRunId(this.#deps.clock.now());
    const controller = new AbortController();
    const done = this.#engine
      .run({ ...options, runId, abortSignal: controller.signal })
      .finally(() => this.#running.delete(runId));
    this.#running.set(runId, { controller, done });
    done.catch((error: unknown) => this.#deps.log.error({ runId, err: error }, 'archival run crashed'));
    return { runId };
  }

  /** Runs to the end in this call (CLI, scheduler, Functions timer). */
  run(options: RunOptions = {}): Promise<RunReport> {
    return this.#engine.run(options);
  }

  async getRun(runId: string): Promise<RunReport> {
    const report = await readRunReport(this.#deps.control, runId, this.#deps.clock.now());
    if (report === undefined) throw new AppError('NOT_FOUND', `No archival run ${runId}`);
    return report;
  }

  listRuns(limit?: number): Promise<RunReport[]> {
    return listRunReports(this.#deps.control, this.#deps.clock.now(), limit);
  }

  status(): Promise<ArchivalStatus> {
    return archivalStatus(this.#deps, this.#deps.clock.now());
  }

  rehydrate(key: RecordKey): Promise<RehydrationResult> {
    return rehydrate({ store: this.#deps.store, reader: this.#deps.reader, clock: this.#deps.clock }, key);
  }

  setLegalHold(key: RecordKey, reason: string): Promise<SystemFields> {
    return this.#controls.setLegalHold(key, reason);
  }

  clearLegalHold(key: RecordKey): Promise<SystemFields> {
    return this.#controls.clearLegalHold(key);
  }

  pin(key: RecordKey): Promise<SystemFields> {
    return this.#controls.pin(key);
  }

  unpin(key: RecordKey): Promise<SystemFields> {
    return this.#controls.unpin(key);
  }

  /**
   * Gives parked items (or one) a fresh start: their ledger entries go, so the next run copies the
   * record again from scratch. Safe: a stale copy's blob is left to the collector.
   */
  async unpark(key?: RecordKey): Promise<number> {
    let released = 0;
    for (;;) {
      const page = await this.#deps.ledger.query({
        parked: true,
        limit: 100,
        ...(key ? { customerId: key.customerId } : {}),
      });
      const items = page.items.filter((stored) => key === undefined || stored.entry.id === key.id);
      for (const stored of items) {
        if (await this.#deps.ledger.delete(stored.entry, { ifMatch: stored.etag }).catch(() => false))
          released += 1;
      }
      if (items.length === 0 || key !== undefined) return released;
    }
  }

  verify(options: Parameters<typeof verifyArchive>[1] = {}): Promise<VerifyResult> {
    return verifyArchive(this.#deps, options);
  }

  collect(options: CollectorOptions = {}): Promise<CollectorCounts> {
    return collectUnreferencedBlobs(this.#deps, {
      ...(this.#deps.collectorSafetyWindowMs !== undefined
        ? { safetyWindowMs: this.#deps.collectorSafetyWindowMs }
        : {}),
      ...options,
    });
  }

  /** Cancels this process's runs (they stop between batches, leaving checkpoints) and waits for them. */
  async shutdown(): Promise<void> {
    for (const { controller } of this.#running.values()) controller.abort();
    await Promise.allSettled([...this.#running.values()].map((run) => run.done));
  }

  /** Waits for a background run this process started (tests, CLI). */
  async waitForRun(runId: string): Promise<RunReport> {
    const running = this.#running.get(runId);
    return running === undefined ? this.getRun(runId) : running.done;
  }
}
