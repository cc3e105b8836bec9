// Archival throughput and request charge: the engine (ArchivalEngine.run, copy and purge in one run)
// against the seed's pseudocode (bench/seed-baseline.ts) and against the raw I/O of the same uploads
// and writes (bench/raw-io-baseline.ts), on identical data, in the same process, in rotating order.
// Each variant gets a fresh copy of one loaded SQLite file and a fresh Azurite folder, on disk as
// `npm start` keeps them (SQLite syncs every commit), again on tmpfs (commits cost no fsync), and on
// tmpfs behind modelled round trips of a remote Cosmos DB and Blob Storage (REMOTE_MODEL_MS, with
// Azurite in memory in a process of its own): the embedded stores answer in microseconds in this very
// process, so concurrency has nothing to overlap; the throughput target is on the remote model.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { DEFAULT_ARCHIVAL_SETTINGS } from '../src/archival/archive-run.ts';
import { archiveCutoff } from '../src/domain/archival-policy.ts';
import { fullDocument, toPersisted } from '../src/domain/record-document.ts';
import {
  estimateReadUnits,
  estimateWriteUnits,
  LEDGER_INDEXED_TERMS,
  RECORD_INDEXED_TERMS,
} from '../src/domain/request-unit-model.ts';
import { BENCH_DIR, type Figure, runBenchmark } from './support/bench-result.ts';
import { startChild } from './support/child-process.ts';
import {
  ARCHIVE_ALL_AS_OF,
  archivalEngine,
  BENCH_POLICY,
  benchFolder,
  benchRecords,
  blobLatency,
  cosmosLatency,
  countingCalls,
  loadRecords,
  type ArchivalMedium,
  openArchiveStack,
  openHotStores,
  REMOTE_MODEL_MS,
  removeFolder,
  withLatency,
} from './support/bench-world.ts';
import { median, round } from './support/latency-stats.ts';
import { prepareRawIo, type RawIoWork, runRawIo } from './raw-io-baseline.ts';
import { runSeedArchival } from './seed-baseline.ts';

type Variant = 'seed' | 'raw' | 'engine';

interface VariantRun {
  readonly variant: Variant;
  readonly medium: ArchivalMedium;
  readonly round: number;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly requestUnitsPerRecord: number;
  /** CPU (user + system) of this process per record; behind the model, Azurite's process is not counted. */
  readonly cpuMillisecondsPerRecord: number;
  /** The engine's two phases, to a batch: copy from the start to its last batch, purge from there to the end. */
  readonly phases?: { readonly copySeconds: number; readonly purgeSeconds: number };
  readonly blobCalls: Record<string, number>;
}

const VARIANTS: readonly Variant[] = ['seed', 'raw', 'engine'];

await runBenchmark('archival-throughput', async ({ profile, log }) => {
  const count = profile.archivalRecords;
  const template = benchFolder('archival-template', 'tmpfs');
  try {
    const templatePath = join(template, 'records.sqlite');
    const loader = new SqliteRecordStore({ path: templatePath });
    await loadRecords(loader, count, log);
    await loader.close();
    const cutoff = archiveCutoff(BENCH_POLICY, new Date(ARCHIVE_ALL_AS_OF)).toISOString();
    const rawWork = prepareRawIo(benchRecords(count), ARCHIVE_ALL_AS_OF);
    const floor = floorPerRecord(rawWork, count);

    const runs: VariantRun[] = [];
    const mediums: readonly ArchivalMedium[] = profile.archivalMedia;
    for (const medium of mediums) {
      for (let pass = 0; pass < profile.archivalRounds; pass++) {
        // Rotate the order each round, so no variant always runs first (cold disk) or last (warm JIT).
        const order = VARIANTS.map((_, i) => VARIANTS[(i + pass) % VARIANTS.length]!);
        for (const variant of order) {
          const run = await runVariant(variant, medium, pass, templatePath, cutoff, rawWork);
          if (run.records !== count)
            throw new Error(`${variant} archived ${run.records} of ${count} records`);
          runs.push(run);
          log(
            `${medium} round ${pass + 1} ${variant}: ${run.recordsPerSecond} records/s, ` +
              `${run.cpuMillisecondsPerRecord} ms CPU/record, ` +
              (run.phases === undefined
                ? ''
                : `copy ${run.phases.copySeconds} s then purge ${run.phases.purgeSeconds} s, `) +
              `${run.requestUnitsPerRecord} RU/record, blob calls ${JSON.stringify(run.blobCalls)}`,
          );
        }
      }
    }

    const medianOf = (variant: Variant, medium: ArchivalMedium, pick: (run: VariantRun) => number): number =>
      median(runs.filter((run) => run.variant === variant && run.medium === medium).map(pick));
    const perMedium = Object.fromEntries(
      mediums.map((medium) => {
        const rate = (variant: Variant) => medianOf(variant, medium, (run) => run.recordsPerSecond);
        return [
          medium,
          {
            engineRecordsPerSecond: rate('engine'),
            seedRecordsPerSecond: rate('seed'),
            rawIoRecordsPerSecond: rate('raw'),
            throughputVsSeedRatio: round(rate('engine') / rate('seed'), 2),
            efficiencyVsRawIo: round(rate('engine') / rate('raw'), 2),
          },
        ];
      }),
    );
    // Request charges are the RU model's, whatever the medium: the median over every run of the variant.
    const ru = (variant: Variant) =>
      median(runs.filter((run) => run.variant === variant).map((run) => run.requestUnitsPerRecord));
    const seedRu = ru('seed');
    const engineRu = ru('engine');
    const modelled = `Cosmos ${REMOTE_MODEL_MS.cosmosPoint} ms point / ${REMOTE_MODEL_MS.cosmosQuery} ms query, Blob ${REMOTE_MODEL_MS.blob} ms`;
    const figures: Record<string, Figure> = {
      'archive.ruPerRecord': {
        value: engineRu,
        unit: 'RU',
        description:
          'request units per archived record, engine (model figure: the published RU table, src/domain/request-unit-model.ts)',
      },
      'archive.floorRuPerRecord': {
        value: floor.total,
        unit: 'RU',
        description: 'DESIGN.md floor: one read of the body, one small ledger write, one small stub write',
      },
      'archive.ruToFloorRatio': {
        value: round(engineRu / floor.total),
        unit: 'x',
        description: 'archive.ruPerRecord / archive.floorRuPerRecord (issue 11)',
        target: { kind: 'max', value: 1.1, text: '<= 1.10' },
      },
      'archive.seedRuPerRecord': {
        value: seedRu,
        unit: 'RU',
        description: 'request units per archived record, seed pseudocode (same model)',
      },
      'archive.ruVsSeedRatio': {
        value: round(engineRu / seedRu),
        unit: 'x',
        description:
          'engine RU per record / seed RU per record (the floor alone is about 0.75 x the seed here)',
      },
    };
    // On the embedded stack the seed makes no network round trip (every store answers in this process),
    // so those ratios measure CPU per record, not what the target is about: information only.
    const where: Record<ArchivalMedium, { readonly suffix: string; readonly text: string }> = {
      'remote-model': {
        suffix: 'RemoteModel',
        text: `both behind the same modelled round trips (${modelled}; Azurite in a process of its own): a model, not a measurement of Azure`,
      },
      disk: { suffix: '', text: 'embedded stack on disk (no round trips to overlap)' },
      tmpfs: {
        suffix: 'Tmpfs',
        text: 'SQLite file and Azurite on tmpfs (no fsync, no round trips to overlap)',
      },
    };
    // One purge worker against one copying worker: above 1, the purge keeps up with a copy (issue 11 asks
    // whether the purge, under one global lease, must scale out like the copy).
    if (mediums.includes('remote-model')) {
      const purgeVsCopy = median(
        runs
          .filter((run) => run.medium === 'remote-model' && run.phases !== undefined)
          .map(({ phases }) => phases!.copySeconds / Math.max(0.001, phases!.purgeSeconds)),
      );
      figures['archive.purgeVsCopyRateRemoteModel'] = {
        value: round(purgeVsCopy, 2),
        unit: 'x',
        description: `the engine's purge records/s / its copy records/s in the same run (median of rounds), ${where['remote-model'].text}; above 1, one purge keeps up with one copying worker`,
      };
    }
    for (const medium of mediums) {
      const rates = perMedium[medium]!;
      const { suffix, text } = where[medium];
      figures[`archive.throughputVsSeedRatio${suffix}`] = {
        value: rates.throughputVsSeedRatio,
        unit: 'x',
        description: `engine records/s / seed pseudocode records/s (median of rounds), ${text}`,
        ...(medium === 'remote-model' ? { target: { kind: 'min', value: 10, text: '>= 10' } as const } : {}),
      };
      figures[`archive.efficiencyVsRawIo${suffix}`] = {
        value: rates.efficiencyVsRawIo,
        unit: 'x',
        description: `engine records/s / raw I/O records/s (same uploads and writes, no protocol), ${text}`,
      };
      figures[`archive.recordsPerSecond${suffix}`] = {
        value: rates.engineRecordsPerSecond,
        unit: 'records/s',
        description: `engine throughput, ${text}`,
      };
    }
    return {
      figures,
      details: {
        records: count,
        rounds: profile.archivalRounds,
        engineSettings: `product defaults (${JSON.stringify(DEFAULT_ARCHIVAL_SETTINGS)}); grace P0D so one run copies and purges`,
        seed: 'sequential; uncompressed JSON upload (overwrite allowed), download to verify, full-document flag write, later delete',
        rawIo: `create-only upload of the same gzip body, unconditional ledger put and stub replace; concurrency ${DEFAULT_ARCHIVAL_SETTINGS.concurrency}`,
        floorRuPerRecord: floor,
        perMedium,
        runs,
      },
    };
  } finally {
    removeFolder(template);
  }
});

async function runVariant(
  variant: Variant,
  medium: ArchivalMedium,
  pass: number,
  templatePath: string,
  cutoff: string,
  rawWork: readonly RawIoWork[],
): Promise<VariantRun> {
  const folder = benchFolder(`archival-${variant}`, medium === 'disk' ? 'disk' : 'tmpfs');
  const path = join(folder, 'records.sqlite');
  copyFileSync(templatePath, path);
  const remote = medium === 'remote-model';
  // Behind the model, Azurite serves from a process of its own: the modelled round trip stands for the
  // service's work, which a remote service does not do on the archiver's CPU.
  const service = remote
    ? await startChild<{ connectionString: string }>(join(BENCH_DIR, 'support', 'azurite-process.ts'), [])
    : undefined;
  const realStack = await openArchiveStack(
    folder,
    service === undefined ? {} : { connectionString: service.hello.connectionString },
  );
  const realHot = openHotStores(path);
  const hot = remote
    ? {
        ...realHot,
        store: withLatency(realHot.store, cosmosLatency),
        ledger: withLatency(realHot.ledger, cosmosLatency),
      }
    : realHot;
  const stack = remote
    ? {
        ...realStack,
        archive: withLatency(realStack.archive, blobLatency),
        control: withLatency(realStack.control, blobLatency),
      }
    : realStack;
  const blobCalls: Record<string, number> = {};
  const cpuBefore = process.cpuUsage();
  try {
    let records: number;
    let seconds: number;
    let requestUnits: number;
    let phases: VariantRun['phases'];
    if (variant === 'seed') {
      const container = BlobServiceClient.fromConnectionString(
        stack.azurite.connectionString,
      ).getContainerClient('billing-archive');
      const report = await runSeedArchival(hot.store, container, cutoff, remote ? REMOTE_MODEL_MS.blob : 0);
      Object.assign(blobCalls, report.blobCalls);
      records = report.archived;
      seconds = report.durationMs / 1000;
      requestUnits = report.requestUnits;
    } else if (variant === 'raw') {
      const archive = countingCalls(stack.archive, blobCalls);
      const engineConcurrency = archivalEngine(hot, stack).settings.concurrency;
      const report = await runRawIo({ ...hot, archive }, rawWork, engineConcurrency);
      records = report.records;
      seconds = report.durationMs / 1000;
      requestUnits = report.requestUnits;
    } else {
      const archive = countingCalls(stack.archive, blobCalls);
      const controlCalls: Record<string, number> = {};
      const control = countingCalls(stack.control, controlCalls);
      const started = performance.now();
      let copyEnded = started;
      const report = await archivalEngine(hot, { archive, control }).run({
        asOf: ARCHIVE_ALL_AS_OF,
        onProgress: (progress) => {
          if (progress.counts.purged === 0) copyEnded = performance.now();
        },
      });
      phases = {
        copySeconds: round3((copyEnded - started) / 1000),
        purgeSeconds: round3((started + report.durationMs - copyEnded) / 1000),
      };
      if (report.status !== 'succeeded')
        throw new Error(`engine run ${report.status}: ${report.failures.join('; ')}`);
      for (const [name, calls] of Object.entries(controlCalls)) blobCalls[`control.${name}`] = calls;
      records = report.counts.purged;
      seconds = report.durationMs / 1000;
      requestUnits = report.requestCharge.requestUnits;
    }
    const tiers = await hot.store.countByTier();
    const done = variant === 'seed' ? tiers.hot === 0 && tiers.archived === 0 : tiers.hot === 0;
    if (!done) throw new Error(`${variant} left ${JSON.stringify(tiers)}`);
    const cpu = process.cpuUsage(cpuBefore);
    return {
      variant,
      medium,
      round: pass,
      records,
      seconds: round3(seconds),
      recordsPerSecond: Math.round(records / seconds),
      requestUnitsPerRecord: round(requestUnits / Math.max(1, records), 2),
      cpuMillisecondsPerRecord: round((cpu.user + cpu.system) / 1000 / Math.max(1, records), 2),
      ...(phases === undefined ? {} : { phases }),
      blobCalls: Object.fromEntries(Object.entries(blobCalls).map(([k, v]) => [k, round(v / records, 2)])),
    };
  } finally {
    await realHot.close();
    await realStack.close();
    await service?.stop();
    removeFolder(folder);
  }
}

/** DESIGN.md's floor per record under the RU model: read the body, write the ledger entry, write the stub. */
function floorPerRecord(work: readonly RawIoWork[], count: number) {
  let read = 0;
  let ledger = 0;
  let stub = 0;
  for (const [index, record] of [...benchRecords(count)].entries()) {
    read += estimateReadUnits(Buffer.byteLength(JSON.stringify(toPersisted(fullDocument(record)))));
    const item = work[index]!;
    ledger += estimateWriteUnits(Buffer.byteLength(JSON.stringify(item.entry)), LEDGER_INDEXED_TERMS);
    stub += estimateWriteUnits(
      Buffer.byteLength(JSON.stringify(toPersisted(item.stub))),
      RECORD_INDEXED_TERMS,
    );
  }
  return {
    bodyRead: round(read / count, 2),
    ledgerWrite: round(ledger / count, 2),
    stubWrite: round(stub / count, 2),
    total: round((read + ledger + stub) / count, 2),
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
