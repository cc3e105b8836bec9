// One job machinery for long operations (bulk rehydration now; retention, erasure and rebuild next):
// 202 with a job id that answers at once, a persisted report with counts and the first failures,
// heartbeats while it runs (a job whose process died reads failed or partial once they lapse), a dry
// run flag, cancellation, and the same work run in the foreground by the CLI.
import { setImmediate } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import type { AuditActor } from '../domain/audit-event.ts';
import { AppError, isAppError } from '../domain/errors.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { BackgroundTasks } from './background-tasks.ts';

export type JobStatus = 'running' | 'succeeded' | 'failed' | 'partial';

export interface JobReport {
  readonly jobId: string;
  readonly kind: string;
  readonly status: JobStatus;
  readonly dryRun: boolean;
  readonly request: Readonly<Record<string, unknown>>;
  readonly counts: Readonly<Record<string, number>>;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly heartbeatAt: string;
  /** Why the job stopped before the end (cancelled, a store failed), if it did. */
  readonly stoppedBecause?: string;
  /** The first failures, with reasons (the rest are counted). */
  readonly failures: readonly string[];
}

/** What a job's work reports through as it goes. */
export interface JobContext {
  readonly signal: AbortSignal;
  readonly dryRun: boolean;
  count(name: string, by?: number): void;
  /** One item failed (the job goes on): counted under `failed`, its reason kept among the first ones. */
  fail(reason: string): void;
  /** Saves the report so far: the heartbeat, and what progress bars and GET /jobs show. */
  checkpoint(): Promise<void>;
}

export interface JobDefinition {
  readonly kind: string;
  readonly dryRun: boolean;
  readonly request: Readonly<Record<string, unknown>>;
  /** Counts shown from the start, at zero. */
  readonly counts: readonly string[];
  /** The work; counts that show progress (not only `failed`) decide between failed and partial. */
  work(context: JobContext): Promise<void>;
}

/** Who started a job (an API principal, the CLI's operator, the scheduler), and why: its audit events say so. */
export interface JobActor {
  readonly actor: AuditActor;
  readonly reason?: string;
}

/** A kind of job, started in the background (API) or run in this call (CLI, scheduler). */
export interface JobStarter<R> {
  start(request: R, by: JobActor): Promise<{ jobId: string }>;
  run(
    request: R,
    by: JobActor,
    options?: { signal?: AbortSignal; onProgress?: (report: JobReport) => void },
  ): Promise<JobReport>;
}

/** A running report whose heartbeat is older than this belongs to a process that is gone. */
export const JOB_HEARTBEAT_LAPSE_MS = 2 * 60_000;
const MAX_REPORTED_FAILURES = 100;
const jobName = (jobId: string): string => `jobs/${jobId}.json`;

export class JobService {
  readonly #control: ArchivalControlStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #tasks: BackgroundTasks<JobReport>;

  constructor(dependencies: { control: ArchivalControlStore; clock: Clock; log: Logger }) {
    this.#control = dependencies.control;
    this.#clock = dependencies.clock;
    this.#log = dependencies.log;
    this.#tasks = new BackgroundTasks(dependencies.log);
  }

  /** Starts the job in the background once its first report is saved, and answers with its id. */
  async start(definition: JobDefinition): Promise<{ jobId: string }> {
    const job = new RunningJob(definition, this.#clock, this.#control, this.#log);
    await job.save('running', true); // the id answers GET /jobs/{jobId} before the 202 is sent
    this.#tasks.start(job.jobId, (signal) => job.execute(signal));
    return { jobId: job.jobId };
  }

  /** Runs the job in this call (the CLI), reporting progress after every checkpoint. */
  async run(
    definition: JobDefinition,
    options: { signal?: AbortSignal; onProgress?: (report: JobReport) => void } = {},
  ): Promise<JobReport> {
    const job = new RunningJob(definition, this.#clock, this.#control, this.#log, options.onProgress);
    await job.save('running', true);
    return job.execute(options.signal ?? new AbortController().signal);
  }

  async get(jobId: string): Promise<JobReport> {
    const stored = await this.#control.read<JobReport>(jobName(jobId));
    if (stored === undefined) throw new AppError('NOT_FOUND', `No job ${jobId}`);
    return effectiveJobReport(stored.value, this.#clock.now());
  }

  /** Waits for a job this process runs (tests, CLI), or reads its report. */
  async waitFor(jobId: string): Promise<JobReport> {
    return (await this.#tasks.wait(jobId)) ?? this.get(jobId);
  }

  shutdown(): Promise<void> {
    return this.#tasks.shutdown();
  }
}

/** The report as a reader should see it: a lapsed `running` job is failed, or partial if it did work. */
export function effectiveJobReport(report: JobReport, now: Date): JobReport {
  if (report.status !== 'running') return report;
  if (now.getTime() - Date.parse(report.heartbeatAt) <= JOB_HEARTBEAT_LAPSE_MS) return report;
  return {
    ...report,
    status: didWork(report.counts) ? 'partial' : 'failed',
    finishedAt: report.heartbeatAt,
    stoppedBecause: 'the job stopped reporting (its process ended); start it again to finish the rest',
  };
}

function didWork(counts: Readonly<Record<string, number>>): boolean {
  return Object.entries(counts).some(
    ([name, value]) => name !== 'failed' && name !== 'candidates' && value > 0,
  );
}

class RunningJob {
  readonly jobId: string;
  readonly #definition: JobDefinition;
  readonly #clock: Clock;
  readonly #control: ArchivalControlStore;
  readonly #log: Logger;
  readonly #onProgress: ((report: JobReport) => void) | undefined;
  readonly #startedAt: Date;
  readonly #counts: Record<string, number>;
  readonly #failures: string[] = [];
  #stoppedBecause: string | undefined;

  constructor(
    definition: JobDefinition,
    clock: Clock,
    control: ArchivalControlStore,
    log: Logger,
    onProgress?: (report: JobReport) => void,
  ) {
    this.#definition = definition;
    this.#clock = clock;
    this.#control = control;
    this.#log = log;
    this.#onProgress = onProgress;
    this.#startedAt = clock.now();
    this.jobId = `job-${this.#startedAt.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    this.#counts = Object.fromEntries([...definition.counts, 'failed'].map((name) => [name, 0]));
  }

  async execute(signal: AbortSignal): Promise<JobReport> {
    this.#log.info({ jobId: this.jobId, kind: this.#definition.kind }, 'job started');
    let status: JobStatus;
    try {
      await this.#definition.work({
        signal,
        dryRun: this.#definition.dryRun,
        count: (name, by = 1) => {
          this.#counts[name] = (this.#counts[name] ?? 0) + by;
        },
        fail: (reason) => {
          this.#counts.failed = (this.#counts.failed ?? 0) + 1;
          if (this.#failures.length < MAX_REPORTED_FAILURES) this.#failures.push(reason);
        },
        checkpoint: async () => {
          const report = await this.save();
          // Embedded stores answer without I/O: without a turn of the event loop here, a job over
          // millions of records would hold off timers, Ctrl+C and IPC until it ended (archive-run.ts).
          await setImmediate();
          this.#onProgress?.(report);
        },
      });
      if (signal.aborted) this.#stoppedBecause = 'cancelled; start the job again to finish the rest';
      status = this.#stoppedBecause !== undefined || (this.#counts.failed ?? 0) > 0 ? 'partial' : 'succeeded';
    } catch (error) {
      this.#stoppedBecause = isAppError(error) ? `${error.code}: ${error.message}` : String(error);
      this.#log.error({ jobId: this.jobId, err: error }, 'job failed');
      status = didWork(this.#counts) ? 'partial' : 'failed';
    }
    const report = await this.save(status);
    this.#log.info({ jobId: this.jobId, status, counts: report.counts }, 'job finished');
    return report;
  }

  /** The first save must succeed (the id must answer); later ones are best effort, the next brings it up to date. */
  async save(status: JobStatus = 'running', required = false): Promise<JobReport> {
    const report = this.#report(status);
    try {
      await this.#control.write(jobName(this.jobId), report, {});
    } catch (error) {
      if (required) throw error;
      this.#log.warn({ jobId: this.jobId, err: error }, 'could not save the job report');
    }
    return report;
  }

  #report(status: JobStatus): JobReport {
    const now = this.#clock.now().toISOString();
    return {
      jobId: this.jobId,
      kind: this.#definition.kind,
      status,
      dryRun: this.#definition.dryRun,
      request: this.#definition.request,
      counts: { ...this.#counts },
      startedAt: this.#startedAt.toISOString(),
      finishedAt: status === 'running' ? null : now,
      heartbeatAt: now,
      ...(this.#stoppedBecause !== undefined ? { stoppedBecause: this.#stoppedBecause } : {}),
      failures: [...this.#failures],
    };
  }
}
