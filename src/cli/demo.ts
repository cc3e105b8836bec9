// `npm run demo`: the API as `npm start` runs it, with seeded, realistic billing records loaded first so
// there is something to list, read and archive. A rerun on the same DATA_DIR skips what is already there.
import { Command, InvalidArgumentError } from 'commander';
import type { OpenedServices } from '../composition/open-services.ts';
import { systemClock } from '../composition/system-clock.ts';
import type { AppConfig } from '../config/app-config.ts';
import {
  DEFAULT_MONTHS_OF_HISTORY,
  defaultCustomerCount,
  formatBytes,
  formatSizeReport,
  generateRecords,
  SizeTally,
} from '../demo/billing-record-generator.ts';
import type { BillingRecord } from '../domain/billing-record.ts';
import { withRetry } from '../domain/retry-policy.ts';
import { loadConfigOrExit, serve } from './serve.ts';

interface DemoOptions {
  readonly records: number;
  readonly seed: number;
  readonly customers?: number;
  readonly months: number;
}

// Records per batch: one commit each on SQLite (the commit's fsync, not the insert, is what costs), and
// concurrent creates within it on Cosmos DB.
const BATCH_SIZE = 500;

const options = new Command()
  .name('demo')
  .description('Start the billing records API with seeded demo records loaded into the hot store')
  .option('-n, --records <n>', 'how many records to generate', integerIn(1, 10_000_000), 2000)
  .option(
    '-s, --seed <s>',
    'generator seed: the same seed and options give the same records',
    integerIn(0, 0xffff_ffff),
    42,
  )
  .option(
    '-c, --customers <c>',
    'distinct customers (default: about one invoice a month each)',
    integerIn(1, 1_000_000),
  )
  .option('-m, --months <m>', 'months of history before today', integerIn(1, 120), DEFAULT_MONTHS_OF_HISTORY)
  .parse()
  .opts<DemoOptions>();

const config = loadConfigOrExit();
await serve(config, (services) => loadDemoRecords(services, config, options));

async function loadDemoRecords(
  services: OpenedServices,
  config: AppConfig,
  demo: DemoOptions,
): Promise<(baseUrl: string) => string[]> {
  // Midnight UTC today rather than this instant: a rerun the same day generates the very same bytes.
  const now = systemClock.now();
  now.setUTCHours(0, 0, 0, 0);
  const customers = demo.customers ?? defaultCustomerCount(demo.records, demo.months);
  const records = generateRecords({
    seed: demo.seed,
    count: demo.records,
    customers,
    now,
    monthsOfHistory: demo.months,
  });
  // Loading into an empty store: its totals start at zero and are kept as the records go in, so status
  // and the cost report never fall back to reading every document (minutes at 2,000,000 records).
  await services.tierRecount.baselineIfEmpty();
  const tally = new SizeTally();
  const started = performance.now();
  const progress = progressOnStderr(demo.records, started);
  let loaded = 0;
  let skipped = 0;
  try {
    for (const batch of batches(records, BATCH_SIZE)) {
      for (const record of batch) tally.add(record);
      const { created, existing } = await importUnlessPresent(services, batch);
      loaded += created;
      skipped += existing;
      progress.tick(batch.length);
    }
  } catch (error) {
    progress.finish();
    console.error(
      `Could not load the demo records: ${error instanceof Error ? error.message : String(error)}`,
    );
    console.error('Check that the hot store answers (see the lines above), then run the demo again.');
    await services.close();
    process.exit(1);
  }
  progress.finish();
  const seconds = (performance.now() - started) / 1000;
  const report = tally.report();
  const list = (base: string): string =>
    `${base}/api/v1/customers/${report.busiestCustomer?.customerId ?? 'cust-00001'}/billing-records`;
  const largest = report.largestRecord;
  return (base) => [
    `  Demo data: ${demo.records} records from seed ${demo.seed}: ${loaded} loaded, ${skipped} already present, ` +
      `in ${seconds.toFixed(1)} s (${Math.round(demo.records / Math.max(seconds, 0.001))} records/s)`,
    ...formatSizeReport(report).map((line) => `    ${line}`),
    `  List a customer's records (${report.busiestCustomer?.records ?? 0} of them), newest first:`,
    `    curl -H "Authorization: Bearer $TOKEN" "${list(base)}?limit=5"`,
    ...(largest === undefined
      ? []
      : [
          `  Read the largest record (${formatBytes(largest.bytes)}):`,
          `    curl -H "Authorization: Bearer $TOKEN" ${base}/api/v1/customers/${largest.customerId}/billing-records/${largest.id}`,
        ]),
  ];
}

/**
 * Creates a batch of records; those already there (an earlier demo run) are counted, so reruns are
 * harmless, and a retried batch (after a 429 or a brief outage) creates only what is missing.
 */
function importUnlessPresent(
  services: OpenedServices,
  batch: readonly BillingRecord[],
): Promise<{ created: number; existing: number }> {
  let created = 0;
  // Throttling (429) and brief outages are retryable AppErrors: back off and try again.
  return withRetry(
    async () => {
      const result = await services.records.importRecords(batch);
      // A retry finds the records an earlier attempt created: they count as loaded, not as already present.
      created += result.created;
      return { created, existing: batch.length - created };
    },
    { sleep: (ms, signal) => systemClock.sleep(ms, signal) },
  );
}

/** The items in arrays of `size`, the last one shorter. */
function* batches<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let batch: T[] = [];
  for (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** A percentage every 5 %, with the rate so far: rewritten in place on a terminal, one line each in a log. */
function progressOnStderr(total: number, started: number): { tick(count: number): void; finish(): void } {
  const inPlace = process.stderr.isTTY;
  let done = 0;
  let shown = -1;
  return {
    tick(count) {
      done += count;
      const percent = Math.floor((done * 20) / total) * 5;
      if (percent === shown) return;
      shown = percent;
      const perSecond = Math.round(done / Math.max((performance.now() - started) / 1000, 0.001));
      const line = `Loading demo records: ${percent}% (${done}/${total}, ${perSecond} records/s)`;
      process.stderr.write(inPlace ? `\r${line}` : `${line}\n`);
    },
    finish() {
      if (inPlace && shown >= 0) process.stderr.write('\n');
    },
  };
}

function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return parsed;
  };
}
