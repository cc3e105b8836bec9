// The archival worker of `npm start`: a process of its own (archival-worker-main.ts) that executes the
// server's archival runs, so their CPU work (gzip, hashing, canonical JSON, the embedded stores'
// synchronous SQLite calls) never runs on the API's event loop. A process rather than a worker thread:
// a crash or an out-of-memory ends the worker alone; the leases it held end with its pid at once (the
// control store checks whether a holder's process runs), so the next run resumes without waiting one
// out; and the data folder is already shared safely between processes (SQLite in WAL with a busy
// timeout, BEGIN IMMEDIATE for every conditional write; the file archive commits under the index's
// write lock), as the CLI and the server share it. The worker opens its own adapters from the same
// configuration; run reports, leases and checkpoints go to the shared stores as in process, and its
// run events come back here, to this process's instruments, which /metrics reads.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchivalRunner } from '../archival/archival-runner.ts';
import { RunnerLostError } from '../archival/archival-runner.ts';
import type { ArchivalRunEvents, ArchivalStep, RunOptions } from '../archival/archive-run.ts';
import { type RunReport, type RunRequest, runRequestOf } from '../archival/run-reports.ts';
import type { AppConfig } from '../config/app-config.ts';
import { AppError } from '../domain/errors.ts';
import type { Logger } from '../ports/logger.ts';

export type RecordOutcome = Parameters<NonNullable<ArchivalRunEvents['onRecord']>>[1];

/** What the API's process sends its worker. */
export type ToWorker =
  | { readonly type: 'init'; readonly config: AppConfig }
  | { readonly type: 'run'; readonly runId: string; readonly request: RunRequest; readonly full?: boolean }
  | { readonly type: 'cancel'; readonly runId: string }
  /** The API's recent latency over its usual (back-pressure); null: no signal. */
  | { readonly type: 'live-latency'; readonly ratio: number | null }
  | { readonly type: 'close' };

/** What the worker answers. */
export type FromWorker =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'start-failed'; readonly message: string }
  /** Records handled since the last message, by `step:outcome`. */
  | { readonly type: 'records'; readonly counts: Readonly<Record<string, number>> }
  | { readonly type: 'progress'; readonly runId: string; readonly report: RunReport }
  | { readonly type: 'finished'; readonly runId: string; readonly report: RunReport }
  | { readonly type: 'failed'; readonly runId: string; readonly message: string };

export interface ArchivalWorkerOptions {
  /** The worker opens its stores from this (it is the API's own configuration). */
  readonly config: AppConfig;
  readonly log: Logger;
  /** The API's latency signal, forwarded to the worker while a run goes. */
  readonly liveLatencyRatio?: () => number | undefined;
  /** How often the signal is forwarded (ms). */
  readonly liveLatencyEveryMs?: number;
}

interface InFlight {
  readonly resolve: (report: RunReport) => void;
  readonly reject: (error: Error) => void;
  readonly onProgress: RunOptions['onProgress'];
  last: RunReport | undefined;
}

/** A graceful close that takes longer than this ends the worker with SIGKILL. */
const CLOSE_TIMEOUT_MS = 15_000;
const ENTRY = fileURLToPath(
  new URL(`./archival-worker-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export class ArchivalWorker implements ArchivalRunner {
  readonly #options: ArchivalWorkerOptions;
  readonly #runs = new Map<string, InFlight>();
  #child: ChildProcess | undefined;
  #ready: Promise<ChildProcess> | undefined;
  /** The run events of the service this worker serves (one service per worker). */
  #events: ArchivalRunEvents = {};
  #ticker: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(options: ArchivalWorkerOptions) {
    this.#options = options;
  }

  /** The worker's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the worker now (`npm start` does, so a setup that fails stops the start); runs restart it after a crash. */
  async start(): Promise<void> {
    await this.#started();
  }

  async run(options: RunOptions & { readonly runId: string }, events: ArchivalRunEvents): Promise<RunReport> {
    if (this.#closing) {
      throw new AppError('UNAVAILABLE', 'The archival worker is stopping', { retryable: true });
    }
    this.#events = events;
    const child = await this.#started();
    const { runId } = options;
    const done = new Promise<RunReport>((resolve, reject) => {
      this.#runs.set(runId, { resolve, reject, onProgress: options.onProgress, last: undefined });
    });
    const cancel = (): void => this.#send(child, { type: 'cancel', runId });
    this.#send(child, {
      type: 'run',
      runId,
      request: runRequestOf(options),
      ...(options.full !== undefined ? { full: options.full } : {}),
    });
    this.#forwardLiveLatency();
    options.abortSignal?.addEventListener('abort', cancel, { once: true });
    if (options.abortSignal?.aborted === true) cancel();
    try {
      return await done;
    } finally {
      options.abortSignal?.removeEventListener('abort', cancel);
      this.#runs.delete(runId);
      if (this.#runs.size === 0) this.#stopForwarding();
    }
  }

  /** Cancels the runs in flight (they stop between batches, reports saved), then ends the worker. */
  async close(): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (child === undefined) return;
    const exited = once(child, 'exit');
    for (const runId of this.#runs.keys()) this.#send(child, { type: 'cancel', runId });
    this.#send(child, { type: 'close' });
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #started(): Promise<ChildProcess> {
    this.#ready ??= this.#spawn();
    return this.#ready;
  }

  #spawn(): Promise<ChildProcess> {
    const log = this.#options.log;
    const child = fork(ENTRY, [], {
      execArgv: ['--disable-warning=ExperimentalWarning'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          log.info({ pid: message.pid }, 'archival worker started');
          resolve(child);
        } else if (message.type === 'start-failed') {
          reject(new AppError('UNAVAILABLE', `The archival worker could not start: ${message.message}`));
        } else this.#receive(message);
      });
      child.once('exit', (code, signal) => {
        const how = signal ?? `exit code ${code}`;
        reject(new AppError('UNAVAILABLE', `The archival worker ended before it was ready (${how})`));
        this.#lost(child, how);
      });
    });
    // A worker that fails to start is started again by the next run.
    ready.catch(() => {
      if (this.#child === child) this.#ready = undefined;
    });
    this.#send(child, { type: 'init', config: this.#options.config });
    return ready;
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case 'records':
        for (const [key, count] of Object.entries(message.counts)) {
          const [step, outcome] = key.split(':') as [ArchivalStep, RecordOutcome];
          for (let i = 0; i < count; i++) this.#events.onRecord?.(step, outcome);
        }
        return;
      case 'progress': {
        const run = this.#runs.get(message.runId);
        if (run === undefined) return;
        run.last = message.report;
        run.onProgress?.(message.report);
        return;
      }
      case 'finished':
        this.#events.onRunFinished?.(message.report);
        this.#runs.get(message.runId)?.resolve(message.report);
        return;
      case 'failed':
        this.#runs.get(message.runId)?.reject(new Error(message.message));
        return;
      default:
        return;
    }
  }

  /** The worker ended: its runs are lost (their reports are ended by the service), the next run starts another. */
  #lost(child: ChildProcess, how: string): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#ready = undefined;
    const lost = [...this.#runs.entries()];
    if (!this.#closing || lost.length > 0)
      this.#options.log.error({ pid: child.pid, how, runs: lost.length }, 'archival worker ended');
    for (const [, run] of lost) {
      run.reject(
        new RunnerLostError(`the archival worker process (pid ${child.pid}) ended (${how})`, run.last),
      );
    }
  }

  #forwardLiveLatency(): void {
    const ratio = this.#options.liveLatencyRatio;
    if (ratio === undefined || this.#ticker !== undefined) return;
    const tick = (): void => {
      const child = this.#child;
      if (child !== undefined) this.#send(child, { type: 'live-latency', ratio: ratio() ?? null });
    };
    tick();
    this.#ticker = setInterval(tick, this.#options.liveLatencyEveryMs ?? 100);
    this.#ticker.unref();
  }

  #stopForwarding(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #send(child: ChildProcess, message: ToWorker): void {
    if (!child.connected) return;
    // A worker that just died cannot be written to (the error is dropped): its exit reports the runs lost.
    child.send(message, () => undefined);
  }
}
