// Read latency through the product's read path against the most direct read of the same bytes, in
// one process on the same data (npm run bench). Four pairs, each at concurrency 1 and 32:
//   hot:      RecordService.get of a full document  vs  SELECT doc + JSON.parse on the same SQLite file
//   archived: RecordService.get of a stub, no cache vs  SELECT the stub + Blob download (SDK) + gunzip + JSON.parse
//   cached:   RecordService.get of a stub, caches warm as `npm start` composes them (decoded records in
//             process in front of the byte cache)  vs  RecordService.get of the same record hot
//   shared:   the same with the in-process layer off, so every hit decodes the shared cache's bytes
//             (what a Redis hit costs, less the network)  vs  the same hot read
// The world: N generated records loaded into one SQLite file, the file copied, and every record of
// the copy archived by the engine (Azurite, in this process), so both tiers hold the very same records.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { LruMemoryCache } from '../src/adapters/lru/lru-memory-cache.ts';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { systemClock } from '../src/composition/system-clock.ts';
import { loadConfig } from '../src/config/app-config.ts';
import { serializeRecord } from '../src/domain/billing-record.ts';
import type { RecordKey } from '../src/domain/record-rules.ts';
import { ArchivedRecordReader } from '../src/records/archived-record-reader.ts';
import { RecordService } from '../src/records/record-service.ts';
import { type Figure, runBenchmark } from './support/bench-result.ts';
import {
  ARCHIVE_ALL_AS_OF,
  archivalEngine,
  DECODED_CACHE_BYTES,
  benchFolder,
  loadRecords,
  openArchiveStack,
  openHotStores,
  removeFolder,
} from './support/bench-world.ts';
import { type Comparison, compareLatency } from './support/latency-stats.ts';

const CONCURRENCIES = [1, 32] as const;

interface PersistedStub {
  sys: { archive: { blobPath: string } };
}

await runBenchmark('read-latency', async ({ profile, log }) => {
  const folder = benchFolder('read-latency', 'tmpfs');
  const closers: Array<() => Promise<void> | void> = [];
  try {
    const hotPath = join(folder, 'hot.sqlite');
    const archivedPath = join(folder, 'archived.sqlite');
    const loader = new SqliteRecordStore({ path: hotPath });
    const keys = await loadRecords(loader, profile.readRecords, log);
    await loader.close(); // the last connection to close checkpoints the WAL into the file
    copyFileSync(hotPath, archivedPath);

    const stack = await openArchiveStack(folder);
    closers.push(() => stack.close());
    const archived = openHotStores(archivedPath);
    closers.push(() => archived.close());
    log(`archiving all ${keys.length} records of the copy`);
    const report = await archivalEngine(archived, stack).run({ asOf: ARCHIVE_ALL_AS_OF });
    if (report.counts.purged !== keys.length)
      throw new Error(`expected ${keys.length} records archived, got ${JSON.stringify(report.counts)}`);
    log(`archived: ${report.counts.purged} stubs in ${(report.durationMs / 1000).toFixed(1)} s`);

    const hotStore = new SqliteRecordStore({ path: hotPath });
    closers.push(() => hotStore.close());
    const hot = new RecordService({ store: hotStore, clock: systemClock });
    const uncached = new RecordService({
      store: archived.store,
      clock: systemClock,
      archive: new ArchivedRecordReader({ archive: stack.archive }),
    });
    const defaults = loadConfig({}, folder).cache;
    const cachedService = (decodedCacheBytes: number): RecordService =>
      new RecordService({
        store: archived.store,
        clock: systemClock,
        archive: new ArchivedRecordReader({
          archive: stack.archive,
          cache: new LruMemoryCache({ maxBytes: 512 * 1024 * 1024 }),
          decodedCacheBytes,
        }),
      });
    // Sized to hold the working set: the comparison cycles through every record (see DECODED_CACHE_BYTES).
    const cached = cachedService(Math.max(defaults.decodedMaxBytes, DECODED_CACHE_BYTES));
    const shared = cachedService(0);

    // The baselines: what a caller would write with the stores' own SDKs and nothing else.
    const directHot = new DatabaseSync(hotPath, { readOnly: true });
    const directArchived = new DatabaseSync(archivedPath, { readOnly: true });
    closers.push(
      () => directHot.close(),
      () => directArchived.close(),
    );
    const pointRead = 'SELECT doc FROM records WHERE customer_id = ? AND id = ?';
    const hotPointRead = directHot.prepare(pointRead);
    const stubPointRead = directArchived.prepare(pointRead);
    const container = BlobServiceClient.fromConnectionString(
      stack.azurite.connectionString,
    ).getContainerClient('billing-archive');
    const directSdkRead = (key: RecordKey): Promise<unknown> => {
      const row = hotPointRead.get(key.customerId, key.id) as { doc: string };
      return Promise.resolve(JSON.parse(row.doc));
    };
    const directStubAndBlob = async (key: RecordKey): Promise<unknown> => {
      const row = stubPointRead.get(key.customerId, key.id) as { doc: string };
      const stub = JSON.parse(row.doc) as PersistedStub;
      const response = await container.getBlockBlobClient(stub.sys.archive.blobPath).download();
      return JSON.parse(gunzipSync(await buffer(response.readableStreamBody!)).toString('utf8'));
    };

    // Every path must answer the same bytes before its speed means anything; this also warms the cache.
    for (const key of keys) {
      const [a, ...others] = await Promise.all([
        hot.get(key),
        uncached.get(key),
        cached.get(key),
        shared.get(key),
      ]);
      if (a.tier !== 'hot' || others.some((read) => read.tier !== 'archive'))
        throw new Error(`unexpected tiers for ${key.customerId}/${key.id}`);
      const bytes = serializeRecord(a.record);
      if (others.some((read) => serializeRecord(read.record) !== bytes))
        throw new Error(`the tiers answer different bytes for ${key.customerId}/${key.id}`);
    }
    for (const service of [cached, shared])
      if ((await service.get(keys[0]!)).tier !== 'cache') throw new Error('the cache did not warm');
    log('all tiers answer identical bytes; cache warm');

    const order = shuffled(keys);
    const pairs = {
      hot: { baseline: directSdkRead, subject: (key: RecordKey) => hot.get(key), operations: profile.hotOps },
      archived: {
        baseline: directStubAndBlob,
        subject: (key: RecordKey) => uncached.get(key),
        operations: profile.archivedOps,
      },
      cached: {
        baseline: (key: RecordKey) => hot.get(key),
        subject: (key: RecordKey) => cached.get(key),
        operations: profile.hotOps,
      },
      shared: {
        baseline: (key: RecordKey) => hot.get(key),
        subject: (key: RecordKey) => shared.get(key),
        operations: profile.hotOps,
      },
    };
    const results: Record<string, Record<string, Comparison>> = {};
    for (const [name, pair] of Object.entries(pairs)) {
      results[name] = {};
      for (const concurrency of CONCURRENCIES) {
        const comparison = await compareLatency({ keys: order, concurrency, ...pair });
        results[name][`c${concurrency}`] = comparison;
        log(
          `${name} c=${concurrency}: p50 ${comparison.subject.p50Ms} vs ${comparison.baseline.p50Ms} ms ` +
            `(x${comparison.p50Ratio}), p99 ${comparison.subject.p99Ms} vs ${comparison.baseline.p99Ms} ms (x${comparison.p99Ratio})`,
        );
      }
    }
    const worstP50 = (name: string): number =>
      Math.max(...CONCURRENCIES.map((c) => results[name]![`c${c}`]!.p50Ratio));
    const figures: Record<string, Figure> = {
      'read.hotOverheadRatio': {
        value: worstP50('hot'),
        unit: 'x',
        description:
          'RecordService.get of a hot record / direct SQLite point read + JSON.parse, p50, worse of concurrency 1 and 32',
        target: { kind: 'max', value: 1.1, text: '<= 1.10' },
      },
      'read.archivedOverheadRatio': {
        value: worstP50('archived'),
        unit: 'x',
        description:
          'RecordService.get of an archived record, cache off / direct stub read + Blob download + gunzip + JSON.parse, p50, worse of c=1 and c=32',
        target: { kind: 'max', value: 1.25, text: '<= 1.25' },
      },
      'read.cachedVsHotRatio': {
        value: worstP50('cached'),
        unit: 'x',
        description: `RecordService.get of an archived record, caches warm as npm start composes them (CACHE_DECODED_MAX_BYTES=${DECODED_CACHE_BYTES}, the working set) / the same record read hot, p50, worse of c=1 and c=32`,
        target: { kind: 'max', value: 1.1, text: '<= 1.10' },
      },
      'read.sharedCacheVsHotRatio': {
        value: worstP50('shared'),
        unit: 'x',
        description:
          'as read.cachedVsHotRatio with the in-process layer of decoded records off: every hit gunzips, hashes and parses the cached bytes',
      },
    };
    return {
      figures,
      details: {
        records: keys.length,
        storage:
          'SQLite files and Azurite on tmpfs; every read is served from memory (page cache) either way',
        cache:
          'in-process byte LRU with decoded records in front (the embedded default); spike rehydration off, so archived records stay archived',
        comparisons: results,
      },
    };
  } finally {
    for (const close of closers.reverse()) await close();
    removeFolder(folder);
  }
});

/** A seeded Fisher-Yates shuffle: the same order every run, no locality from load order. */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  let state = 0x2545f491;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
