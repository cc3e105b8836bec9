// The SQLite hot store at scale: the same queries against a small and a large store (full mode: 10,000
// and 1,000,000 records), in alternating blocks in one process. Each store looks like production after
// archival: records older than three months are stubs, the last three months full documents.
//   list:      RecordService.list, a customer's newest 25 (the API's list page)
//   candidate: the archiver's scan for copy candidates, a page of 100 hot records in a month slice
//   point:     RecordStore.get of a stub (what every read starts with)
// "Flat" is read here as: 100 x the records costs at most 1.5 x the p50 latency (an index lookup
// grows with log N; anything that grows with N would show 10 x or more).
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { systemClock } from '../src/composition/system-clock.ts';
import { defaultCustomerCount } from '../src/demo/billing-record-generator.ts';
import { archiveCutoff } from '../src/domain/archival-policy.ts';
import type { RecordDocument } from '../src/domain/record-document.ts';
import { RecordService } from '../src/records/record-service.ts';
import { BENCH_DIR, type Figure, runBenchmark } from './support/bench-result.ts';
import { BENCH_POLICY, benchFolder, removeFolder } from './support/bench-world.ts';
import type { DocumentWorkerData } from './support/document-worker.ts';
import { type Comparison, compareLatency } from './support/latency-stats.ts';
import { GENERATOR_NOW } from './support/profile.ts';

const WORKERS = 2;
const FLAT = 1.5;
const DAY_MS = 86_400_000;

await runBenchmark('sqlite-scale', async ({ profile, log }) => {
  const folder = benchFolder('sqlite-scale', 'tmpfs');
  const stores: SqliteRecordStore[] = [];
  try {
    const cutoff = archiveCutoff(BENCH_POLICY, GENERATOR_NOW).toISOString();
    const sizes = { small: profile.sqliteSmall, large: profile.sqliteLarge };
    const opened: Record<string, { store: SqliteRecordStore; service: RecordService; customers: number }> =
      {};
    for (const [name, records] of Object.entries(sizes)) {
      const store = new SqliteRecordStore({ path: join(folder, `${name}.sqlite`) });
      stores.push(store);
      const started = performance.now();
      await fill(store, records, cutoff, (done) => log(`${name}: ${done}/${records} documents`));
      const tiers = await store.countByTier();
      log(
        `${name}: ${tiers.hot} full + ${tiers.archived} stubs in ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
      opened[name] = {
        store,
        service: new RecordService({ store, clock: systemClock }),
        customers: defaultCustomerCount(records),
      };
    }
    const small = opened.small!;
    const large = opened.large!;
    // A key is a point in [0, 1): each store maps it to its own customer, slice position or record.
    const keys = Array.from({ length: 4096 }, (_, i) => ((i * 0.618_033_988_75) % 1) as number);
    const customerOf = (side: typeof small, u: number) =>
      `cust-${String(1 + Math.floor(u * side.customers)).padStart(5, '0')}`;
    // Candidates: a page of hot records from a point in the first 20 days past the age line, so that
    // both stores answer full pages of 100 (the page size decides the cost, as it should).
    const rangeStart = Date.parse(cutoff);
    const candidates = (side: typeof small) => (u: number) =>
      side.store.scan({
        tier: 'hot',
        issuedFrom: new Date(rangeStart + u * 20 * DAY_MS).toISOString(),
        issuedBefore: GENERATOR_NOW.toISOString(),
        limit: 100,
      });
    const list = (side: typeof small) => (u: number) => side.service.list(customerOf(side, u), { limit: 25 });
    const stubIds = {
      small: await stubKeys(small.store, cutoff),
      large: await stubKeys(large.store, cutoff),
    };
    const point =
      (side: typeof small, ids: ReadonlyArray<{ customerId: string; id: string }>) => (u: number) =>
        side.store.get(ids[Math.floor(u * ids.length)]!);

    const results: Record<string, Comparison> = {};
    const queries = {
      list: [list(small), list(large)],
      candidate: [candidates(small), candidates(large)],
      point: [point(small, stubIds.small), point(large, stubIds.large)],
    } as const;
    for (const [name, [baseline, subject]] of Object.entries(queries)) {
      // Both stores must answer alike (a full page, or a record) or the comparison means nothing.
      for (const u of [0, 0.5, 0.999]) {
        const [a, b] = (await Promise.all([baseline(u), subject(u)])) as Array<
          { items?: unknown[] } | undefined
        >;
        if (
          a === undefined ||
          b === undefined ||
          a.items?.length !== b.items?.length ||
          a.items?.length === 0
        )
          throw new Error(
            `${name}: the stores answer ${a?.items?.length} and ${b?.items?.length} items at ${u}`,
          );
      }
      results[name] = await compareLatency({
        keys,
        baseline,
        subject,
        operations: profile.sqliteQueries,
        concurrency: 1,
        blockSize: 100,
      });
      log(
        `${name}: p50 ${results[name].subject.p50Ms} ms at ${sizes.large} vs ${results[name].baseline.p50Ms} ms at ${sizes.small} (x${results[name].p50Ratio}), p99 x${results[name].p99Ratio}`,
      );
    }
    const growth = `${sizes.large / sizes.small} x the records`;
    const figures: Record<string, Figure> = {
      'sqlite.listP50Ratio': {
        value: results.list!.p50Ratio,
        unit: 'x',
        description: `list page p50 at ${sizes.large} records / at ${sizes.small} (${growth})`,
        target: { kind: 'max', value: FLAT, text: `<= ${FLAT} (flat)` },
      },
      'sqlite.candidateP50Ratio': {
        value: results.candidate!.p50Ratio,
        unit: 'x',
        description: `archival candidate page p50 at ${sizes.large} records / at ${sizes.small}`,
        target: { kind: 'max', value: FLAT, text: `<= ${FLAT} (flat)` },
      },
      'sqlite.pointReadP50Ratio': {
        value: results.point!.p50Ratio,
        unit: 'x',
        description: `stub point read p50 at ${sizes.large} records / at ${sizes.small}`,
      },
      'sqlite.largeListP50Ms': {
        value: results.list!.subject.p50Ms,
        unit: 'ms',
        description: `list page p50 at ${sizes.large} records`,
      },
    };
    return {
      figures,
      details: {
        sizes,
        composition: `records issued before ${cutoff} are stubs, later ones full documents`,
        storage: 'SQLite files on tmpfs (page cache): the figure is about the queries, not the disk',
        comparisons: results,
      },
    };
  } finally {
    for (const store of stores) await store.close();
    removeFolder(folder);
  }
});

/** Generates `records` documents in worker threads and inserts them through the store's create. */
async function fill(
  store: SqliteRecordStore,
  records: number,
  cutoff: string,
  progress: (done: number) => void,
): Promise<void> {
  let done = 0;
  let nextReport = records / 5;
  const share = Math.ceil(records / WORKERS);
  const workers = Array.from({ length: WORKERS }, (_, i) => {
    const data: DocumentWorkerData = {
      offset: i * share,
      count: Math.max(0, Math.min(share, records - i * share)),
      total: records,
      cutoff,
      archivedAt: GENERATOR_NOW.toISOString(),
    };
    const worker = new Worker(join(BENCH_DIR, 'support', 'document-worker.ts'), { workerData: data });
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: RecordDocument[] | 'done') => {
        if (message === 'done') {
          void worker.terminate().then(() => resolve());
          return;
        }
        for (const document of message) void store.create(document);
        done += message.length;
        if (done >= nextReport) {
          progress(done);
          nextReport += records / 5;
        }
      });
      worker.once('error', reject);
    });
  });
  await Promise.all(workers);
}

/** Up to 4096 stub keys, for point reads. */
async function stubKeys(store: SqliteRecordStore, cutoff: string) {
  const page = await store.scan({ tier: 'archived', issuedBefore: cutoff, limit: 4096 });
  return page.items.map((item) => ({ customerId: item.customerId, id: item.id }));
}
