// Every archival run leaves a persisted report: counts per outcome, failures with reasons, duration,
// request charge. A run whose process died is reported failed (or partial) once its heartbeat lapses,
// never `running` for ever.
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { ConcurrencyReport } from './adaptive-concurrency.ts';
import type { ArchivalBudget } from './archival-budget.ts';
import type { QueryTotals } from './query-tally.ts';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'partial';

export interface RunCounts {
  candidates: number;
  copied: number;
  purged: number;
  skipped: number;
  failed: number;
}

export interface RunRequest {
  readonly asOf?: string;
  readonly dryRun?: boolean;
  readonly limit?: number;
  readonly customerId?: string;
}

export interface RunReport {
  readonly runId: string;
  readonly status: RunStatus;
  readonly request: RunRequest;
  readonly counts: RunCounts;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly heartbeatAt: string;
  /** Why a run stopped early (time budget, cancelled, lost its lease), if it did. */
  readonly stoppedBecause?: string;
  readonly skippedReasons: Readonly<Record<string, number>>;
  /** The first failures, with reasons (the rest are counted). */
  readonly failures: readonly string[];
  readonly requestCharge: { readonly requestUnits: number; readonly estimated: boolean };
  /** How the run's queries fanned out over the store's partitions (absent where the store has none). */
  readonly queries?: QueryTotals;
  /** The run's request-unit budget (and where it came from) and how its concurrency adapted. */
  readonly throughput?: ArchivalBudget & { readonly concurrency: ConcurrencyReport };
  /** The archival worker process that executed the run (`npm start`); absent: the process that was asked. */
  readonly executedBy?: RunExecutor;
  readonly durationMs: number;
}

export interface RunExecutor {
  readonly process: 'archival-worker';
  readonly pid: number;
}

/** A running report whose heartbeat is older than this belongs to a process that is gone. */
export const RUN_HEARTBEAT_LAPSE_MS = 2 * 60_000;
export const MAX_REPORTED_FAILURES = 100;

const runName = (runId: string): string => `runs/${runId}.json`;

export function emptyCounts(): RunCounts {
  return { candidates: 0, copied: 0, purged: 0, skipped: 0, failed: 0 };
}

/** The request part of a run's options, without the absent ones. */
export function runRequestOf({ asOf, dryRun, limit, customerId }: RunRequest): RunRequest {
  return {
    ...(asOf !== undefined ? { asOf } : {}),
    ...(dryRun !== undefined ? { dryRun } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(customerId !== undefined ? { customerId } : {}),
  };
}

/** The report of a run that has just been started: saved before its id is handed out. */
export function startedRunReport(runId: string, request: RunRequest, now: Date): RunReport {
  return {
    runId,
    status: 'running',
    request,
    counts: emptyCounts(),
    startedAt: now.toISOString(),
    finishedAt: null,
    heartbeatAt: now.toISOString(),
    skippedReasons: {},
    failures: [],
    requestCharge: { requestUnits: 0, estimated: false },
    durationMs: 0,
  };
}

export async function saveRunReport(control: ArchivalControlStore, report: RunReport): Promise<void> {
  await control.write(runName(report.runId), report, {});
}

/** The report as a reader should see it: a lapsed `running` run is failed, or partial if it did work. */
export async function readRunReport(
  control: ArchivalControlStore,
  runId: string,
  now: Date,
): Promise<RunReport | undefined> {
  const stored = await control.read<RunReport>(runName(runId));
  if (stored === undefined) return undefined;
  return effectiveReport(stored.value, now);
}

export function effectiveReport(report: RunReport, now: Date): RunReport {
  if (report.status !== 'running') return report;
  if (now.getTime() - Date.parse(report.heartbeatAt) <= RUN_HEARTBEAT_LAPSE_MS) return report;
  return endedReport(
    report,
    'the run stopped reporting (its process ended); a new run resumes from its checkpoints',
    report.heartbeatAt,
  );
}

/** A run that ended without finishing its report: failed, or partial if it did work. */
export function endedReport(report: RunReport, stoppedBecause: string, finishedAt: string): RunReport {
  const didWork = report.counts.copied + report.counts.purged > 0;
  return { ...report, status: didWork ? 'partial' : 'failed', finishedAt, stoppedBecause };
}

/** The most recent reports, newest first (run ids sort by start time). */
export async function listRunReports(
  control: ArchivalControlStore,
  now: Date,
  limit = 20,
): Promise<RunReport[]> {
  const names = (await control.list('runs/')).sort().reverse().slice(0, limit);
  const reports = await Promise.all(names.map((name) => control.read<RunReport>(name)));
  return reports.filter((r) => r !== undefined).map((r) => effectiveReport(r.value, now));
}
