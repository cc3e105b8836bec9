// Memory at scale: the engine archives N records, then 10 x N, each run in a child process of its own
// whose peak RSS (process.resourceUsage().maxRSS) is the figure. A second child per size runs the same
// archival with a full GC forced every 250 ms: the largest heap left after one is what the archiver keeps
// (memory.liveHeapGrowthRatio10x), apart from garbage V8 has not yet collected, which the first child's
// peak includes (its `peaks` give every V8 heap space's largest size). The child archives into the embedded
// default's stores, as `npm start` composes them: the file archive and the SQLite control store, all
// files on tmpfs (loaded before the child starts). Until 2026-12-03 the archive was an in-memory Azurite in
// the parent; past about 15,000 blobs its calls outlasted the adapter's 20 s deadline (docs/performance.md),
// so the 10 x run needed several engine runs or failed, and the figure measured the emulator's limits.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, type HeapSpaceInfo } from 'node:v8';
import { FileArchiveStore } from '../src/adapters/files/file-archive-store.ts';
import { SqliteControlStore } from '../src/adapters/sqlite/sqlite-control-store.ts';
import type { RunReport } from '../src/archival/run-reports.ts';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { type Figure, runBenchmark } from './support/bench-result.ts';
import {
  ARCHIVE_ALL_AS_OF,
  archivalEngine,
  benchFolder,
  loadRecords,
  openHotStores,
  removeFolder,
} from './support/bench-world.ts';
import { runChild } from './support/child-process.ts';
import { round } from './support/latency-stats.ts';

interface ChildReport {
  readonly records: number;
  readonly archived: number;
  /** Engine runs it took (failed steps wait for the next run, as on a schedule). */
  readonly runs: number;
  readonly seconds: number;
  readonly maxRssMiB: number;
  readonly startRssMiB: number;
  readonly heapUsedMiB: number;
  /** Peaks of process.memoryUsage() sampled every 50 ms: which part of the RSS grows with the records. */
  readonly peaks: MemoryPeaks;
  /** With --live: the largest heap in use right after a forced full GC. */
  readonly liveHeapMiB?: number;
  readonly requestUnitsPerRecord: number;
  readonly status: string;
  readonly stoppedBecause?: string;
  readonly failures: readonly string[];
}

const MAX_RUNS = 3;

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const [path, archiveFolder] = process.argv.slice(childIndex + 1) as [string, string];
  console.log(
    JSON.stringify(await archiveInThisProcess(path, archiveFolder, process.argv.includes('--live'))),
  );
} else {
  await runBenchmark('scale-memory', async ({ profile, log }) => {
    const folder = benchFolder('scale-memory', 'tmpfs');
    try {
      const runs: Record<string, ChildReport> = {};
      for (const [name, records] of [
        ['1x', profile.memoryRecords],
        ['10x', profile.memoryRecords * 10],
      ] as const) {
        const loaded = join(folder, `loaded-${name}.sqlite`);
        const loader = new SqliteRecordStore({ path: loaded });
        await loadRecords(loader, records, log);
        await loader.close();
        for (const live of [false, true]) {
          const run = live ? `${name}.live` : name;
          // Each child archives a copy of the loaded file into an empty archive of its own.
          const path = join(folder, `records-${run}.sqlite`);
          copyFileSync(loaded, path);
          log(
            `archiving ${records} records in a child process${live ? ', a full GC forced every 250 ms' : ''}`,
          );
          const report = await runChild<ChildReport>(
            fileURLToPath(import.meta.url),
            ['--child', path, join(folder, `archive-${run}`), ...(live ? ['--live'] : [])],
            live ? ['--expose-gc'] : [],
          );
          if (report.archived !== records)
            throw new Error(`${run}: archived ${report.archived} of ${records}: ${JSON.stringify(report)}`);
          runs[run] = report;
          log(`${run}: ${JSON.stringify(report)}`);
          removeFolder(path);
        }
        removeFolder(loaded);
      }
      const figures: Record<string, Figure> = {
        'memory.rssGrowthRatio10x': {
          value: round(runs['10x']!.maxRssMiB / runs['1x']!.maxRssMiB),
          unit: 'x',
          description: `peak RSS archiving ${profile.memoryRecords * 10} records / archiving ${profile.memoryRecords}`,
          target: { kind: 'max', value: 1.2, text: '<= 1.2' },
        },
        'memory.peakRssMiB10x': {
          value: runs['10x']!.maxRssMiB,
          unit: 'MiB',
          description: 'peak RSS of the 10x run',
        },
        'memory.liveHeapGrowthRatio10x': {
          value: round(runs['10x.live']!.liveHeapMiB! / runs['1x.live']!.liveHeapMiB!),
          unit: 'x',
          description: `largest V8 heap in use after a forced full GC (one every 250 ms) archiving ${profile.memoryRecords * 10} records / archiving ${profile.memoryRecords}: what the archiver keeps, without the garbage in the peak RSS`,
        },
        'memory.liveHeapMiB10x': {
          value: runs['10x.live']!.liveHeapMiB!,
          unit: 'MiB',
          description: 'largest V8 heap in use after a forced full GC in the 10x run',
        },
      };
      return { figures, details: { runs, archive: 'file archive and SQLite control store on tmpfs' } };
    } finally {
      removeFolder(folder);
    }
  });
}

/** The child: opens the loaded file and an empty archive folder, runs the engine over everything, reports. */
async function archiveInThisProcess(
  path: string,
  archiveFolder: string,
  live: boolean,
): Promise<ChildReport> {
  const startRssMiB = mib(process.memoryUsage().rss);
  const sampler = memorySampler();
  const liveHeap = live ? liveHeapSampler() : undefined;
  const hot = openHotStores(path);
  const archive = new FileArchiveStore({ folder: archiveFolder });
  const control = new SqliteControlStore({ path: join(archiveFolder, 'control.sqlite') });
  const stack = { archive, control };
  try {
    const { hot: records } = await hot.store.countByTier();
    // As a schedule would: steps that failed are retried by the next run, a day later so their backoff
    // has passed (the file archive should need one run; the report says how many it took).
    let archived = 0;
    let durationMs = 0;
    let requestUnits = 0;
    let last: RunReport | undefined;
    let runs = 0;
    for (; runs < MAX_RUNS && archived < records; runs++) {
      const asOf = new Date(Date.parse(ARCHIVE_ALL_AS_OF) + runs * 24 * 3600_000).toISOString();
      last = await archivalEngine(hot, stack).run({ asOf });
      archived += last.counts.purged;
      durationMs += last.durationMs;
      requestUnits += last.requestCharge.requestUnits;
    }
    return {
      records,
      archived,
      runs,
      seconds: durationMs / 1000,
      maxRssMiB: mib(process.resourceUsage().maxRSS * 1024),
      startRssMiB,
      heapUsedMiB: mib(process.memoryUsage().heapUsed),
      peaks: sampler.stop(),
      ...(liveHeap !== undefined ? { liveHeapMiB: liveHeap.stop() } : {}),
      requestUnitsPerRecord: round(requestUnits / Math.max(1, archived), 2),
      status: last?.status ?? 'none',
      ...(last?.stoppedBecause !== undefined ? { stoppedBecause: last.stoppedBecause } : {}),
      failures: last?.failures.slice(0, 5) ?? [],
    };
  } finally {
    await hot.close();
    await archive.close();
    await control.close();
  }
}

/** Peak MiB of each process.memoryUsage() field, and of each V8 heap space's size (`space.<name>`). */
type MemoryPeaks = Record<string, number>;

function memorySampler(): { stop(): MemoryPeaks } {
  const peaks: MemoryPeaks = {};
  const peak = (key: string, bytes: number) => (peaks[key] = Math.max(peaks[key] ?? 0, bytes));
  const sample = () => {
    const usage: Readonly<Record<string, number>> = { ...process.memoryUsage() };
    for (const [key, bytes] of Object.entries(usage)) peak(key, bytes);
    for (const space of getHeapSpaceStatistics() as readonly HeapSpaceInfo[])
      peak(`space.${space.space_name}`, space.space_size);
  };
  const timer = setInterval(sample, 50).unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return Object.fromEntries(Object.entries(peaks).map(([key, bytes]) => [key, mib(bytes)]));
    },
  };
}

/** The largest heap in use after a full GC, forced every 250 ms (needs --expose-gc). */
function liveHeapSampler(): { stop(): number } {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('--live needs node --expose-gc');
  let largest = 0;
  const sample = () => {
    collect();
    largest = Math.max(largest, process.memoryUsage().heapUsed);
  };
  const timer = setInterval(sample, 250).unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return mib(largest);
    },
  };
}

function mib(bytes: number): number {
  return Math.round((bytes / 1024 ** 2) * 10) / 10;
}
