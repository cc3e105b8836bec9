// Where a run executes. By default in this process (the engine); the server of `npm start` hands its runs
// to the archival worker process instead (composition/archival-worker.ts), so a run's CPU work (gzip,
// hashing, canonical JSON, the embedded stores' synchronous calls) stays off the API's event loop.
import type { ArchivalRunEvents, RunOptions } from './archive-run.ts';
import type { CollectorCounts, CollectorOptions } from './blob-collector.ts';
import type { RunReport } from './run-reports.ts';

export interface ArchivalRunner {
  /**
   * Runs to the end (or to its budget, limit or cancellation) and answers the final report; the engine's
   * events (records, the finished run) arrive through `events` as they happen, as for a run in process.
   */
  run(options: RunOptions & { readonly runId: string }, events: ArchivalRunEvents): Promise<RunReport>;
  /** Collects unreferenced blobs where runs execute (the collector's listing and reference checks too). */
  collect?(options: CollectorOptions): Promise<CollectorCounts>;
}

/** The process executing a run ended before the run did (a crashed worker). */
export class RunnerLostError extends Error {
  /** The last report the executor sent; none when it died before its first. */
  readonly lastReport: RunReport | undefined;

  constructor(message: string, lastReport: RunReport | undefined) {
    super(message);
    this.name = 'RunnerLostError';
    this.lastReport = lastReport;
  }
}
