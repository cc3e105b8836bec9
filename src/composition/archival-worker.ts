// The archival worker of `npm start`: a process of its own (archival-worker-main.ts) that executes the
// server's archival runs, so their CPU work (gzip, hashing, canonical JSON, the embedded stores'
// synchronous SQLite calls) never runs on the API's event loop. A process rather than a worker thread:
// a crash or an out-of-memory ends the worker alone; the leases it held end with its pid at once (the
// control store checks whether a holder's process runs), so the next run resumes without waiting one
// out; and the data folder is already shared safely between processes (SQLite in WAL with a busy
// timeout, BEGIN IMMEDIATE for every conditional write; the file archive commits under the index's
// write lock), as the CLI and the server share it. The worker opens its own adapters from the same
// configuration; run reports, leases and checkpoints go to the shared stores as in process, and its
// run events come back here, to this process's instruments, which /metrics reads. The collector runs
// there too (listing the archive, checking each blob's references); the tombstones it removes are
// audited here, by the one process that writes the audit trail, before it goes on.
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchivalRunner } from '../archival/archival-runner.ts';
import { RunnerLostError } from '../archival/archival-runner.ts';
import type { ArchivalRunEvents, ArchivalStep, RunOptions } from '../archival/archive-run.ts';
import type { CollectorCounts, CollectorOptions } from '../archival/blob-collector.ts';
import { type RunReport, type RunRequest, runRequestOf } from '../archival/run-reports.ts';
import type { AppConfig } from '../config/app-config.ts';
import { AppError } from '../domain/errors.ts';
import type { BlobProperties } from '../ports/archive-store.ts';
import type { Logger } from '../ports/logger.ts';
import type { RecordKey } from '../domain/record-rules.ts';

export type RecordOutcome = Parameters<NonNullable<ArchivalRunEvents['onRecord']>>[1];

/** What the API's process sends its worker. */
export type ToWorker =
  | { readonly type: 'init'; readonly config: AppConfig }
  | { readonly type: 'run'; readonly runId: string; readonly request: RunRequest; readonly full?: boolean }
  | { readonly type: 'cancel'; readonly runId: string }
  /** The API's recent latency over its usual (back-pressure); null: no signal. */
  | { readonly type: 'live-latency'; readonly ratio: number | null }
  | { readonly type: 'collect'; readonly collectId: string; readonly options: CollectRequest }
  | { readonly type: 'cancel-collect'; readonly collectId: string }
  /** The tombstone the worker named is audited (or not: `error`); its collector goes on. */
  | {
      readonly type: 'tombstone-audited';
      readonly collectId: string;
      readonly seq: number;
      readonly error?: string;
    }
  | { readonly type: 'close' };

/** The collector's options that cross to the worker (its callbacks and signal stay here). */
export type CollectRequest = Omit<CollectorOptions, 'abortSignal' | 'onProgress' | 'onTombstoneRemoved'>;

/** What the worker answers. */
export type FromWorker =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'start-failed'; readonly message: string }
  /** Records handled since the last message, by `step:outcome`. */
  | { readonly type: 'records'; readonly counts: Readonly<Record<string, number>> }
  | { readonly type: 'progress'; readonly runId: string; readonly report: RunReport }
  | { readonly type: 'finished'; readonly runId: string; readonly report: RunReport }
  | { readonly type: 'failed'; readonly runId: string; readonly message: string }
  | { readonly type: 'collect-progress'; readonly collectId: string; readonly counts: CollectorCounts }
  /** Removed: audit it and answer `tombstone-audited`; the worker's collector waits for the answer. */
  | {
      readonly type: 'tombstone-removed';
      readonly collectId: string;
      readonly seq: number;
      readonly key: RecordKey;
      readonly tombstone: BlobProperties;
    }
  | { readonly type: 'collected'; readonly collectId: string; readonly counts: CollectorCounts }
  | { readonly type: 'collect-failed'; readonly collectId: string; readonly message: string };

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

interface CollectionInFlight {
  readonly resolve: (counts: CollectorCounts) => void;
  readonly reject: (error: Error) => void;
  readonly options: CollectorOptions;
}

/** A graceful close that takes longer than this ends the worker with SIGKILL. */
const CLOSE_TIMEOUT_MS = 15_000;
/** Node 22's AsyncLocalStorage without async hooks (the default from Node 24). */
const ASYNC_CONTEXT_FRAME = '--experimental-async-context-frame';
const ENTRY = fileURLToPath(
  new URL(`./archival-worker-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export class ArchivalWorker implements ArchivalRunner {
  readonly #options: ArchivalWorkerOptions;
  readonly #runs = new Map<string, InFlight>();
  readonly #collections = new Map<string, CollectionInFlight>();
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

  /** A collection in the worker; its tombstone removals are audited here through `options.onTombstoneRemoved`. */
  async collect(options: CollectorOptions): Promise<CollectorCounts> {
    if (this.#closing) {
      throw new AppError('UNAVAILABLE', 'The archival worker is stopping', { retryable: true });
    }
    const child = await this.#started();
    const collectId = randomUUID();
    const {
      abortSignal,
      onProgress: _onProgress,
      onTombstoneRemoved: _onTombstoneRemoved,
      ...request
    } = options;
    const done = new Promise<CollectorCounts>((resolve, reject) => {
      this.#collections.set(collectId, { resolve, reject, options });
    });
    const cancel = (): void => this.#send(child, { type: 'cancel-collect', collectId });
    this.#send(child, { type: 'collect', collectId, options: request });
    abortSignal?.addEventListener('abort', cancel, { once: true });
    if (abortSignal?.aborted === true) cancel();
    try {
      return await done;
    } finally {
      abortSignal?.removeEventListener('abort', cancel);
      this.#collections.delete(collectId);
    }
  }

  /** Cancels the runs in flight (they stop between batches, reports saved), then ends the worker. */
  async close(): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (child === undefined) return;
    const exited = once(child, 'exit');
    for (const runId of this.#runs.keys()) this.#send(child, { type: 'cancel', runId });
    for (const collectId of this.#collections.keys())
      this.#send(child, { type: 'cancel-collect', collectId });
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
      // The server's own flags where it has them (`npm start`: AsyncLocalStorage on async context frames).
      execArgv: [
        '--disable-warning=ExperimentalWarning',
        ...process.execArgv.filter((flag) => flag === ASYNC_CONTEXT_FRAME),
      ],
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
      case 'collect-progress':
        this.#collections.get(message.collectId)?.options.onProgress?.(message.counts);
        return;
      case 'tombstone-removed':
        void this.#auditTombstone(message);
        return;
      case 'collected':
        this.#collections.get(message.collectId)?.resolve(message.counts);
        return;
      case 'collect-failed':
        this.#collections.get(message.collectId)?.reject(new Error(message.message));
        return;
      default:
        return;
    }
  }

  async #auditTombstone(message: Extract<FromWorker, { type: 'tombstone-removed' }>): Promise<void> {
    const { collectId, seq } = message;
    const hook = this.#collections.get(collectId)?.options.onTombstoneRemoved;
    let error: string | undefined;
    try {
      await hook?.(message.key, message.tombstone);
    } catch (cause) {
      error = cause instanceof Error ? cause.message : String(cause);
    }
    const child = this.#child;
    if (child !== undefined)
      this.#send(child, {
        type: 'tombstone-audited',
        collectId,
        seq,
        ...(error !== undefined ? { error } : {}),
      });
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
    // A collection is safe to leave half done (each delete is conditional): the next one goes on.
    for (const collection of this.#collections.values()) {
      collection.reject(
        new AppError('UNAVAILABLE', `the archival worker process (pid ${child.pid}) ended (${how})`, {
          retryable: true,
        }),
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
