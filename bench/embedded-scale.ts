// The embedded default at scale (issue 17): the records loaded into SQLite on disk in batches, then one
// archival run over the file archive and the SQLite control store, as `npm run demo` and `npm run
// archive -- run` do. Two sizes (full: 20,000 and 200,000 records; quick: 1,000 and 5,000), each in a
// child process of its own so peak RSS is that size's. A flat cost per record means the large run's
// seconds per record are at most 1.2 times the small one's. At the large size the reads are measured
// too, with every record in the store: hot, archived (no cache) and cached, each against the most
// direct read of the same bytes.
//   node bench/embedded-scale.ts [--quick]            both sizes, figures to bench/results/embedded-scale.json
//   node bench/embedded-scale.ts --child N [--reads]  one size (used by the above)
//   node bench/embedded-scale.ts --reads-of DATA_DIR  the same reads on a data folder loaded and archived
//                                                     by `npm run demo` and `npm run archive -- run` (any size;
//                                                     the folder is left as it is), figures printed only
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { FileArchiveStore } from '../src/adapters/files/file-archive-store.ts';
import { LruMemoryCache } from '../src/adapters/lru/lru-memory-cache.ts';
import { SqliteControlStore } from '../src/adapters/sqlite/sqlite-control-store.ts';
import { systemClock } from '../src/composition/system-clock.ts';
import { serializeRecord } from '../src/domain/billing-record.ts';
import { fullDocument } from '../src/domain/record-document.ts';
import type { RecordKey } from '../src/domain/record-rules.ts';
import { ArchivedRecordReader } from '../src/records/archived-record-reader.ts';
import { RecordService } from '../src/records/record-service.ts';
import { type Figure, runBenchmark } from './support/bench-result.ts';
import {
  archivalEngine,
  benchFolder,
  benchRecords,
  DECODED_CACHE_BYTES,
  openHotStores,
  removeFolder,
} from './support/bench-world.ts';
import { runChild } from './support/child-process.ts';
import { type Comparison, compareLatency } from './support/latency-stats.ts';
import { GENERATOR_NOW } from './support/profile.ts';

const SIZES = { quick: [1_000, 5_000], full: [20_000, 200_000] } as const;
/** Records per createMany: one SQLite commit each, as the demo loads. */
const LOAD_BATCH = 500;
/** A day past the generator's now: every record older than three months is eligible, the rest stays hot. */
const AS_OF = new Date(GENERATOR_NOW.getTime() + 24 * 3600_000).toISOString();
const READ_KEYS = 2_000;
const CONCURRENCIES = [1, 32] as const;
const MiB = 1024 * 1024;

interface SizeResult {
  readonly records: number;
  readonly loadSeconds: number;
  readonly archived: number;
  readonly hot: number;
  readonly archiveSeconds: number;
  readonly archiveRecordsPerSecond: number;
  /** CPU seconds (user + system, every thread of the process) the run took: beside `archiveSeconds`, whether a slower size waited or worked more. */
  readonly archiveCpuSeconds: number;
  readonly peakRssMiB: number;
  readonly diskBytesBefore: number;
  readonly diskBytesAfter: number;
  readonly archiveFolderBytes: number;
  readonly runCounts: unknown;
  readonly reads?: Record<string, Record<string, Comparison>>;
}

const childIndex = process.argv.indexOf('--child');
const readsOfIndex = process.argv.indexOf('--reads-of');
if (readsOfIndex >= 0) {
  console.log(JSON.stringify(await measureReadsOf(resolve(process.argv[readsOfIndex + 1] ?? '.data'))));
} else if (childIndex >= 0) {
  const result = await measureSize(Number(process.argv[childIndex + 1]), process.argv.includes('--reads'));
  console.log(JSON.stringify(result));
} else {
  await runBenchmark('embedded-scale', async ({ profile, log }) => {
    const [small, large] = SIZES[profile.mode];
    const script = fileURLToPath(import.meta.url);
    log(`${small} records, then ${large} (with reads), each in its own process, files on disk`);
    const smallRun = await runChild<SizeResult>(script, ['--child', String(small)]);
    const largeRun = await runChild<SizeResult>(script, ['--child', String(large), '--reads']);
    const growth = round2(
      largeRun.archiveSeconds / largeRun.archived / (smallRun.archiveSeconds / smallRun.archived),
    );
    const worstP50 = (name: string): number =>
      Math.max(...CONCURRENCIES.map((c) => largeRun.reads?.[name]?.[`c${c}`]?.p50Ratio ?? Number.NaN));
    const figures: Record<string, Figure> = {
      'embedded.archiveRecordsPerSecond.small': {
        value: smallRun.archiveRecordsPerSecond,
        unit: 'records/s',
        description: `records archived (copied and purged, grace 0) per second by one run at ${small} records, SQLite and the file archive on disk`,
      },
      'embedded.archiveRecordsPerSecond.large': {
        value: largeRun.archiveRecordsPerSecond,
        unit: 'records/s',
        description: `the same at ${large} records`,
      },
      'embedded.archiveCostGrowth': {
        value: growth,
        unit: 'x',
        description: `seconds per archived record at ${large} records / at ${small} (1.00: flat)`,
        target: { kind: 'max', value: 1.2, text: '<= 1.2' },
      },
      'embedded.archiveCpuGrowth': {
        value: round2(
          largeRun.archiveCpuSeconds / largeRun.archived / (smallRun.archiveCpuSeconds / smallRun.archived),
        ),
        unit: 'x',
        description: `CPU seconds (every thread) per archived record at ${large} / at ${small}: beside embedded.archiveCostGrowth, how much of a slower size is more work rather than more waiting (fsync)`,
      },
      'embedded.loadRecordsPerSecond': {
        value: round2(largeRun.records / largeRun.loadSeconds),
        unit: 'records/s',
        description: `records generated and loaded in batches of ${LOAD_BATCH} (createMany, as npm run demo), at ${large} records`,
      },
      'embedded.peakRssMiB': {
        value: largeRun.peakRssMiB,
        unit: 'MiB',
        description: `peak resident memory of the process that loaded and archived ${large} records`,
      },
      'embedded.diskBytesBeforeArchival': {
        value: largeRun.diskBytesBefore,
        unit: 'bytes',
        description: `bytes on disk (allocated blocks) of the data folder with ${large} records, all hot`,
      },
      'embedded.diskBytesAfterArchival': {
        value: largeRun.diskBytesAfter,
        unit: 'bytes',
        description: `the same after the run (SQLite keeps the pages it freed until a VACUUM; the archive folder holds ${largeRun.archiveFolderBytes} of them)`,
      },
      'embedded.read.hotOverheadRatio': {
        value: worstP50('hot'),
        unit: 'x',
        description: `RecordService.get of a hot record / direct SQLite point read + JSON.parse, p50, worse of c=1 and c=32, with ${large} records in the store`,
        target: { kind: 'max', value: 1.1, text: '<= 1.10' },
      },
      'embedded.read.archivedOverheadRatio': {
        value: worstP50('archived'),
        unit: 'x',
        description: `RecordService.get of an archived record, cache off / direct stub read + file read + gunzip + JSON.parse, p50, worse of c=1 and c=32, with ${large} records`,
        target: { kind: 'max', value: 1.25, text: '<= 1.25' },
      },
      'embedded.read.archivedOverSyncReadRatio': {
        value: worstP50('archivedSyncRead'),
        unit: 'x',
        description: `embedded.read.archivedOverheadRatio with the baseline's file read synchronous (readFileSync), as the file archive reads blobs up to 64 KiB: the cost of the index row, the MD5 and SHA-256 checks and the layers, p50, worse of c=1 and c=32, with ${large} records`,
      },
      'embedded.read.cachedVsHotRatio': {
        value: worstP50('cached'),
        unit: 'x',
        description: `RecordService.get of an archived record, caches warm / RecordService.get of a hot record (other records of the same generator: the archived ones have no hot copy at this scale), p50, worse of c=1 and c=32, with ${large} records`,
        target: { kind: 'max', value: 1.1, text: '<= 1.10' },
      },
    };
    return { figures, details: { asOf: AS_OF, small: smallRun, large: largeRun } };
  });
}

async function measureSize(count: number, reads: boolean): Promise<SizeResult> {
  const say = (message: string): void => console.log(`[embedded-scale ${count}] ${message}`);
  const folder = benchFolder(`embedded-scale-${count}`, 'disk');
  const hot = openHotStores(join(folder, 'hot-store.sqlite'));
  const archive = new FileArchiveStore({ folder: join(folder, 'archive') });
  const control = new SqliteControlStore({ path: join(folder, 'archive', 'control.sqlite') });
  try {
    let started = performance.now();
    const keys: RecordKey[] = [];
    let batch = [];
    for (const record of benchRecords(count)) {
      batch.push(fullDocument(record));
      keys.push({ customerId: record.customerId, id: record.id });
      if (batch.length === LOAD_BATCH) {
        await hot.store.createMany(batch);
        batch = [];
        if (keys.length % (count / 10) === 0) say(`loaded ${keys.length}`);
      }
    }
    await hot.store.createMany(batch);
    const loadSeconds = (performance.now() - started) / 1000;
    say(`loaded ${count} records in ${loadSeconds.toFixed(1)} s`);
    const diskBytesBefore = diskUsage(folder);

    started = performance.now();
    const cpu = process.cpuUsage();
    const report = await archivalEngine(hot, { archive, control }).run({ asOf: AS_OF });
    const archiveSeconds = (performance.now() - started) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    const tiers = await hot.store.countByTier();
    if (report.status !== 'succeeded' || report.counts.purged !== tiers.archived || tiers.archived === 0) {
      throw new Error(`the run did not archive every eligible record: ${JSON.stringify(report.counts)}`);
    }
    const archiveRecordsPerSecond = round2(tiers.archived / archiveSeconds);
    say(
      `archived ${tiers.archived} records in ${archiveSeconds.toFixed(1)} s (${archiveRecordsPerSecond}/s)`,
    );
    const peakRssMiB = Math.round((process.resourceUsage().maxRSS * 1024) / MiB);
    const diskBytesAfter = diskUsage(folder);
    const result: SizeResult = {
      records: count,
      loadSeconds: round2(loadSeconds),
      archived: tiers.archived,
      hot: tiers.hot,
      archiveSeconds: round2(archiveSeconds),
      archiveRecordsPerSecond,
      archiveCpuSeconds: round2((user + system) / 1e6),
      peakRssMiB,
      diskBytesBefore,
      diskBytesAfter,
      archiveFolderBytes: diskUsage(join(folder, 'archive')),
      runCounts: report.counts,
    };
    return reads ? { ...result, reads: await measureReads(folder, hot, archive, keys, say) } : result;
  } finally {
    await archive.close();
    await control.close();
    await hot.close();
    // A failed cleanup (a file opened meanwhile by someone watching the folder) must not lose the figures.
    try {
      removeFolder(folder);
    } catch (error) {
      say(`could not remove ${folder}: ${(error as Error).message}`);
    }
  }
}

/** The reads of measureReads on an existing data folder (the demo's layout), its keys sampled evenly. */
async function measureReadsOf(dataDir: string): Promise<Record<string, Record<string, Comparison>>> {
  const say = (message: string): void => console.log(`[embedded-scale reads of ${dataDir}] ${message}`);
  const path = join(dataDir, 'hot-store.sqlite');
  const sampler = new DatabaseSync(path, { readOnly: true });
  let keys: RecordKey[];
  try {
    const { rows } = sampler.prepare('SELECT max(rowid) AS rows FROM records').get() as { rows: number };
    const step = Math.max(1, Math.floor(rows / (READ_KEYS * 8)));
    keys = (
      sampler
        // Served by the primary key's index (it holds the rowid): no read of the documents' pages.
        .prepare('SELECT customer_id AS customerId, id FROM records WHERE rowid % ? = 0')
        .all(step) as unknown as RecordKey[]
    ).map(({ customerId, id }) => ({ customerId, id }));
    say(`${rows} rows, ${keys.length} keys sampled (every ${step}th)`);
  } finally {
    sampler.close();
  }
  const hot = openHotStores(path);
  const archive = new FileArchiveStore({ folder: join(dataDir, 'archive') });
  try {
    return await measureReads(dataDir, hot, archive, keys, say);
  } finally {
    await archive.close();
    await hot.close();
  }
}

async function measureReads(
  folder: string,
  hot: ReturnType<typeof openHotStores>,
  archive: FileArchiveStore,
  keys: readonly RecordKey[],
  say: (message: string) => void,
): Promise<Record<string, Record<string, Comparison>>> {
  const tierOf = async (key: RecordKey) => (await hot.store.get(key))?.document.tier;
  // Spread over the whole key space: the first and the last of the 36 months, and all between.
  const step = Math.max(1, Math.floor(keys.length / (READ_KEYS * 8)));
  const hotKeys: RecordKey[] = [];
  const archivedKeys: RecordKey[] = [];
  for (
    let i = 0;
    i < keys.length && (hotKeys.length < READ_KEYS || archivedKeys.length < READ_KEYS);
    i += step
  ) {
    const key = keys[i]!;
    const list = (await tierOf(key)) === 'hot' ? hotKeys : archivedKeys;
    if (list.length < READ_KEYS) list.push(key);
  }
  const service = new RecordService({ store: hot.store, clock: systemClock });
  const uncached = new RecordService({
    store: hot.store,
    clock: systemClock,
    archive: new ArchivedRecordReader({ archive }),
  });
  const cached = new RecordService({
    store: hot.store,
    clock: systemClock,
    archive: new ArchivedRecordReader({
      archive,
      cache: new LruMemoryCache({ maxBytes: 512 * MiB }),
      decodedCacheBytes: DECODED_CACHE_BYTES,
    }),
  });
  const direct = new DatabaseSync(join(folder, 'hot-store.sqlite'), { readOnly: true });
  const pointRead = direct.prepare('SELECT doc FROM records WHERE customer_id = ? AND id = ?');
  try {
    // Same bytes whatever the path, before any speed means anything; this also warms the cache.
    for (const key of archivedKeys) {
      const [a, b] = await Promise.all([uncached.get(key), cached.get(key)]);
      if (serializeRecord(a.record) !== serializeRecord(b.record)) throw new Error('the read paths differ');
    }
    say(`reads: ${hotKeys.length} hot and ${archivedKeys.length} archived keys, identical bytes, cache warm`);
    const directHot = (key: RecordKey): Promise<unknown> =>
      Promise.resolve(JSON.parse((pointRead.get(key.customerId, key.id) as { doc: string }).doc));
    const directArchived = async (
      key: RecordKey,
      read: (file: string) => Promise<Buffer> = (file) => readFile(file),
    ): Promise<unknown> => {
      const stub = JSON.parse((pointRead.get(key.customerId, key.id) as { doc: string }).doc) as {
        sys: { archive: { blobPath: string } };
      };
      const bytes = await read(archive.fileOf(stub.sys.archive.blobPath));
      return JSON.parse(gunzipSync(bytes).toString('utf8'));
    };
    const indices = Array.from({ length: READ_KEYS }, (_, i) => i);
    const pairs = {
      hot: {
        keys: hotKeys,
        baseline: directHot,
        subject: (key: RecordKey) => service.get(key),
        operations: 8_000,
      },
      archived: {
        keys: archivedKeys,
        baseline: (key: RecordKey) => directArchived(key),
        subject: (key: RecordKey) => uncached.get(key),
        operations: 2_000,
      },
      // The file archive reads blobs up to 64 KiB on the event loop; this baseline reads every file so
      // too: what is left is the index row, the MD5 and SHA-256 checks and the layers.
      archivedSyncRead: {
        keys: archivedKeys,
        baseline: (key: RecordKey) =>
          directArchived(key, (file: string) => Promise.resolve(readFileSync(file))),
        subject: (key: RecordKey) => uncached.get(key),
        operations: 2_000,
      },
    };
    const results: Record<string, Record<string, Comparison>> = {
      hot: {},
      archived: {},
      archivedSyncRead: {},
      cached: {},
    };
    for (const concurrency of CONCURRENCIES) {
      for (const [name, pair] of Object.entries(pairs)) {
        results[name]![`c${concurrency}`] = await compareLatency({ concurrency, ...pair });
      }
      results.cached![`c${concurrency}`] = await compareLatency({
        keys: indices,
        concurrency,
        baseline: (i: number) => service.get(hotKeys[i % hotKeys.length]!),
        subject: (i: number) => cached.get(archivedKeys[i % archivedKeys.length]!),
        operations: 8_000,
      });
    }
    for (const [name, byConcurrency] of Object.entries(results)) {
      for (const [c, comparison] of Object.entries(byConcurrency)) {
        say(`${name} ${c}: p50 x${comparison.p50Ratio}, p99 x${comparison.p99Ratio}`);
      }
    }
    return results;
  } finally {
    direct.close();
  }
}

/** Bytes of allocated blocks under a folder (what `du` counts). */
function diskUsage(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.blocks * 512;
  let total = stats.blocks * 512;
  for (const name of readdirSync(path)) total += diskUsage(join(path, name));
  return total;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
