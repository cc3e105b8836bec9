// The archival use cases behind every edge (admin API, CLI, scheduler, Functions timer): start a run in
// the background or run one to the end, read reports and status, unpark, verify, collect. Changes of a
// record (rehydration, hold, pin) belong to the data-access layer in records/.
import type { BlobProperties } from '../ports/archive-store.ts';
import { AppError } from '../domain/errors.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { LedgerPosition } from '../ports/archive-ledger.ts';
import type { ArchivalRunQueue, QueuedArchivalRun } from '../ports/archival-run-queue.ts';
import { BackgroundTasks } from '../jobs/background-tasks.ts';
import {
  archivalStatus,
  type ArchivalStatus,
  attentionCounts,
  type AttentionCounts,
} from './archival-status.ts';
import { type ArchivalRunner, RunnerLostError } from './archival-runner.ts';
import { ArchivalEngine, type ArchivalEngineDependencies, newRunId, type RunOptions } from './archive-run.ts';
import { verifyArchive, type VerifyResult } from './archive-verify.ts';
import { collectUnreferencedBlobs, type CollectorCounts, type CollectorOptions } from './blob-collector.ts';
import {
  endedReport,
  listRunReports,
  readRunReport,
  type RunReport,
  runRequestOf,
  saveRunReport,
  startedRunReport,
} from './run-reports.ts';

export interface ArchivalServiceDependencies extends ArchivalEngineDependencies {
  readonly collectorSafetyWindowMs?: number;
  /** Told of each tombstone the collector removes (the audit trail). */
  readonly onTombstoneRemoved?: (key: RecordKey, tombstone: BlobProperties) => Promise<void>;
  /**
   * Under Azure Functions: started runs go to this queue and run in a queue-triggered invocation
   * (`runQueued`), never in the background of the HTTP invocation that started them. Absent (the
   * server, the CLI): they run in this process.
   */
  readonly runQueue?: ArchivalRunQueue;
  /** Where runs execute; absent: in this process. `npm start` gives its archival worker process. */
  readonly runner?: ArchivalRunner;
}

export class ArchivalService {
  readonly #deps: ArchivalServiceDependencies;
  readonly #engine: ArchivalEngine;
  /** Runs this process started and has not finished: cancelled (and awaited) on shutdown. */
  readonly #running: BackgroundTasks<RunReport>;

  constructor(dependencies: ArchivalServiceDependencies) {
    this.#deps = dependencies;
    this.#engine = new ArchivalEngine(dependencies);
    this.#running = new BackgroundTasks(dependencies.log);
  }

  /**
   * Starts a run in the background and answers with its id (the 202 of the admin API) once its first
   * report is saved, so the id answers GET .../runs/{runId} from the moment it is handed out.
   */
  async startRun(options: Omit<RunOptions, 'runId' | 'abortSignal'>): Promise<{ runId: string }> {
    const now = this.#deps.clock.now();
    const runId = newRunId(now);
    const request = runRequestOf(options);
    await saveRunReport(this.#deps.control, startedRunReport(runId, request, now));
    const queue = this.#deps.runQueue;
    if (queue === undefined) {
      this.#running.start(runId, (abortSignal) => this.#execute({ ...options, runId, abortSignal }));
      return { runId };
    }
    try {
      await queue.enqueue({ runId, ...request });
    } catch (error) {
      // The id was not handed out: its report says it never ran, and the caller sees the outage.
      await saveRunReport(this.#deps.control, {
        ...startedRunReport(runId, request, now),
        status: 'failed',
        finishedAt: now.toISOString(),
        stoppedBecause: 'could not be queued',
      }).catch(() => undefined);
      throw error;
    }
    return { runId };
  }

  /** Runs a queued run to the end in this call (the queue-triggered function), under its own id. */
  runQueued(run: QueuedArchivalRun, abortSignal?: AbortSignal): Promise<RunReport> {
    return this.#execute({
      runId: run.runId,
      ...(run.asOf !== undefined ? { asOf: run.asOf } : {}),
      ...(run.dryRun !== undefined ? { dryRun: run.dryRun } : {}),
      ...(run.limit !== undefined ? { limit: run.limit } : {}),
      ...(run.customerId !== undefined ? { customerId: run.customerId } : {}),
      ...(abortSignal !== undefined ? { abortSignal } : {}),
    });
  }

  get settings(): ArchivalEngine['settings'] {
    return this.#engine.settings;
  }

  /** Runs to the end in this call (CLI, scheduler, Functions timer). */
  run(options: RunOptions = {}): Promise<RunReport> {
    return this.#execute(options);
  }

  /** In this process, or by the runner; a run whose executor died is reported ended here, at once. */
  async #execute(options: RunOptions): Promise<RunReport> {
    const runner = this.#deps.runner;
    if (runner === undefined) return this.#engine.run(options);
    const started = this.#deps.clock.now();
    const runId = options.runId ?? newRunId(started);
    try {
      return await runner.run({ ...options, runId }, this.#deps.events ?? {});
    } catch (error) {
      if (!(error instanceof RunnerLostError)) throw error;
      // Its leases end with its process and its checkpoints stay: the next run resumes from them.
      const last = error.lastReport ?? startedRunReport(runId, runRequestOf(options), started);
      const now = this.#deps.clock.now();
      const report = endedReport(
        { ...last, durationMs: now.getTime() - Date.parse(last.startedAt) },
        `${error.message}; the next run resumes from its checkpoints`,
        now.toISOString(),
      );
      this.#deps.log.error({ runId, err: error }, 'archival run lost its worker');
      await saveRunReport(this.#deps.control, report).catch((saveError: unknown) => {
        this.#deps.log.warn({ runId, err: saveError }, 'could not save the run report');
      });
      this.#deps.events?.onRunFinished?.(report);
      return report;
    }
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

  /** Stuck, failed and parked ledger items, without reading any record (metrics, alerts). */
  attention(): Promise<AttentionCounts> {
    return attentionCounts(this.#deps, this.#deps.clock.now());
  }

  /**
   * Gives parked items (or one) a fresh start: each entry is rewritten unparked, with no attempts and
   * due now (nextAttemptAt and purgeAfter), so the next run (incremental too) retries its step: the copy of a failed entry, the purge
   * of a copied one. Conditional on the entry's etag: a worker that changed it meanwhile wins.
   */
  async unpark(key?: RecordKey): Promise<number> {
    const now = this.#deps.clock.now().toISOString();
    let released = 0;
    let after: LedgerPosition | undefined;
    do {
      const page = await this.#deps.ledger.query({
        parked: true,
        limit: 100,
        ...(key ? { customerId: key.customerId } : {}),
        ...(after ? { after } : {}),
      });
      for (const { entry, etag } of page.items) {
        if (key !== undefined && entry.id !== key.id) continue;
        // Due now, so past the purge's saved position (a parked copy before it would read as history);
        // no expiresAt until it is purged.
        const { parked: _parked, lastError: _lastError, expiresAt: _expiresAt, ...rest } = entry;
        const fresh = { ...rest, attempts: 0, nextAttemptAt: now, purgeAfter: now };
        if (
          await this.#deps.ledger.put(fresh, { ifMatch: etag }).then(
            () => true,
            () => false,
          )
        )
          released += 1;
      }
      after = page.next;
    } while (after !== undefined);
    return released;
  }

  verify(options: Parameters<typeof verifyArchive>[1] = {}): Promise<VerifyResult> {
    return verifyArchive(this.#deps, options);
  }

  /** In this process, or by the runner (the worker of `npm start`), with this process's audit hook. */
  collect(options: CollectorOptions = {}): Promise<CollectorCounts> {
    const collectorOptions: CollectorOptions = {
      ...(this.#deps.collectorSafetyWindowMs !== undefined
        ? { safetyWindowMs: this.#deps.collectorSafetyWindowMs }
        : {}),
      ...(this.#deps.onTombstoneRemoved !== undefined
        ? { onTombstoneRemoved: this.#deps.onTombstoneRemoved }
        : {}),
      ...options,
    };
    const runner = this.#deps.runner;
    return runner?.collect !== undefined
      ? runner.collect(collectorOptions)
      : collectUnreferencedBlobs(this.#deps, collectorOptions);
  }

  /** Cancels this process's runs (they stop between batches, leaving checkpoints) and waits for them. */
  shutdown(): Promise<void> {
    return this.#running.shutdown();
  }

  /** Waits for a background run this process started (tests, CLI). */
  async waitForRun(runId: string): Promise<RunReport> {
    return (await this.#running.wait(runId)) ?? this.getRun(runId);
  }
}
