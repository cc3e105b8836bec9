// One JSON file per benchmark in bench/results/, written by the benchmark itself, and the small
// harness every bench/*.ts entry runs in: timing, progress lines, the command that reproduces it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Profile, profileFromArgs } from './profile.ts';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/** A figure the summary reports, with the target it is held to (if the issue sets one). */
export interface Figure {
  readonly value: number;
  readonly unit: string;
  readonly description: string;
  /** `max`: the value must not exceed `target`; `min`: it must reach it. */
  readonly target?: { readonly kind: 'max' | 'min'; readonly value: number; readonly text: string };
}

export interface BenchResult {
  readonly name: string;
  readonly mode: Profile['mode'];
  readonly command: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: ReturnType<typeof machine> & { readonly cpuDuringRun?: CpuShares };
  readonly figures: Readonly<Record<string, Figure>>;
  readonly details: unknown;
}

export function commandFor(name: string, profile: Profile): string {
  return `node --disable-warning=ExperimentalWarning bench/${name}.ts${profile.mode === 'quick' ? ' --quick' : ''}`;
}

export function machine() {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    /** 1-minute load average when the figures were taken: above the CPU count, other work competed. */
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** Shares of every core's time over a run (Linux /proc/stat): busy (any process), and stolen by the host. */
export interface CpuShares {
  readonly busy: number;
  readonly steal: number;
}

/** The machine's CPU counters now, or undefined where there is no /proc/stat. */
function cpuTicks(): { readonly total: number; readonly idle: number; readonly steal: number } | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal (the first line sums every core)
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 8 || ticks.some(Number.isNaN)) return undefined;
    return { total: ticks.reduce((a, b) => a + b, 0), idle: ticks[3]! + ticks[4]!, steal: ticks[7]! };
  } catch {
    return undefined;
  }
}

function cpuSharesSince(before: ReturnType<typeof cpuTicks>): CpuShares | undefined {
  const after = cpuTicks();
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  const total = after.total - before.total;
  const share = (ticks: number) => Math.round((ticks / total) * 1000) / 1000;
  return {
    busy: share(total - (after.idle - before.idle) - (after.steal - before.steal)),
    steal: share(after.steal - before.steal),
  };
}

export function met(figure: Figure): boolean | undefined {
  if (figure.target === undefined) return undefined;
  return figure.target.kind === 'max'
    ? figure.value <= figure.target.value
    : figure.value >= figure.target.value;
}

export interface BenchOutput {
  readonly figures: Record<string, Figure>;
  readonly details: unknown;
}

export interface BenchContext {
  readonly profile: Profile;
  /** A progress line, prefixed with the benchmark's name and the seconds since it started. */
  readonly log: (message: string) => void;
}

/**
 * Runs one benchmark: `body` returns its figures and details; the result goes to
 * bench/results/<name>.json and a short table to stdout.
 */
export async function runBenchmark(
  name: string,
  body: (context: BenchContext) => BenchOutput | Promise<BenchOutput>,
): Promise<BenchResult> {
  const profile = profileFromArgs();
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const ticks = cpuTicks();
  const log = (message: string): void =>
    console.log(`[${name} +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`);
  log(`${profile.mode} mode`);
  const { figures, details } = await body({ profile, log });
  const cpuDuringRun = cpuSharesSince(ticks);
  const result: BenchResult = {
    name,
    mode: profile.mode,
    command: commandFor(name, profile),
    startedAt,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    // Busy near 1 with a one-process benchmark, or any steal: something else had the cores too.
    machine: { ...machine(), ...(cpuDuringRun === undefined ? {} : { cpuDuringRun }) },
    figures,
    details,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  for (const [key, figure] of Object.entries(figures)) {
    const verdict = met(figure);
    const target =
      figure.target === undefined ? '' : `  (target ${figure.target.text}: ${verdict ? 'met' : 'MISSED'})`;
    log(`${key} = ${figure.value} ${figure.unit}${target}`);
  }
  log(`done in ${result.durationSeconds} s -> bench/results/${name}.json`);
  return result;
}
