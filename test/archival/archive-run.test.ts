// The archival protocol of DESIGN.md, step by step, on real in-memory adapters and a manual clock.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archivalStatus } from '../../src/archival/archival-status.ts';
import { ArchivalService } from '../../src/archival/archival-service.ts';
import { readPurgedThrough } from '../../src/archival/purge-position.ts';
import { isMigrationHistory } from '../../src/ports/archive-ledger.ts';
import { ArchivalEngine, DEFAULT_ARCHIVAL_SETTINGS } from '../../src/archival/archive-run.ts';
import { verifyArchive } from '../../src/archival/archive-verify.ts';
import { collectUnreferencedBlobs } from '../../src/archival/blob-collector.ts';
import { createRecordControls } from '../../src/records/record-controls.ts';
import { rehydrateRecord as rehydrate } from '../../src/records/rehydration.ts';
import { readRunReport } from '../../src/archival/run-reports.ts';
import type { BillingRecord } from '../../src/domain/billing-record.ts';
import type { ArchiveStore, PutBlobRequest } from '../../src/ports/archive-store.ts';
import type { OperationOptions } from '../../src/ports/operation-options.ts';
import type { RecordStore, ScanRequest } from '../../src/ports/record-store.ts';
import {
  type Acknowledged,
  type ArchivalWorld,
  checkInvariants,
  corruptBlob,
  createArchivalWorld,
  keyOf,
  ledgerCounts,
  policyOf,
  silentLogger,
} from '../support/archival-harness.ts';
import { FaultInjector } from '../fakes/fault-injection.ts';
import { makeInput } from '../support/record-fixtures.ts';
import { makeLedgerEntry } from '../contract/archive-ledger.contract.ts';
import { countEventLoopTurns, strictlyIncreasing } from '../support/event-loop-turns.ts';

const MINUTE = 60_000;
const HOUR = 3600_000;
const DAY = 24 * 3600_000;
let world: ArchivalWorld;
let acknowledged: Acknowledged;

beforeEach(() => {
  world = createArchivalWorld();
  acknowledged = new Map();
});
afterEach(async () => {
  await world.close();
});

/** Creates records through the API's data-access layer, `monthsAgo` before the clock. */
async function seed(count: number, monthsAgo = 6, customerId = 'cust-a'): Promise<BillingRecord[]> {
  const records: BillingRecord[] = [];
  for (let i = 0; i < count; i++) {
    const issued = new Date(world.clock.now().getTime() - monthsAgo * 31 * DAY - i * 3600_000);
    const record = await world
      .records()
      .create(customerId, makeInput({ id: `r-${monthsAgo}-${i}`, issuedAt: issued.toISOString() }));
    acknowledged.set(keyOf(record), record);
    records.push(record);
  }
  world.clock.advance(2 * DAY); // past the cool-down
  return records;
}

async function tiers(): Promise<{ hot: number; archived: number }> {
  const { hot, archived } = await world.store.countByTier();
  return { hot, archived };
}

describe('copy, grace, purge', () => {
  it('copies old records to Cold blobs with a ledger entry, leaves the documents whole, and purges after the grace', async () => {
    await seed(5, 6);
    await seed(2, 1); // too recent
    const first = await world.engine().run();
    expect(first.status).toBe('succeeded');
    expect(first.counts).toMatchObject({ candidates: 5, copied: 5, purged: 0, failed: 0 });
    expect(await tiers()).toEqual({ hot: 7, archived: 0 });
    expect((await ledgerCounts(world)).copied).toBe(5);
    const [path] = await world.archivePaths();
    expect(path).toMatch(/^\d{4}\/\d{2}\/cust-a\/r-6-\d\/v1\.json\.gz$/);
    expect(await world.archive.getProperties(path!)).toMatchObject({
      accessTier: 'Cold',
      contentEncoding: 'gzip',
      contentType: 'application/json',
    });
    // The path and metadata describe the record; no index tags (they need more than Blob Data Contributor).
    expect((await world.archive.getProperties(path!))?.metadata).toMatchObject({ customerid: 'cust-a' });

    world.clock.advance(3 * DAY);
    expect((await world.engine().run()).counts).toMatchObject({ copied: 0, purged: 0 });
    world.clock.advance(5 * DAY);
    const third = await world.engine().run();
    expect(third.counts).toMatchObject({ copied: 0, purged: 5 });
    expect(await tiers()).toEqual({ hot: 2, archived: 5 });
    expect((await ledgerCounts(world)).copied).toBe(0);
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('stores its reports in the order it made them: what it stored never goes back, even when a save is slow', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(6, 6);
    // The control store answers the first report write made while slices work late (a slow request).
    let reportWrites = 0;
    const stored: number[] = []; // the work the stored report shows, after each write lands
    const control = new Proxy(world.control, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== 'write') return (value as (...a: unknown[]) => unknown).bind(target);
        return async (...args: unknown[]) => {
          const report = String(args[0]).startsWith('runs/');
          if (report && ++reportWrites === 2) await new Promise((resolve) => setTimeout(resolve, 100));
          const written = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (report) {
            const now = (await target.read<{ counts: { copied: number; purged: number } }>(String(args[0])))
              ?.value;
            stored.push((now?.counts.copied ?? 0) + (now?.counts.purged ?? 0));
          }
          return written;
        };
      },
    });
    const engine = new ArchivalEngine({
      ...world.stores(),
      control,
      clock: world.clock,
      log: silentLogger,
      policy: world.policy,
      settings: { batchSize: 2 },
    });
    const run = await engine.run({ asOf: world.clock.now().toISOString() });
    expect(run.counts).toMatchObject({ copied: 6, purged: 6 });
    expect(stored.length).toBeGreaterThan(3);
    expect(stored).toEqual([...stored].sort((a, b) => a - b));
    expect(stored.at(-1)).toBe(12);
  });

  it('lets the event loop turn between batches, so progress, Ctrl+C and IPC are handled while it purges', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(8, 6);
    // The embedded stores answer without I/O and nothing sleeps with no request-unit budget: without a
    // yield, the whole purge ran as one chain of microtasks and the count stood still (as did the CLI's
    // progress line and its Ctrl+C handler on the 2,000,000-record run).
    const loop = countEventLoopTurns();
    const atPurgeBatches: number[] = [];
    try {
      await world.engine({ settings: { batchSize: 2 } }).run({
        asOf: world.clock.now().toISOString(),
        onProgress: (report) => {
          if (report.counts.purged > 0) atPurgeBatches.push(loop.turns);
        },
      });
    } finally {
      loop.stop();
    }
    expect(atPurgeBatches.length).toBeGreaterThanOrEqual(4);
    expect(atPurgeBatches, 'event-loop turns at each purge batch').toSatisfy(strictlyIncreasing);

    // The collector too, page by page (a dry run: nothing but index and store reads).
    const pages: number[] = [];
    const collecting = countEventLoopTurns();
    try {
      await collectUnreferencedBlobs(world, {
        dryRun: true,
        pageSize: 2,
        onProgress: () => pages.push(collecting.turns),
      });
    } finally {
      collecting.stop();
    }
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(pages, 'event-loop turns at each collector page').toSatisfy(strictlyIncreasing);
  });

  it('with asOf and grace 0 archives and purges in one run, and a re-run does nothing', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(6, 6);
    const run = await world.engine().run({ asOf: world.clock.now().toISOString() });
    expect(run.counts).toMatchObject({ copied: 6, purged: 6 });
    // Due the instant the purge read them: its position stays behind them (a writer at that same instant
    // could still add one before them), so the next run finds them purged and passes them.
    expect(await ledgerCounts(world)).toMatchObject({ copied: 6, archived: 0 });
    world.clock.advance(MINUTE);
    const again = await world.engine().run({ asOf: world.clock.now().toISOString() });
    expect(again.counts).toMatchObject({ candidates: 0, copied: 0, purged: 6 });
    expect(await ledgerCounts(world)).toMatchObject({ copied: 0, archived: 6 });
    const third = await world.engine().run({ asOf: world.clock.now().toISOString() });
    expect(third.counts).toMatchObject({ candidates: 0, copied: 0, purged: 0 });
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('as of a month ahead with grace 0, the status counts what the run purged as archived, not as copied', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(10, 6); // purged in pages of 4, 4 and 2 at the harness's batch size
    await seed(2, 1); // two months old a month ahead: still hot
    const asOf = new Date(world.clock.now().getTime() + 31 * DAY).toISOString();
    const run = await world.engine().run({ asOf });
    expect(run.counts).toMatchObject({ copied: 10, purged: 10, failed: 0 });
    // Its copies were due a month ahead: the purge moved each back to just before its first page's read,
    // so the position, and with it the status, passes them as history in the same run.
    expect((await world.engine().status()).counts).toEqual({
      hot: 2,
      copied: 0,
      archived: 10,
      stuck: 0,
      failed: 0,
    });
    expect(await ledgerCounts(world)).toMatchObject({ copied: 0, archived: 10 });
    // Nothing is left for the next run to purge again, in a month or now.
    world.clock.advance(MINUTE);
    expect((await world.engine().run()).counts).toMatchObject({ copied: 0, purged: 0 });
    world.clock.advance(32 * DAY);
    expect((await world.engine().run()).counts).toMatchObject({ purged: 0, failed: 0 });
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('as of a month ahead, passes the entries it moved back but not a copy another worker wrote between its pages', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(4, 6);
    const [other] = await seed(1, 1); // too recent for the run: another worker copies it meanwhile
    const hot = (await world.store.get(other!))!;
    const asOf = new Date(world.clock.now().getTime() + 31 * DAY).toISOString();
    // Right after the purge's first page (its copies, due a month ahead, leave its range open), another
    // worker copies a record with grace 0: due when written, after that read and before the next one.
    let purgeQueries = 0;
    const ledger = new Proxy(world.ledger, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== 'query') return (value as (...a: unknown[]) => unknown).bind(target);
        return async (...args: Parameters<typeof world.ledger.query>) => {
          const page = await world.ledger.query(...args);
          if (++purgeQueries === 1) {
            world.clock.advance(30_000);
            const now = world.clock.now().toISOString();
            await world.ledger.put(
              makeLedgerEntry(other!, { sourceEtag: hot.etag, copiedAt: now, purgeAfter: now }),
              { ifNoneMatch: '*' },
            );
            world.clock.advance(30_000);
          }
          return page;
        };
      },
    });
    const engine = new ArchivalEngine({
      ...world.stores(),
      ledger,
      clock: world.clock,
      log: silentLogger,
      policy: world.policy,
      settings: { batchSize: 2 },
    });
    const run = await engine.run({ asOf });
    expect(run.counts).toMatchObject({ copied: 4, purged: 4, failed: 0 });
    expect(purgeQueries).toBeGreaterThan(1);
    // Its own four pass as history; the other worker's copy, still hot, does not (it is the next purge's).
    const through = await readPurgedThrough(world.control);
    const entry = (await world.ledger.get(other!))!.entry;
    expect(isMigrationHistory(entry, through)).toBe(false);
    expect(await ledgerCounts(world)).toMatchObject({ copied: 1, archived: 4 });
  });

  it('drops a copy whose record changed during the grace, and archives the new version later', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P7D', 'P10D') });
    const [record] = await seed(1, 6);
    world.clock.advance(10 * DAY);
    await world.engine().run();
    const updated = await world.records().patch(record!, { status: 'void' }, {});
    acknowledged.set(keyOf(updated), updated);
    world.clock.advance(8 * DAY);
    // The purge's If-Match on the copy-time etag fails (412): the stale copy is dropped, the record stays hot.
    const run = await world.engine().run();
    expect(run.counts.purged).toBe(0);
    expect(run.skippedReasons['changed-since-copy']).toBe(1);
    expect(await tiers()).toEqual({ hot: 1, archived: 0 });
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
    // Once cooled down, the new version is found behind the watermark, copied and purged.
    world.clock.advance(3 * DAY);
    expect((await world.engine().run()).counts.copied).toBe(1);
    world.clock.advance(8 * DAY);
    expect((await world.engine().run()).counts.purged).toBe(1);
    const stub = await world.store.get(record!);
    expect(stub?.document.tier === 'archived' && stub.document.archive.blobPath).toMatch(/v2\.json\.gz$/);
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('never archives pinned records, skips records in their cool-down, and keeps legal holds on the stub', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D', 'P7D') });
    const [pinned, held, fresh] = await seed(3, 6);
    world.clock.advance(7 * DAY);
    const controls = createRecordControls({ store: world.store, clock: world.clock });
    await controls.pin(pinned!);
    await controls.setLegalHold(held!, { reason: 'audit 2025', setBy: 'test' });
    const fresher = await world.records().patch(fresh!, { status: 'paid' }, {});
    acknowledged.set(keyOf(fresher), fresher);
    const run = await world.engine().run();
    expect(run.skippedReasons).toMatchObject({ pinned: 1, 'cooling-down': 1 });
    expect(run.counts.purged).toBe(1);
    const stub = await world.store.get(held!);
    expect(stub?.document).toMatchObject({ tier: 'archived', sys: { legalHold: { reason: 'audit 2025' } } });
    await expect(world.records().delete(held!, {})).rejects.toMatchObject({ code: 'LEGAL_HOLD' });
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
  });
});

describe('round trips per record', () => {
  it('copies with one upload per record and one ledger lookup per page, and reads the blob back only before the purge', async () => {
    await seed(10, 6); // one monthly slice: pages of 4, 4 and 2 at the harness's batch size
    const calls: string[] = [];
    const injector = new FaultInjector();
    injector.plan = ({ port, method }) => {
      calls.push(`${port}.${method}`);
      return undefined;
    };
    const count = (call: string): number => calls.filter((made) => made === call).length;
    const copy = await world.engine({ injector }).run();
    expect(copy.counts).toMatchObject({ copied: 10, purged: 0 });
    expect(count('archive.putIfAbsent')).toBe(10);
    // The upload's own answer is verified: no HEAD after it.
    expect(count('archive.getProperties')).toBe(0);
    expect(count('ledger.get')).toBe(0);
    expect(count('ledger.getMany')).toBe(3);
    calls.length = 0;
    world.clock.advance(8 * DAY);
    const purge = await world.engine({ injector }).run();
    expect(purge.counts).toMatchObject({ copied: 0, purged: 10 });
    // Invariant 2: the blob is read back once per record, right before its body goes.
    expect(count('archive.getProperties')).toBe(10);
    expect(count('archive.putIfAbsent')).toBe(0);
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('a copy whose upload answer does not verify writes no copied entry and keeps the body', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const [record] = await seed(1, 6);
    // The upload lands, but the answer does not match what was sent: the copy must not be trusted.
    const archive = world.archive;
    const misreporting = new Proxy(archive, {
      get: (target, property, receiver) =>
        property === 'putIfAbsent'
          ? async (request: PutBlobRequest, options?: OperationOptions) => ({
              ...(await archive.putIfAbsent(request, options)),
              contentMd5: 'AAAAAAAAAAAAAAAAAAAAAA==',
            })
          : bindToTarget(target, property, receiver),
    }) as ArchiveStore;
    const run = await new ArchivalEngine({
      ...world.stores(),
      archive: misreporting,
      clock: world.clock,
      policy: world.policy,
      log: silentLogger,
    }).run();
    expect(run.counts).toMatchObject({ copied: 0, purged: 0, failed: 1 });
    expect(run.failures[0]).toMatch(/ARCHIVE_INTEGRITY/);
    // Only the failure is recorded (for its backoff): nothing allows a purge.
    expect((await world.ledger.get(record!))?.entry).toMatchObject({ state: 'failed', sha256: '' });
    expect((await ledgerCounts(world)).copied).toBe(0);
    expect(await tiers()).toEqual({ hot: 1, archived: 0 });
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
    // Past the backoff, the blob already there verifies through the touch's answer and is reused.
    world.clock.advance(DAY);
    const retry = await world.engine().run({ full: true });
    expect(retry.counts).toMatchObject({ copied: 1, purged: 1, failed: 0 });
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });
});

describe('runs', () => {
  it('a dry run counts candidates and writes nothing', async () => {
    await seed(4, 6);
    const run = await world.engine().run({ dryRun: true });
    expect(run.counts).toMatchObject({ candidates: 4, copied: 0 });
    expect(await world.archivePaths()).toEqual([]);
    expect((await ledgerCounts(world)).copied).toBe(0);
  });

  it('limit and customerId restrict a pilot', async () => {
    await seed(5, 6, 'cust-a');
    await seed(5, 6, 'cust-b');
    const run = await world.engine().run({ customerId: 'cust-b', limit: 3 });
    expect(run.counts.copied).toBe(3);
    expect((await world.archivePaths()).every((path) => path.includes('/cust-b/'))).toBe(true);
  });

  it('a run stopped by its limit still purges what is due: with grace 0, the copies it made', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(5, 6, 'cust-a');
    await seed(5, 6, 'cust-b');
    const run = await world.engine().run({ customerId: 'cust-b', limit: 3 });
    expect(run.status).toBe('partial');
    expect(run.stoppedBecause).toBe('limit of 3 records reached');
    expect(run.counts).toMatchObject({ candidates: 3, copied: 3, purged: 3, failed: 0 });
    expect(await tiers()).toEqual({ hot: 7, archived: 3 });
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
  });

  it('a pilot repeated sweeps its slices whole again: its own checkpoints do not outlive it', async () => {
    await seed(8, 6, 'cust-b');
    const pilot = { customerId: 'cust-b', dryRun: true } as const;
    expect((await world.engine().run(pilot)).counts.candidates).toBe(8);
    expect((await world.engine().run(pilot)).counts.candidates).toBe(8);
  });

  it('a run stopped by its limit part-way through a page keeps that page for the next run', async () => {
    await seed(10, 6);
    const settings = { batchSize: 5, concurrency: 1 };
    const first = await world.engine({ settings }).run({ limit: 3 });
    expect(first.counts.copied).toBe(3);
    const second = await world.engine({ settings }).run();
    // The two records of the first page that the limit left are not lost behind the checkpoint.
    expect(second.counts.copied).toBe(7);
    expect((await ledgerCounts(world)).copied).toBe(10);
  });

  it('a run cancelled part-way through a page keeps that page for the next run', async () => {
    await seed(10, 6);
    const settings = { batchSize: 5, concurrency: 1 };
    const controller = new AbortController();
    const injector = new FaultInjector();
    let uploads = 0;
    injector.plan = (call) => {
      if (call.method === 'putIfAbsent' && ++uploads === 2) controller.abort();
      return undefined;
    };
    const first = await world.engine({ injector, settings }).run({ abortSignal: controller.signal });
    expect(first.status).not.toBe('succeeded');
    expect(first.counts.copied).toBeLessThan(5);
    // Cancelled is not failed: no backoff that would make the next run skip the record.
    expect(first.counts.failed).toBe(0);
    expect((await ledgerCounts(world)).failed).toBe(0);
    const second = await world.engine({ settings }).run();
    expect(first.counts.copied + second.counts.copied).toBe(10);
    expect((await ledgerCounts(world)).copied).toBe(10);
  });

  it('stops at its time budget between batches and the next run resumes from the checkpoint', async () => {
    await seed(12, 6);
    // Each store call moves the clock a little, so the budget runs out part-way.
    const injector = new FaultInjector();
    injector.plan = () => {
      world.clock.advance(1_000);
      return undefined;
    };
    const first = await world.engine({ injector, settings: { timeBudgetMs: 20_000, batchSize: 4 } }).run();
    expect(first.status).toBe('partial');
    expect(first.stoppedBecause).toMatch(/time budget/);
    expect(first.counts.copied).toBeGreaterThan(0);
    expect(first.counts.copied).toBeLessThan(12);
    const second = await world.engine().run();
    expect(first.counts.copied + second.counts.copied).toBe(12);
    expect(second.counts.skipped).toBeLessThan(first.counts.copied); // resumed, not rescanned from the start
  });

  it('a scan resumed by a later run still catches up on what was cooling down when the scan began', async () => {
    const records = await seed(8, 6);
    // The oldest record (first in scan order) was written 23 h before the scan starts: cooling down then.
    const early = records.at(-1)!;
    world.clock.advance(-23 * HOUR);
    const written = await world.records().patch(early, { status: 'paid' }, {});
    acknowledged.set(keyOf(written), written);
    world.clock.advance(23 * HOUR);
    // The first run is cut by its time budget after one page (each upload takes a second).
    const injector = new FaultInjector();
    injector.plan = ({ method }) => {
      if (method === 'putIfAbsent') world.clock.advance(1_000);
      return undefined;
    };
    const first = await world.engine({ injector, settings: { timeBudgetMs: 1_000 } }).run();
    expect(first.stoppedBecause).toMatch(/time budget/);
    expect(first.skippedReasons['cooling-down']).toBe(1);
    // Two hours later the record has cooled down, but it lies before the checkpoint the next run resumes at.
    world.clock.advance(2 * HOUR);
    expect((await world.engine().run()).counts.copied).toBe(4);
    // The catch-up behind the watermark counts from when the scan began, not from when it was resumed.
    world.clock.advance(HOUR);
    expect((await world.engine().run()).counts.copied).toBe(1);
    expect((await world.ledger.get(early))?.entry.state).toBe('copied');
  });

  it('an incremental run reads only what crossed the age line or changed since the last run', async () => {
    await seed(8, 6);
    await world.engine().run();
    const reads: string[] = [];
    const injector = new FaultInjector();
    injector.plan = ({ port, method }) => {
      if (port === 'store' && method === 'get') reads.push(method);
      return undefined;
    };
    world.clock.advance(DAY);
    const quiet = await world.engine({ injector }).run();
    expect(quiet.counts).toMatchObject({ candidates: 0, copied: 0 });
    expect(reads).toEqual([]); // no body read, and not even the ledger for records in grace
    expect(quiet.counts.skipped).toBe(0);
  });

  it('persists a report with counts, charge and duration, readable by id', async () => {
    await seed(2, 6);
    const run = await world.engine().run();
    const report = await readRunReport(world.control, run.runId, world.clock.now());
    expect(report).toMatchObject({ runId: run.runId, status: 'succeeded', counts: { copied: 2 } });
    expect(report?.finishedAt).not.toBeNull();
    expect(report?.requestCharge.requestUnits).toBeGreaterThanOrEqual(0);
  });

  it('a run whose process died is reported failed once its heartbeat lapses, never running for ever', async () => {
    await seed(3, 6);
    const injector = new FaultInjector();
    injector.plan = ({ port, method }) =>
      port === 'archive' && method === 'putIfAbsent' ? 'crash-before' : undefined;
    const crashed = await world.engine({ injector }).run({ runId: 'run-crashed' });
    expect(crashed.counts.copied).toBe(0);
    // The crashed process never wrote its final report: the stored one still says running.
    const stored = await world.control.read<{ status: string }>('runs/run-crashed.json');
    expect(stored?.value.status).toBe('running');
    world.clock.advance(10 * 60_000);
    expect((await readRunReport(world.control, 'run-crashed', world.clock.now()))?.status).toBe('failed');
  });
});

describe('several workers', () => {
  it('two workers at once: slice leases split the work, nothing is copied twice, invariants hold', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    // Three months of old records: three slices to share.
    for (const monthsAgo of [6, 7, 8]) await seed(6, monthsAgo);
    const [first, second] = await Promise.all([world.engine().run(), world.engine().run()]);
    const copied = first!.counts.copied + second!.counts.copied;
    expect(copied).toBe(18);
    // One purge lease: a worker whose purge finds it taken leaves its copies to the next run's purge
    // (with slices in parallel, one worker's purge may well start while the other still copies).
    const next = await world.engine().run();
    expect(next.counts.copied).toBe(0);
    // Every copy purged once at least: all at one instant, so the position passes none yet and the next
    // run confirms them (a copy written behind a saved position would never be purged: 18, not fewer).
    expect(await tiers()).toEqual({ hot: 0, archived: 18 });
    expect(next.counts.purged).toBe(18);
    world.clock.advance(MINUTE);
    expect((await world.engine().run()).counts.purged).toBe(18);
    expect(await ledgerCounts(world)).toMatchObject({ copied: 0, archived: 18 });
    expect(await world.archivePaths()).toHaveLength(18);
    const leased =
      (first!.skippedReasons['slice-leased-by-another-worker'] ?? 0) +
      (second!.skippedReasons['slice-leased-by-another-worker'] ?? 0);
    expect(leased).toBeGreaterThan(0);
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('correctness does not depend on the lease: two workers that both ignore it still leave sound invariants', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(8, 6);
    // A control store that grants every lease: both workers process the same slice at the same time.
    const control = world.control;
    const grantAll = new Proxy(control, {
      get: (target, property, receiver) =>
        property === 'acquireLease'
          ? (name: string) => Promise.resolve({ name, leaseId: 'shared' })
          : property === 'renewLease'
            ? () => Promise.resolve(true)
            : property === 'releaseLease'
              ? () => Promise.resolve()
              : property === 'write'
                ? (name: string, value: unknown, condition: { ifMatch?: string; ifNoneMatch?: '*' }) =>
                    control.write(name, value, {
                      ...(condition.ifMatch ? { ifMatch: condition.ifMatch } : {}),
                    })
                : bindToTarget(target, property, receiver),
    });
    const engine = () =>
      new ArchivalEngine({
        ...world.stores(),
        control: grantAll,
        clock: world.clock,
        policy: world.policy,
        log: silentLogger,
        settings: { batchSize: 2, concurrency: 4 },
      });
    const [first, second] = await Promise.all([engine().run(), engine().run()]);
    expect(first!.counts.failed + second!.counts.failed).toBe(0);
    expect((await world.store.countByTier()).archived).toBe(8);
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });
});

describe('lease renewal', () => {
  /**
   * An engine whose first scan of a slice range (not the run's first probe of the oldest record) is
   * slow: `during` runs while that page is in flight, with the slice's lease name.
   */
  function engineWithSlowPage(
    during: (sliceName: string) => Promise<void>,
    injector?: FaultInjector,
  ): ArchivalEngine {
    const store = world.store;
    let slowed = false;
    const slowStore = new Proxy(store, {
      get: (target, property, receiver) =>
        property === 'scan'
          ? async (request: ScanRequest, options?: OperationOptions) => {
              if (!slowed && request.issuedFrom !== undefined) {
                slowed = true;
                await during(`slices/${request.issuedFrom.slice(0, 7)}.json`);
              }
              return store.scan(request, options);
            }
          : bindToTarget(target, property, receiver),
    }) as RecordStore;
    return new ArchivalEngine({
      ...world.stores(injector),
      store: slowStore,
      clock: world.clock,
      policy: world.policy,
      log: silentLogger,
      settings: { batchSize: 4 },
    });
  }

  it('renews the slice lease on a timer, so a page slower than the lease keeps it', async () => {
    await seed(6, 6);
    const injector = new FaultInjector();
    const renewals: number[] = [];
    let inFlight = false;
    let slowSlice: unknown;
    injector.plan = ({ method, args }) => {
      // Other slices, worked in parallel, renew their own leases meanwhile: only the slow one's count.
      const lease = args[0] as { name?: string } | undefined;
      if (method === 'renewLease' && inFlight && lease?.name === slowSlice)
        renewals.push(world.clock.now().getTime());
      return undefined;
    };
    let taken: unknown;
    const start = world.clock.now().getTime();
    const engine = engineWithSlowPage(async (sliceName) => {
      // 75 s in flight: longer than the 60 s lease. Another worker then tries the slice.
      slowSlice = sliceName;
      inFlight = true;
      await world.clock.tick(75_000);
      inFlight = false;
      taken = await world.control.acquireLease(sliceName, 60);
    }, injector);
    const run = await engine.run();
    expect(taken).toBeUndefined();
    expect(run.stoppedBecause).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(run.counts.copied).toBe(6);
    // Every third of the lease while the page was in flight, and the timer ended with the slice.
    expect(renewals.map((at) => (at - start) / 1000)).toEqual([20, 40, 60]);
    expect(world.clock.sleeping).toBe(0);
  });

  it('still stops between batches when another worker took the lease (a renewal that came too late)', async () => {
    await seed(6, 6);
    let taken: unknown;
    const engine = engineWithSlowPage(async (sliceName) => {
      // The process stalls past its lease (no timer ran), and another worker takes the slice.
      world.clock.advance(61_000);
      taken = await world.control.acquireLease(sliceName, 60);
    });
    const run = await engine.run();
    expect(taken).toBeDefined();
    expect(run.status).toBe('partial');
    expect(run.stoppedBecause).toMatch(/lost the lease on slices\/\d{4}-\d{2}\.json/);
    // The page in flight is finished (every write of it is conditional), the next one is left.
    expect(run.counts.copied).toBe(4);
    expect(world.clock.sleeping).toBe(0);
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
  });

  it('renews the purge lease on a timer while a slow purge is in flight', async () => {
    await seed(2, 6);
    await world.engine().run();
    world.clock.advance(8 * DAY);
    const store = world.store;
    let slowed = false;
    let taken: unknown;
    const slowStore = new Proxy(store, {
      get: (target, property, receiver) =>
        property === 'replace'
          ? async (...args: Parameters<RecordStore['replace']>) => {
              if (!slowed) {
                slowed = true;
                await world.clock.tick(75_000);
                taken = await world.control.acquireLease('purge.json', 60);
              }
              return store.replace(...args);
            }
          : bindToTarget(target, property, receiver),
    }) as RecordStore;
    const run = await new ArchivalEngine({
      ...world.stores(),
      store: slowStore,
      clock: world.clock,
      policy: world.policy,
      log: silentLogger,
    }).run();
    expect(taken).toBeUndefined();
    expect(run).toMatchObject({ status: 'succeeded', counts: { purged: 2 } });
    expect(world.clock.sleeping).toBe(0);
  });
});

describe('failures', () => {
  it('retries a failing copy with backoff, parks it after repeated failures, and lists it in the status', async () => {
    const [record] = await seed(1, 6);
    const injector = new FaultInjector();
    let uploads = 0;
    injector.plan = ({ port, method }) => {
      if (port !== 'archive' || method !== 'putIfAbsent') return undefined;
      uploads += 1;
      return 'unavailable';
    };
    const run = () => world.engine({ injector, settings: { maxAttempts: 3 } }).run();
    const first = await run();
    expect(first.counts.failed).toBe(1);
    expect(first.failures[0]).toMatch(/UNAVAILABLE/);
    // Backing off: an immediate re-run does not hammer the archive.
    const backoff = await run();
    expect(backoff.counts).toMatchObject({ candidates: 0, failed: 0 });
    expect(uploads).toBe(1);
    // Incremental runs retry it at its backoff (1 min, then 4), and park it at the third failure.
    for (const minutes of [1, 4]) {
      world.clock.advance(minutes * MINUTE);
      expect((await run()).counts.failed).toBe(1);
    }
    expect(uploads).toBe(3);
    const status = await archivalStatus(world, world.clock.now());
    expect(status.counts.failed).toBe(1);
    expect(status.failed[0]).toMatchObject({ id: record!.id, attempts: 3 });
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
    // Parked items are left alone until an operator unparks them.
    world.clock.advance(7 * DAY);
    expect((await run()).counts).toMatchObject({ candidates: 0, failed: 0 });
    expect(uploads).toBe(3);
    const service = new ArchivalService({
      ...world.stores(),
      clock: world.clock,
      policy: world.policy,
      log: silentLogger,
    });
    expect(await service.unpark(record!)).toBe(1);
    // Unparked, the entry is due now: the next incremental run retries the copy (no sweep needed).
    expect(await service.unpark(record!)).toBe(0);
    expect((await world.engine().run()).counts.copied).toBe(1);
  });

  it('retries a copy that failed on day 0 in the next incremental runs at its backoff, not at the next full sweep', async () => {
    const [victim] = await seed(3, 6);
    let blobAnswers503 = true;
    const attempts: number[] = [];
    const injector = new FaultInjector();
    injector.plan = ({ port, method, args }) => {
      if (port !== 'archive' || method !== 'putIfAbsent') return undefined;
      if (!(args[0] as PutBlobRequest).path.includes(`/${victim!.id}/`)) return undefined;
      attempts.push(world.clock.now().getTime());
      return blobAnswers503 ? 'unavailable' : undefined;
    };
    const run = () => world.engine({ injector }).run();
    const day0 = world.clock.now().getTime();
    expect((await run()).counts).toMatchObject({ copied: 2, failed: 1 });
    expect((await world.ledger.get(victim!))?.entry).toMatchObject({ state: 'failed', attempts: 1 });
    // Before its backoff the record is left alone; after it, the next run retries it: 1 min, then 4, 16.
    for (const [wait, backoff] of [
      [0.5, 1],
      [3.5, 4],
      [15.5, 16],
    ] as const) {
      world.clock.advance(wait * MINUTE);
      expect((await run()).counts).toMatchObject({ candidates: 0, failed: 0 });
      world.clock.advance((backoff - wait) * MINUTE);
      expect((await run()).counts).toMatchObject({ candidates: 1, failed: 1 });
    }
    expect(attempts.map((at) => (at - day0) / MINUTE)).toEqual([0, 1, 5, 21]);
    expect((await world.ledger.get(victim!))?.entry).toMatchObject({ state: 'failed', attempts: 4 });
    // Blob recovers: the next retry (64 min later) copies it, and the purge follows after the grace.
    blobAnswers503 = false;
    world.clock.advance(64 * MINUTE);
    expect((await run()).counts).toMatchObject({ candidates: 1, copied: 1, failed: 0 });
    expect((await world.ledger.get(victim!))?.entry).toMatchObject({ state: 'copied', attempts: 0 });
    world.clock.advance(8 * DAY);
    expect((await run()).counts).toMatchObject({ copied: 0, purged: 3 });
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('parks a copy that keeps failing after maxAttempts, within hours, on incremental runs only', async () => {
    const [victim] = await seed(2, 6);
    const attempts: number[] = [];
    const injector = new FaultInjector();
    injector.plan = ({ port, method, args }) => {
      if (port !== 'archive' || method !== 'putIfAbsent') return undefined;
      if (!(args[0] as PutBlobRequest).path.includes(`/${victim!.id}/`)) return undefined;
      attempts.push(world.clock.now().getTime());
      return 'unavailable';
    };
    const run = () => world.engine({ injector }).run();
    const day0 = world.clock.now().getTime();
    // A run every minute, as a schedule might: each retry waits for its backoff, no longer.
    for (let minute = 0; minute <= 120; minute++) {
      await run();
      world.clock.advance(MINUTE);
    }
    expect(attempts.map((at) => (at - day0) / MINUTE)).toEqual([0, 1, 5, 21, 85]);
    expect((await world.ledger.get(victim!))?.entry).toMatchObject({
      state: 'failed',
      attempts: DEFAULT_ARCHIVAL_SETTINGS.maxAttempts,
      parked: true,
    });
    const status = await archivalStatus(world, world.clock.now());
    expect(status.failed).toEqual([expect.objectContaining({ id: victim!.id, attempts: 5 })]);
    // Parked: later runs leave it alone.
    world.clock.advance(DAY);
    await run();
    expect(attempts).toHaveLength(5);
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
  });

  it('retries due copies within the run: its customer, its limit, and a dry run that writes nothing', async () => {
    await seed(1, 6, 'cust-a');
    await seed(2, 7, 'cust-b');
    let blobAnswers503 = true;
    const uploads: string[] = [];
    const injector = new FaultInjector();
    injector.plan = ({ port, method, args }) => {
      if (port !== 'archive' || method !== 'putIfAbsent') return undefined;
      uploads.push((args[0] as PutBlobRequest).path);
      return blobAnswers503 ? 'unavailable' : undefined;
    };
    const engine = () => world.engine({ injector });
    expect((await engine().run()).counts.failed).toBe(3);
    world.clock.advance(MINUTE);
    blobAnswers503 = false;
    uploads.length = 0;
    const dry = await engine().run({ dryRun: true });
    expect(dry.counts).toMatchObject({ candidates: 3, copied: 0, failed: 0 });
    expect(uploads).toEqual([]);
    expect((await ledgerCounts(world)).failed).toBe(3);
    const pilot = await engine().run({ customerId: 'cust-b', limit: 1 });
    expect(pilot.counts).toMatchObject({ candidates: 1, copied: 1 });
    expect(pilot.stoppedBecause).toMatch(/limit/);
    expect(uploads).toEqual([expect.stringContaining('/cust-b/')]);
    expect((await engine().run()).counts).toMatchObject({ candidates: 2, copied: 2, failed: 0 });
    expect(await ledgerCounts(world)).toMatchObject({ copied: 3, failed: 0 });
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
  });

  it('a retry cut short by a cancellation counts no attempt, and the next run takes it up again', async () => {
    const [victim] = await seed(1, 6);
    const controller = new AbortController();
    let uploads = 0;
    const injector = new FaultInjector();
    injector.plan = ({ port, method }) => {
      if (port !== 'archive' || method !== 'putIfAbsent') return undefined;
      uploads += 1;
      if (uploads === 2) controller.abort();
      return uploads <= 2 ? 'unavailable' : undefined;
    };
    expect((await world.engine({ injector }).run()).counts.failed).toBe(1);
    world.clock.advance(MINUTE);
    const cancelled = await world.engine({ injector }).run({ abortSignal: controller.signal });
    expect(cancelled.counts.failed).toBe(0);
    expect(cancelled.stoppedBecause).toBe('cancelled');
    expect((await world.ledger.get(victim!))?.entry).toMatchObject({ state: 'failed', attempts: 1 });
    expect((await world.engine({ injector }).run()).counts).toMatchObject({ copied: 1, failed: 0 });
    expect(uploads).toBe(3);
  });

  it('retries a failing purge at its backoff in the next runs, and parks it after maxAttempts', async () => {
    const [victim] = await seed(2, 6);
    await world.engine().run();
    world.clock.advance(8 * DAY);
    const attempts: number[] = [];
    const injector = new FaultInjector();
    injector.plan = ({ port, method, args }) => {
      if (port !== 'store' || method !== 'replace') return undefined;
      if ((args[0] as { id: string }).id !== victim!.id) return undefined;
      attempts.push(world.clock.now().getTime());
      return 'unavailable';
    };
    const run = () => world.engine({ injector }).run();
    const start = world.clock.now().getTime();
    expect((await run()).counts).toMatchObject({ purged: 1, failed: 1 });
    // The failure moved the entry's purgeAfter to its next attempt: the position passed the other record
    // (history now), not held back by this one, which the next run does not even read before it is due.
    const failing = (await world.ledger.get(victim!))!.entry;
    expect(failing.purgeAfter).toBe(failing.nextAttemptAt);
    expect(failing.expiresAt).toBeUndefined();
    expect(await ledgerCounts(world)).toMatchObject({ copied: 1, archived: 1 });
    world.clock.advance(30_000);
    expect((await run()).counts).toMatchObject({ purged: 0, failed: 0, skipped: 0 });
    world.clock.advance(30_000);
    for (let minute = 1; minute <= 120; minute++) {
      await run();
      world.clock.advance(MINUTE);
    }
    expect(attempts.map((at) => (at - start) / MINUTE)).toEqual([0, 1, 5, 21, 85]);
    expect((await world.ledger.get(victim!))?.entry).toMatchObject({
      state: 'copied',
      attempts: 5,
      parked: true,
    });
    expect((await archivalStatus(world, world.clock.now())).counts.failed).toBe(1);
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
    // Unparked, it is due now, past the saved position (behind it, it would read as history, never purged).
    injector.plan = () => undefined;
    const service = new ArchivalService({
      ...world.stores(),
      clock: world.clock,
      policy: world.policy,
      log: silentLogger,
    });
    expect(await service.unpark(victim!)).toBe(1);
    const unparked = (await world.ledger.get(victim!))!.entry;
    expect(unparked.purgeAfter).toBe(world.clock.now().toISOString());
    expect(isMigrationHistory(unparked, await readPurgedThrough(world.control))).toBe(false);
    expect((await run()).counts).toMatchObject({ purged: 1 });
    world.clock.advance(MINUTE);
    await run();
    // Purged after failures: its entry is written back clean, with the expiry history carries.
    const history = (await world.ledger.get(victim!))!.entry;
    expect(isMigrationHistory(history, await readPurgedThrough(world.control))).toBe(true);
    expect(history).toMatchObject({ attempts: 0, expiresAt: expect.any(String) as string });
    expect(await ledgerCounts(world)).toMatchObject({ copied: 0, archived: 2, parked: 0 });
  });

  it('a run for one customer saves no purge position; a run over everything does', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(3, 6, 'cust-a');
    await seed(3, 6, 'cust-b');
    await world.engine().run({ customerId: 'cust-b' });
    world.clock.advance(MINUTE);
    expect((await world.engine().run({ customerId: 'cust-b' })).counts.purged).toBe(3);
    expect(await readPurgedThrough(world.control)).toBeUndefined();
    await world.engine().run();
    world.clock.advance(MINUTE);
    await world.engine().run();
    expect(await readPurgedThrough(world.control)).toBeDefined();
    expect(await ledgerCounts(world)).toMatchObject({ copied: 0, archived: 6 });
  });

  it('a failed ledger lookup fails the candidates of its page, skips the others, and copies nothing', async () => {
    await seed(3, 6);
    await seed(1, 1); // too recent: skipped without a lookup
    const injector = new FaultInjector();
    injector.plan = ({ port, method }) =>
      port === 'ledger' && method === 'getMany' ? 'unavailable' : undefined;
    const run = await world.engine({ injector, settings: { batchSize: 10 } }).run({ full: true });
    expect(run.status).toBe('partial');
    expect(run.counts).toMatchObject({ candidates: 0, copied: 0, failed: 3 });
    expect(run.failures[0]).toMatch(/UNAVAILABLE/);
    expect(await world.archivePaths()).toEqual([]);
    expect((await world.engine().run({ full: true })).counts.copied).toBe(3);
    expect(await checkInvariants(world, acknowledged)).toEqual([]);
  });

  it('reports overdue copies as stuck', async () => {
    await seed(2, 6);
    await world.engine().run();
    world.clock.advance(9 * DAY);
    const status = await archivalStatus(world, world.clock.now());
    expect(status.counts).toMatchObject({ copied: 2, stuck: 2, archived: 0 });
  });
});

describe('rehydrate, verify, collect', () => {
  it('rehydrates with the same version and bytes, and the collector then removes the blob', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const [record] = await seed(2, 6);
    await world.engine().run();
    expect(await rehydrate({ store: world.store, reader: world.reader(), clock: world.clock }, record!)).toBe(
      'rehydrated',
    );
    expect(await rehydrate({ store: world.store, reader: world.reader(), clock: world.clock }, record!)).toBe(
      'already-hot',
    );
    const read = await world.records().get(record!);
    expect(read.tier).toBe('hot');
    expect(read.record).toEqual(record);
    const counts = await collectUnreferencedBlobs(world, { safetyWindowMs: 0 });
    expect(counts).toMatchObject({ deleted: 1, referenced: 1 });
    // A rehydrated record stays hot for its cool-down, then is archived again.
    // (Its ledger entry, due the instant the first purge read it, is read again: that copy's blob is gone
    // and the record cools down, so the entry goes too.)
    expect((await world.engine().run()).skippedReasons['cooling-down']).toBe(2);
    expect(await world.ledger.get(record!)).toBeUndefined();
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
  });

  it('the collector keeps blobs younger than its safety window', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const [record] = await seed(1, 6);
    await world.engine().run();
    await rehydrate({ store: world.store, reader: world.reader(), clock: world.clock }, record!);
    expect((await collectUnreferencedBlobs(world, { safetyWindowMs: DAY })).tooRecent).toBe(1);
  });

  it('verify passes on a sound archive and names a corrupted blob', async () => {
    world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    await seed(3, 6);
    await world.engine().run();
    expect(await verifyArchive(world)).toEqual({ checked: 3, mismatches: [] });
    const [victim] = await world.archivePaths();
    await corruptBlob(world, victim!);
    const result = await verifyArchive(world);
    expect(result.mismatches).toHaveLength(1);
    expect(result.mismatches[0]).toMatchObject({ blobPath: victim });
  });
});

/** A method of the real object, bound to it (its private fields do not work through a proxy). */
function bindToTarget(target: object, property: string | symbol, receiver: unknown): unknown {
  const value: unknown = Reflect.get(target, property, receiver);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
