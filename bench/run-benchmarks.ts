// `npm run bench` (full) and `npm run bench -- --quick` (under two minutes on 2 cores): runs every
// benchmark in a child process of its own, then writes bench/results/summary.json and the summary
// table in docs/performance.md, and prints every figure with its target and whether it was met.
// `--only a,b` runs some benchmarks and summarizes them with the results already on disk (`--only none`
// runs none and rebuilds the summary).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import * as prettier from 'prettier';
import {
  BENCH_DIR,
  type BenchResult,
  type Figure,
  machine,
  met,
  REPO_DIR,
  RESULTS_DIR,
} from './support/bench-result.ts';
import { NODE_FLAGS } from './support/child-process.ts';
import { profileFromArgs } from './support/profile.ts';

/** In this order: the cost benchmark reads the archiver's measured RU per record. */
const BENCHMARKS = [
  'archival-throughput',
  'cost-reference',
  'read-latency',
  'api-throughput',
  'live-during-archival',
  'scale-memory',
  'sqlite-scale',
  'ops-scale',
  'list-cost',
  'embedded-scale',
  'export-memory',
] as const;

/** The figures the issue asks summary.json to hold, at least. */
const REQUIRED = [
  'cost.beforeMonthlyUsd',
  'cost.afterMonthlyUsd',
  'cost.floorMonthlyUsd',
  'cost.compressionRatio',
  'read.hotOverheadRatio',
  'read.archivedOverheadRatio',
  'read.cachedVsHotRatio',
  'archive.throughputVsSeedRatio',
  'archive.efficiencyVsRawIo',
  'archive.throughputVsSeedRatioRemoteModel',
  'archive.ruPerRecord',
  'archive.floorRuPerRecord',
  'archive.ruToFloorRatio',
  'archive.seedRuPerRecord',
  'memory.rssGrowthRatio10x',
  'embedded.archiveRecordsPerSecond.small',
  'embedded.archiveRecordsPerSecond.large',
  'embedded.archiveCostGrowth',
  'embedded.peakRssMiB',
  'embedded.diskBytesBeforeArchival',
  'embedded.diskBytesAfterArchival',
  'ops.statusRu',
  'ops.costReportRu',
  'live.hotThroughputDuringArchivalRatio',
  'live.hotP99DuringArchivalRatio',
  'export.rssGrowthMiB',
  'live.hotP99DuringArchivalRatioRemoteModel',
  'live.throttledAtCallersRemoteModel',
] as const;

const DOC = join(REPO_DIR, 'docs', 'performance.md');
const START_MARK = '<!-- bench:summary:start -->';
const END_MARK = '<!-- bench:summary:end -->';

const profile = profileFromArgs();
const only = argValue('--only')?.split(',');
const selected = BENCHMARKS.filter((name) => only === undefined || only.includes(name));
const suiteArgs = [
  ...(profile.mode === 'quick' ? ['--quick'] : []),
  ...(only ? [`--only ${only.join(',')}`] : []),
];
const suiteCommand = `npm run bench${suiteArgs.length > 0 ? ` -- ${suiteArgs.join(' ')}` : ''}`;
const started = performance.now();
const loadBefore = loadavg();
console.log(`Benchmarks (${profile.mode}): ${selected.join(', ')}`);
warnIfBusy(loadBefore);

const outcomes: Record<string, 'ran' | 'failed' | 'from disk' | 'absent'> = {};
for (const name of selected) {
  const t0 = performance.now();
  const code = await run(join(BENCH_DIR, `${name}.ts`), profile.mode === 'quick' ? ['--quick'] : []);
  outcomes[name] = code === 0 ? 'ran' : 'failed';
  console.log(`== ${name}: ${outcomes[name]} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const results: BenchResult[] = [];
for (const name of BENCHMARKS) {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (outcomes[name] === 'failed' || !existsSync(file)) {
    outcomes[name] ??= 'absent';
    continue;
  }
  outcomes[name] ??= 'from disk';
  results.push(JSON.parse(readFileSync(file, 'utf8')) as BenchResult);
}

interface SummaryFigure extends Figure {
  readonly met: boolean | null;
  readonly command: string;
  readonly source: string;
  readonly mode: BenchResult['mode'];
  readonly measuredAt: string;
}

const figures: Record<string, SummaryFigure> = {};
for (const result of results) {
  for (const [key, figure] of Object.entries(result.figures)) {
    figures[key] = {
      ...figure,
      met: met(figure) ?? null,
      command: result.command,
      source: `bench/results/${result.name}.json`,
      mode: result.mode,
      measuredAt: result.startedAt,
    };
  }
}
const missing = REQUIRED.filter((key) => figures[key] === undefined);
// The benchmarks' own run times (some may come from disk, from an earlier `--only` run).
const durationSeconds = Math.round(results.reduce((sum, result) => sum + result.durationSeconds, 0));
const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
const summary = {
  generatedAt: new Date().toISOString(),
  mode: profile.mode,
  command: suiteCommand,
  durationSeconds,
  wallSeconds,
  machine: machine(),
  loadAverage: { before: loadBefore.map(round2), after: loadavg().map(round2) },
  benchmarks: outcomes,
  missing,
  targets: {
    met: Object.values(figures).filter((figure) => figure.met === true).length,
    missed: Object.values(figures).filter((figure) => figure.met === false).length,
  },
  figures,
};
writeFileSync(join(RESULTS_DIR, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
await writePerformanceDoc(summary.generatedAt);

const table = new Table({ head: ['figure', 'value', 'target', 'met', 'benchmark'] });
for (const [key, figure] of Object.entries(figures)) {
  table.push([
    key,
    `${figure.value} ${figure.unit}`,
    figure.target?.text ?? '',
    figure.met === null ? '' : figure.met ? 'yes' : 'NO',
    figure.source.replace('bench/results/', '').replace('.json', ''),
  ]);
}
console.log(table.toString());
console.log(
  `${summary.targets.met} targets met, ${summary.targets.missed} missed; ${profile.mode} run took ${durationSeconds} s` +
    ` -> bench/results/summary.json, docs/performance.md`,
);
warnIfBusy(loadavg());
if (missing.length > 0) console.log(`Missing figures: ${missing.join(', ')}`);
if (Object.values(outcomes).includes('failed')) process.exitCode = 1;

/** Replaces the generated block of docs/performance.md (between the markers) with this run's table. */
async function writePerformanceDoc(generatedAt: string): Promise<void> {
  if (!existsSync(DOC)) return;
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf(START_MARK);
  const end = text.indexOf(END_MARK);
  if (start < 0 || end < start) throw new Error(`${DOC} lacks the ${START_MARK} ... ${END_MARK} block`);
  const rows = Object.entries(figures).map(([key, figure]) => {
    const verdict = figure.met === null ? '' : figure.met ? 'met' : '**missed**';
    return `| \`${key}\` | ${figure.value} ${figure.unit} | ${figure.target?.text ?? ''} | ${verdict} | ${figure.description} |`;
  });
  const commands = [...new Set(results.map((result) => `\`${result.command}\``))];
  // An `--only` run rewrites the table with figures of earlier runs: say which, when and on what.
  const earlier = new Map<string, string[]>();
  for (const result of results.filter((each) => outcomes[each.name] === 'from disk')) {
    const when = `${result.startedAt.slice(0, 10)}, ${result.machine.cpus} × ${result.machine.cpuModel}`;
    earlier.set(when, [...(earlier.get(when) ?? []), result.name]);
  }
  const provenance =
    earlier.size === 0
      ? ''
      : ` This run measured ${selected.join(', ')}; the other figures are from earlier runs: ` +
        `${[...earlier].map(([when, names]) => `${names.join(', ')} (${when})`).join('; ')}.`;
  const block = [
    START_MARK,
    '',
    `Generated by \`${suiteCommand}\` on ${generatedAt.slice(0, 10)} (${profile.mode} mode, benchmarks ran ${durationSeconds} s; ` +
      `${summary.machine.cpus} × ${summary.machine.cpuModel}, ${summary.machine.memoryGiB} GiB, Node ${summary.machine.node}; ` +
      `load average ${summary.loadAverage.before[0]} before, ${summary.loadAverage.after[0]} after). ` +
      `Each figure's own command is in \`bench/results/summary.json\`: ${commands.join(', ')}.${provenance}`,
    '',
    '| figure | value | target | | what it is |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    END_MARK,
  ].join('\n');
  const next = text.slice(0, start) + block + text.slice(end + END_MARK.length);
  const options = (await prettier.resolveConfig(DOC)) ?? {};
  writeFileSync(DOC, await prettier.format(next, { ...options, parser: 'markdown' }));
}

function run(script: string, args: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...NODE_FLAGS, script, ...args], {
    cwd: REPO_DIR,
    stdio: 'inherit',
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

function argValue(flag: string): string | undefined {
  const index = process.argv.indexOf(flag);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function warnIfBusy(load: number[]): void {
  const cpus = machine().cpus;
  if ((load[0] ?? 0) > cpus)
    console.log(
      `Warning: load average ${round2(load[0] ?? 0)} on ${cpus} CPUs: other work is running, absolute figures are unreliable (ratios less so)`,
    );
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
