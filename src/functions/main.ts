// The Azure Functions v4 entry point: one HTTP trigger per route of the shared table. The stores open on
// the first request a worker serves, not at indexing. The host loads the compiled JavaScript
// (package.json "main" is dist/functions/main.js, built by `npm run build`): its worker imports the entry
// with a plain import() and only warns when that fails, so a .ts entry on a Node without type stripping
// would start a host with no function at all.
import {
  app,
  type InvocationContext,
  type StorageQueueFunctionOptions,
  type Timer,
  type TimerFunctionOptions,
} from '@azure/functions';
import type { ArchivalService } from '../archival/archival-service.ts';
import { auditOperation, SYSTEM_ACTOR } from '../audit/operation-audit.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { type ApiApplication, ROUTE_TABLE } from '../api/api-application.ts';
import { createLogger } from '../composition/create-logger.ts';
import { openServices } from '../composition/open-services.ts';
import { startTracing } from '../composition/telemetry.ts';
import { ConfigError, loadConfig } from '../config/app-config.ts';
import { DEFAULT_RUN_QUEUE_NAME, TIMER_SCHEDULE_DEFAULTS } from '../config/settings-schema.ts';
import type { AuditAction } from '../domain/audit-event.ts';
import { AppError } from '../domain/errors.ts';
import type { JobReport } from '../jobs/job-service.ts';
import type { QueuedArchivalRun } from '../ports/archival-run-queue.ts';
import { type RegisterHttpFunction, registerHttpFunctions } from './http-functions.ts';

export interface OpenedApplication {
  readonly application: ApiApplication;
  readonly archival: ArchivalService;
  /** Where the timers record that the system started a run (the requests audit through the pipeline). */
  readonly audit: Pick<AuditTrail, 'recordNow'>;
  /** Retention runs of the `retentionRun` timer (registered only when RETENTION_PERIOD is set). */
  readonly retention?: { run(): Promise<JobReport> };
  close(): Promise<void>;
}

export type RegisterTimerFunction = (name: string, options: TimerFunctionOptions) => void;
export type RegisterQueueFunction = (name: string, options: StorageQueueFunctionOptions) => void;

/** The app setting (prefix) of the queue connection: `ARCHIVE_QUEUE__QUEUESERVICEURI` or `ARCHIVE_QUEUE`. */
export const RUN_QUEUE_CONNECTION = 'ARCHIVE_QUEUE';

/** NCRONTAB (with seconds) defaults: archive nightly at 03:00, collect weekly on Sunday at 04:00. */
export const DEFAULT_TIMER_SCHEDULES = TIMER_SCHEDULE_DEFAULTS;

export interface RegisteredFunctions {
  /** Closes the stores if a request opened them (worker shutdown). */
  close(): Promise<void>;
}

/** Registers every route and the archival timers; `open` runs once per worker, and again only after it failed. */
export function registerAll(
  register: RegisterHttpFunction,
  open: () => Promise<OpenedApplication>,
  timers?: {
    readonly register: RegisterTimerFunction;
    readonly schedules?: { archival?: string; collector?: string; retention?: string };
    /** Admin-started runs, queued by `POST /api/v1/admin/archival/runs`, each run in its own invocation. */
    readonly runQueue?: { readonly register: RegisterQueueFunction; readonly queueName: string };
  },
): RegisteredFunctions {
  let opening: Promise<OpenedApplication> | undefined;
  const opened = (): Promise<OpenedApplication> => {
    // A failed open (Cosmos DB unreachable at cold start) is not cached: the next request retries.
    opening ??= open().catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };
  registerHttpFunctions(register, ROUTE_TABLE.routes, async () => (await opened()).application);
  if (timers !== undefined) {
    // The same use cases as the CLI and the scheduler of `npm start`; the run's time budget
    // (ARCHIVE_TIME_BUDGET, default 9 min) stays inside the Functions timeout, and the next
    // invocation resumes from the checkpoints.
    const archivalSchedule = timers.schedules?.archival ?? DEFAULT_TIMER_SCHEDULES.archival;
    timers.register('archivalRun', {
      schedule: archivalSchedule,
      useMonitor: true,
      handler: async (timer: Timer, context: InvocationContext) => {
        const services = await opened();
        await auditTimer(services, 'archival.run', 'archivalRun', archivalSchedule, timer);
        const report = await services.archival.run();
        context.log(`archival run ${report.runId}: ${report.status}`, report.counts);
        if (report.status === 'failed')
          throw new Error(`archival run ${report.runId} failed: ${report.stoppedBecause ?? ''}`);
      },
    });
    const collectorSchedule = timers.schedules?.collector ?? DEFAULT_TIMER_SCHEDULES.collector;
    timers.register('archiveCollector', {
      schedule: collectorSchedule,
      useMonitor: true,
      handler: async (timer: Timer, context: InvocationContext) => {
        const services = await opened();
        await auditTimer(services, 'archive.gc', 'archiveCollector', collectorSchedule, timer);
        context.log('archive collector', await services.archival.collect());
      },
    });
    const retentionSchedule = timers.schedules?.retention;
    if (retentionSchedule !== undefined) {
      timers.register('retentionRun', {
        schedule: retentionSchedule,
        useMonitor: true,
        handler: async (_timer: Timer, context: InvocationContext) => {
          const retention = (await opened()).retention;
          if (retention === undefined) return;
          const report = await retention.run();
          context.log(`retention job ${report.jobId}: ${report.status}`, report.counts);
          if (report.status === 'failed')
            throw new Error(`retention job ${report.jobId} failed: ${report.stoppedBecause ?? ''}`);
        },
      });
    }
  }
  const runQueue = timers?.runQueue;
  if (runQueue !== undefined) {
    runQueue.register('archivalRunQueued', {
      queueName: runQueue.queueName,
      connection: RUN_QUEUE_CONNECTION,
      handler: async (message: unknown, context: InvocationContext) => {
        const run = parseQueuedRun(message);
        // Inside this invocation, under its timeout: the run's time budget stops it first, with a checkpoint.
        const report = await (await opened()).archival.runQueued(run);
        context.log(`archival run ${report.runId}: ${report.status}`, report.counts);
        // A failed run goes back to the queue (the host retries, then parks it in the poison queue).
        if (report.status === 'failed')
          throw new Error(`archival run ${report.runId} failed: ${report.stoppedBecause ?? ''}`);
      },
    });
  }
  return {
    async close() {
      const current = await opening?.catch(() => undefined);
      opening = undefined;
      await current?.close();
    },
  };
}

/** The composition `npm start` uses, from the Function App's settings. */
export async function openFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<OpenedApplication> {
  const config = loadConfig(env, cwd);
  // Under Functions /metrics cannot be scraped: with APPLICATIONINSIGHTS_CONNECTION_STRING the same
  // instruments, the traces and the logs go to Azure Monitor.
  await startTracing({ connectionString: config.telemetry.connectionString });
  const services = await openServices(config, createLogger(config));
  return {
    application: services.application,
    archival: services.archival,
    audit: services.audit,
    retention: { run: () => services.retention.run({}, { actor: SYSTEM_ACTOR }) },
    close: () => services.close(),
  };
}

/**
 * A timer's run is the system's act: its audit event is durable before the run starts, and a trail that
 * refuses it fails the invocation (the host logs it, the next tick tries again) rather than run unrecorded.
 */
function auditTimer(
  services: OpenedApplication,
  action: AuditAction,
  trigger: string,
  schedule: string,
  timer: Timer,
): Promise<void> {
  return auditOperation(services.audit, new Date(), SYSTEM_ACTOR, action, {
    reason: `timer ${trigger} (${schedule})${timer.isPastDue ? ', past due' : ''}`,
  });
}

// The first line a worker logs: which Node runs the app, with which flags (the app setting
// languageWorkers__node__arguments), and from which file (a JSON line, as pino writes).
process.stdout.write(
  `${JSON.stringify({ level: 30, msg: 'functions entry loaded', node: process.version, execArgv: process.execArgv, entry: import.meta.url })}\n`,
);

const functions = registerAll(
  (name, options) => app.http(name, options),
  () => openFromEnvironment(process.env, process.cwd()),
  {
    register: (name, options) => app.timer(name, options),
    schedules: timerSchedules(process.env, process.cwd()),
    runQueue: {
      register: (name, options) => app.storageQueue(name, options),
      queueName: runQueueName(process.env, process.cwd()),
    },
  },
);
app.hook.appTerminate(() => functions.close());

/**
 * The host reads the timer schedules at indexing, before any open. A bad configuration still registers
 * everything on the defaults: each request and timer then fails with the ConfigError, as a failed open does.
 */
function timerSchedules(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): { archival?: string; collector?: string; retention?: string } {
  try {
    const config = loadConfig(env, cwd);
    const { archiveTimerSchedule, collectorTimerSchedule, retentionTimerSchedule } = config.functions;
    return {
      archival: archiveTimerSchedule,
      collector: collectorTimerSchedule,
      ...(config.retention.period !== undefined ? { retention: retentionTimerSchedule } : {}),
    };
  } catch (error) {
    if (error instanceof ConfigError) return {};
    throw error;
  }
}

/** The queue the trigger listens on, read at indexing like the schedules (a bad configuration: the default). */
function runQueueName(env: Readonly<Record<string, string | undefined>>, cwd: string): string {
  try {
    return loadConfig(env, cwd).functions.runQueueName;
  } catch (error) {
    if (error instanceof ConfigError) return DEFAULT_RUN_QUEUE_NAME;
    throw error;
  }
}

/** A queue message of `StorageRunQueue`: the host hands over the decoded JSON (or its text). */
export function parseQueuedRun(message: unknown): QueuedArchivalRun {
  let value: unknown = message;
  try {
    if (typeof message === 'string') value = JSON.parse(message);
  } catch {
    value = undefined;
  }
  const fields = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const { runId, asOf, dryRun, limit, customerId } = fields;
  if (typeof runId !== 'string' || runId === '') {
    throw new AppError('VALIDATION_FAILED', 'An archival run message needs a runId');
  }
  return {
    runId,
    ...(typeof asOf === 'string' ? { asOf } : {}),
    ...(typeof dryRun === 'boolean' ? { dryRun } : {}),
    ...(typeof limit === 'number' ? { limit } : {}),
    ...(typeof customerId === 'string' ? { customerId } : {}),
  };
}
