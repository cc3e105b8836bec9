// The archival worker process (started by archival-worker.ts, in `npm start`): opens the stores of the
// API's configuration, runs what the API's process asks, and answers with progress, the records handled
// (for the API's instruments) and the final report. It ends when told to, when the API's process goes
// (its IPC channel closes: at once), or on SIGTERM; Ctrl+C in a terminal reaches it too, and is the API's to handle.
import { setPriority } from 'node:os';
import type { ArchivalRunEvents } from '../archival/archive-run.ts';
import type { RunReport } from '../archival/run-reports.ts';
import { describeError } from '../domain/errors.ts';
import type { FromWorker, ToWorker } from './archival-worker.ts';
import { createLogger } from './create-logger.ts';
import { openDataAccess, type OpenedDataAccess } from './open-data-access.ts';
import { startTracing } from './telemetry.ts';

/** The worker's CPU priority (nice): when the API and a run both want a core, the API gets it first. */
const WORKER_NICE = 10;
try {
  setPriority(WORKER_NICE);
} catch {
  // Not permitted here (some containers): the run shares the CPU evenly, back-pressure still slows it.
}

const runs = new Map<string, { controller: AbortController; done: Promise<void> }>();
const collections = new Map<string, { controller: AbortController; done: Promise<void> }>();
/** Tombstone removals waiting for the API's process to audit them, by `collectId:seq`. */
const audits = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
let opened: Promise<OpenedDataAccess> | undefined;
let liveLatencyRatio: number | undefined;
let records: Record<string, number> = {};
let closing: Promise<void> | undefined;

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

/** Records handled since the last message go before each progress or final report. */
function sendRecords(): void {
  if (Object.keys(records).length === 0) return;
  void send({ type: 'records', counts: records });
  records = {};
}

const events: ArchivalRunEvents = {
  onRecord(step, outcome) {
    const key = `${step}:${outcome}`;
    records[key] = (records[key] ?? 0) + 1;
  },
};

async function open(config: Extract<ToWorker, { type: 'init' }>['config']): Promise<OpenedDataAccess> {
  await startTracing({ connectionString: config.telemetry.connectionString });
  const logger = createLogger(config).child({ component: 'archival-worker' });
  return openDataAccess(
    { config },
    {
      logger,
      liveLatency: { ratio: () => liveLatencyRatio },
      archival: {
        archivalEvents: events,
        archivalExecutor: { process: 'archival-worker', pid: process.pid },
      },
    },
  );
}

function startRun(message: Extract<ToWorker, { type: 'run' }>): void {
  const controller = new AbortController();
  const { runId } = message;
  const done = (async () => {
    try {
      const { services } = await (opened ?? Promise.reject(new Error('the worker was not initialised')));
      const report: RunReport = await services.archival.run({
        ...message.request,
        ...(message.full !== undefined ? { full: message.full } : {}),
        runId,
        abortSignal: controller.signal,
        onProgress: (progress) => {
          sendRecords();
          void send({ type: 'progress', runId, report: progress });
        },
      });
      // The tier totals the run moved are stored before the API's process hears it finished.
      await services.tierCounters.flush().catch(() => undefined);
      sendRecords();
      await send({ type: 'finished', runId, report });
    } catch (error) {
      sendRecords();
      await send({ type: 'failed', runId, message: describeError(error) });
    } finally {
      runs.delete(runId);
    }
  })();
  runs.set(runId, { controller, done });
}

/** A collection here; each tombstone it removes is audited by the API's process before it goes on. */
function startCollect(message: Extract<ToWorker, { type: 'collect' }>): void {
  const controller = new AbortController();
  const { collectId } = message;
  let seq = 0;
  const done = (async () => {
    try {
      const { services } = await (opened ?? Promise.reject(new Error('the worker was not initialised')));
      const counts = await services.archival.collect({
        ...message.options,
        abortSignal: controller.signal,
        onProgress: (progress) => void send({ type: 'collect-progress', collectId, counts: { ...progress } }),
        onTombstoneRemoved: (key, tombstone) =>
          new Promise<void>((resolve, reject) => {
            const n = seq++;
            audits.set(`${collectId}:${n}`, { resolve, reject });
            void send({ type: 'tombstone-removed', collectId, seq: n, key, tombstone });
          }),
      });
      await send({ type: 'collected', collectId, counts });
    } catch (error) {
      await send({ type: 'collect-failed', collectId, message: describeError(error) });
    } finally {
      collections.delete(collectId);
    }
  })();
  collections.set(collectId, { controller, done });
}

/** Cancels the runs (each saves its report), closes the stores, and exits. */
function close(): Promise<void> {
  closing ??= (async () => {
    for (const work of [...runs.values(), ...collections.values()]) work.controller.abort();
    // No answer will come for a removal not yet audited: its collection ends there (the next one goes on).
    for (const audit of audits.values()) audit.reject(new Error('the archival worker is closing'));
    audits.clear();
    await Promise.allSettled([...runs.values(), ...collections.values()].map((work) => work.done));
    const access = await opened?.catch(() => undefined);
    await access?.close();
    process.exit(0);
  })();
  return closing;
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init':
      opened = open(message.config);
      opened.then(
        () => send({ type: 'ready', pid: process.pid }),
        async (error: unknown) => {
          await send({ type: 'start-failed', message: describeError(error) });
          process.exit(1);
        },
      );
      return;
    case 'run':
      startRun(message);
      return;
    case 'cancel':
      runs.get(message.runId)?.controller.abort();
      return;
    case 'collect':
      startCollect(message);
      return;
    case 'cancel-collect':
      collections.get(message.collectId)?.controller.abort();
      return;
    case 'tombstone-audited': {
      const key = `${message.collectId}:${message.seq}`;
      const audit = audits.get(key);
      audits.delete(key);
      if (message.error === undefined) audit?.resolve();
      else audit?.reject(new Error(`the tombstone's removal was not audited: ${message.error}`));
      return;
    }
    case 'live-latency':
      liveLatencyRatio = message.ratio ?? undefined;
      return;
    case 'close':
      void close();
      return;
  }
});
// The API's process went without closing the worker (killed): stop at once, as a run in that process
// would have. Every step is crash-safe, and the leases end with this pid.
process.on('disconnect', () => {
  if (closing === undefined) process.exit(1);
});
process.on('SIGTERM', () => void close());
process.on('SIGINT', () => undefined);
