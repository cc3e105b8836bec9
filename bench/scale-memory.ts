// Memory at scale: the engine archives N records, then 10 x N, each run in a child process of its own
// whose peak RSS (process.resourceUsage().maxRSS) is the figure. Azurite runs here, in the parent,
// so the children hold only what the archiver holds (in production Blob is a remote service), and in
// memory: on disk its every write slows with the number of blobs it holds (docs/performance.md). The
// SQLite files are loaded before each child starts and sit on tmpfs.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedAzurite } from '../src/adapters/azurite/embedded-azurite.ts';
import type { RunReport } from '../src/archival/run-reports.ts';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { type Figure, runBenchmark } from './support/bench-result.ts';
import {
  ARCHIVE_ALL_AS_OF,
  archivalEngine,
  benchFolder,
  loadRecords,
  openArchiveStack,
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
  readonly requestUnitsPerRecord: number;
  readonly status: string;
  readonly stoppedBecause?: string;
  readonly failures: readonly string[];
}

const MAX_RUNS = 3;

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const [path, connectionString, container] = process.argv.slice(childIndex + 1) as [string, string, string];
  console.log(JSON.stringify(await archiveInThisProcess(path, connectionString, container)));
} else {
  await runBenchmark('scale-memory', async ({ profile, log }) => {
    const folder = benchFolder('scale-memory', 'tmpfs');
    const azurite = await startEmbeddedAzurite({ folder: join(folder, 'azurite'), port: 0, inMemory: true });
    try {
      const runs: Record<string, ChildReport> = {};
      for (const [name, records] of [
        ['1x', profile.memoryRecords],
        ['10x', profile.memoryRecords * 10],
      ] as const) {
        const path = join(folder, `records-${name}.sqlite`);
        const loader = new SqliteRecordStore({ path });
        await loadRecords(loader, records, log);
        await loader.close();
        log(`archiving ${records} records in a child process`);
        const report = await runChild<ChildReport>(fileURLToPath(import.meta.url), [
          '--child',
          path,
          azurite.connectionString,
          `scale-${name}`,
        ]);
        if (report.archived !== records)
          throw new Error(`${name}: archived ${report.archived} of ${records}: ${JSON.stringify(report)}`);
        runs[name] = report;
        log(`${name}: ${JSON.stringify(report)}`);
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
      };
      return { figures, details: { runs, azurite: 'in the parent process, in memory' } };
    } finally {
      await azurite.stop();
      removeFolder(folder);
    }
  });
}

/** The child: opens the file and the parent's Azurite, runs the engine over everything, reports. */
async function archiveInThisProcess(
  path: string,
  connectionString: string,
  container: string,
): Promise<ChildReport> {
  const startRssMiB = mib(process.memoryUsage().rss);
  const hot = openHotStores(path);
  const stack = await openArchiveStack('', { connectionString, container });
  try {
    const { hot: records } = await hot.store.countByTier();
    // As a schedule would: steps that failed (the emulator slows as it fills; a call past its deadline
    // fails and backs off) are retried by the next run, a day later so their backoff has passed.
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
      requestUnitsPerRecord: round(requestUnits / Math.max(1, archived), 2),
      status: last?.status ?? 'none',
      ...(last?.stoppedBecause !== undefined ? { stoppedBecause: last.stoppedBecause } : {}),
      failures: last?.failures.slice(0, 5) ?? [],
    };
  } finally {
    await hot.close();
    await stack.close();
  }
}

function mib(bytes: number): number {
  return Math.round((bytes / 1024 ** 2) * 10) / 10;
}
