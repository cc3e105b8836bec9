// Archival end to end, on real processes and emulators: the server started as `npm run demo` starts it
// (seeded records loaded straight into the hot store, the archive in DATA_DIR: files, or Azurite
// in-process), runs through the admin API, the archive CLI beside the running server (sharing its
// archive folder, or its Azurite), a server SIGKILLed mid-run and
// restarted, then rehydration and collection. One scenario for both hot stores: the SQLite and the
// Cosmos DB files hand it fresh stores and a way to get a token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultCustomerCount, generateRecords } from '../../src/demo/billing-record-generator.ts';
import {
  runScript,
  type ScriptResult,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.ts';
import { DEFAULT_ARCHIVAL_SETTINGS } from '../../src/archival/archive-run.ts';
import { call, type HttpAnswer, type Json, recordsUrl, recordUrl } from './api-scenario.ts';

export interface ArchivalDeployment {
  /** Settings of fresh, empty stores: a DATA_DIR of its own (and a Cosmos database where there is one). */
  readonly env: Readonly<Record<string, string>>;
  /** A bearer token with every role, issued the way this deployment issues them. */
  token(): Promise<string>;
}

export interface ArchivalScenarioOptions {
  readonly label: string;
  /**
   * How many seeded records the demo loads into each deployment: the live one, the one killed mid-run,
   * and the one killed right after a run, which needs only one run (the Cosmos emulator scans a whole
   * container per query, so fewer there).
   */
  readonly records: { readonly live: number; readonly killed: number; readonly afterRun: number };
  newDeployment(name: string): Promise<ArchivalDeployment>;
  /** Extra settings for the server whose run is killed, so the run lasts long enough to be caught. */
  readonly slowRunSettings: Readonly<Record<string, string>>;
  /** Bound on one archival run of all the records. */
  readonly runTimeoutMs: number;
  /**
   * How long the control store may take to make an acknowledged write survive a SIGKILL of the server:
   * 0 for the embedded files (SQLite, synchronous FULL); the in-process Azurite saves its metadata every
   * 5 s (LokiJS autosave), so a run report written just before the kill may come back older.
   */
  readonly controlWritesDurableAfterMs?: number;
}

const SEED = 11;
/** Grace 0: a run copies, then purges in the same run. Small batches: many checkpoints per run. */
const ARCHIVAL_SETTINGS = { ARCHIVE_GRACE_PERIOD: 'P0D', ARCHIVE_BATCH_SIZE: '20' };
const RUNS_PATH = '/api/v1/admin/archival/runs';
const STATUS_PATH = '/api/v1/admin/archival/status';
const READ_CONCURRENCY = 8;

interface RecordSnapshot {
  readonly customerId: string;
  readonly id: string;
  readonly issuedAt: string;
  readonly body: string;
  readonly etag: string;
}

/** What a caller sees before any archival: every record's GET, and every customer's list pages. */
interface ApiSnapshot {
  readonly records: readonly RecordSnapshot[];
  readonly lists: ReadonlyMap<string, readonly string[]>;
}

/** A deployment, the server serving it, and what the API answered before any archival. */
interface Live {
  readonly deployment: ArchivalDeployment;
  server: ServerProcess;
  readonly token: string;
  readonly before: ApiSnapshot;
  readonly eligible: readonly RecordSnapshot[];
}

/**
 * The asOf of every run: now, with the day of month kept at 28 or less so that "three months
 * before" is the same calendar day whichever way month ends are clamped.
 */
function runAsOf(): string {
  const asOf = new Date();
  if (asOf.getUTCDate() > 28) asOf.setUTCDate(28);
  return asOf.toISOString();
}

const ASOF = runAsOf();

/** Records issued before asOf minus three months (ARCHIVE_AFTER's default, P3M), computed here. */
function eligibleAsOf(records: readonly RecordSnapshot[], asOf: string): RecordSnapshot[] {
  const cutoff = new Date(asOf);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - 3);
  return records.filter((record) => Date.parse(record.issuedAt) < cutoff.getTime());
}

/** The demo's record keys: ids and customers depend on the seed and count only, not on the day. */
function demoKeys(count: number): Array<{ customerId: string; id: string }> {
  return [...generateRecords({ seed: SEED, count, now: new Date() })].map(({ customerId, id }) => ({
    customerId,
    id,
  }));
}

function demoCustomers(count: number): string[] {
  const customers = defaultCustomerCount(count);
  return Array.from({ length: customers }, (_, index) => `cust-${String(index + 1).padStart(5, '0')}`);
}

/** A few requests in flight at once, as a busy caller would send them. */
function mapConcurrently<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(READ_CONCURRENCY);
  return Promise.all(items.map((item) => limit(() => work(item))));
}

async function readRecord(
  baseUrl: string,
  token: string,
  key: { customerId: string; id: string },
): Promise<HttpAnswer> {
  const answer = await call(baseUrl, recordUrl(key.customerId, key.id), { token });
  expect(answer.status, `${key.customerId}/${key.id}: ${answer.text}`).toBe(200);
  return answer;
}

async function takeSnapshot(baseUrl: string, token: string, count: number): Promise<ApiSnapshot> {
  const records = await mapConcurrently(demoKeys(count), async (key) => {
    const answer = await readRecord(baseUrl, token, key);
    expect(answer.headers.get('x-storage-tier')).toBe('hot');
    return {
      ...key,
      issuedAt: String(answer.json().issuedAt),
      body: answer.text,
      etag: answer.headers.get('etag') ?? '',
    };
  });
  const lists = new Map<string, string[]>();
  for (const customerId of demoCustomers(count))
    lists.set(customerId, await readListPages(baseUrl, token, customerId));
  const listed = [...lists.values()]
    .flat()
    .reduce((sum, page) => sum + (JSON.parse(page) as { items: unknown[] }).items.length, 0);
  expect(listed).toBe(count);
  return { records, lists };
}

/** Every page of a customer's list, as the bytes the server sent (limit 10: several pages each). */
async function readListPages(baseUrl: string, token: string, customerId: string): Promise<string[]> {
  const pages: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=10${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page = await call(baseUrl, `${recordsUrl(customerId)}${query}`, { token });
    expect(page.status, page.text).toBe(200);
    pages.push(page.text);
    cursor = page.json().nextCursor;
  } while (cursor !== null && pages.length < 100);
  return pages;
}

/**
 * Every record answers the bytes and ETag it answered before any archival; the eligible ones from the
 * archive (or its cache), the others hot; every list page is the same bytes.
 */
async function expectSameAsBefore(
  baseUrl: string,
  token: string,
  before: ApiSnapshot,
  archived: ReadonlySet<RecordSnapshot>,
): Promise<void> {
  await mapConcurrently(before.records, async (record) => {
    const answer = await readRecord(baseUrl, token, record);
    const where = `${record.customerId}/${record.id}`;
    expect(answer.text, where).toBe(record.body);
    expect(answer.headers.get('etag'), where).toBe(record.etag);
    const tier = answer.headers.get('x-storage-tier');
    if (archived.has(record)) expect(['archive', 'cache'], where).toContain(tier);
    else expect(tier, where).toBe('hot');
  });
  for (const [customerId, pages] of before.lists) {
    expect(await readListPages(baseUrl, token, customerId), customerId).toEqual(pages);
  }
}

async function startRun(baseUrl: string, token: string, asOf: string): Promise<string> {
  const started = await call(baseUrl, RUNS_PATH, { method: 'POST', token, body: { asOf } });
  expect(started.status, started.text).toBe(202);
  const runId = String(started.json().runId);
  expect(started.headers.get('location')).toBe(`${RUNS_PATH}/${runId}`);
  return runId;
}

/** A run report as GET /admin/archival/runs/{runId} answers it (the fields these tests read). */
interface RunReport {
  readonly runId: string;
  readonly status: 'running' | 'succeeded' | 'failed' | 'partial';
  readonly counts: {
    readonly candidates: number;
    readonly copied: number;
    readonly purged: number;
    readonly skipped: number;
    readonly failed: number;
  };
  readonly finishedAt: string | null;
  readonly skippedReasons: Readonly<Record<string, number>>;
  readonly failures: readonly string[];
}

async function readRun(baseUrl: string, token: string, runId: string): Promise<RunReport> {
  const answer = await call(baseUrl, `${RUNS_PATH}/${runId}`, { token });
  expect(answer.status, answer.text).toBe(200);
  const report: RunReport = answer.json();
  return report;
}

/** Polls the run's report until it is no longer running. */
function waitForRunEnd(
  baseUrl: string,
  token: string,
  runId: string,
  timeoutMs: number,
  intervalMs = 100,
): Promise<RunReport> {
  return vi.waitFor(
    async () => {
      const report = await readRun(baseUrl, token, runId);
      if (report.status === 'running')
        throw new Error(`run ${runId} still running: ${JSON.stringify(report)}`);
      return report;
    },
    { timeout: timeoutMs, interval: intervalMs },
  );
}

async function readStatus(baseUrl: string, token: string): Promise<Json> {
  const answer = await call(baseUrl, STATUS_PATH, { token });
  expect(answer.status, answer.text).toBe(200);
  return answer.json();
}

/** The status once a run has archived every eligible record and nothing is in flight. */
function allArchivedStatus(before: ApiSnapshot, eligible: readonly RecordSnapshot[]): Json {
  return {
    counts: {
      hot: before.records.length - eligible.length,
      copied: 0,
      archived: eligible.length,
      stuck: 0,
      failed: 0,
    },
    stuck: [],
    failed: [],
  };
}

const REHYDRATIONS_PATH = '/api/v1/admin/rehydrations';

/** Starts a bulk rehydration; its job answers at its Location at once, before the work is done. */
async function startRehydrations(baseUrl: string, token: string, body: Json): Promise<string> {
  const started = await call(baseUrl, REHYDRATIONS_PATH, { method: 'POST', token, body });
  expect(started.status, started.text).toBe(202);
  const jobId = String(started.json().jobId);
  const location = `/api/v1/admin/jobs/${jobId}`;
  expect(started.headers.get('location')).toBe(location);
  const atOnce = await call(baseUrl, location, { token });
  expect(atOnce.status, atOnce.text).toBe(200);
  return jobId;
}

/** A job as GET /admin/jobs/{jobId} answers it (the fields these tests read). */
interface JobReport {
  readonly status: 'running' | 'succeeded' | 'failed' | 'partial';
  readonly counts: Readonly<Record<string, number>>;
}

function waitForJobEnd(baseUrl: string, token: string, jobId: string, timeoutMs: number): Promise<JobReport> {
  return vi.waitFor(
    async () => {
      const answer = await call(baseUrl, `/api/v1/admin/jobs/${jobId}`, { token });
      expect(answer.status, answer.text).toBe(200);
      const job: JobReport = answer.json();
      if (job.status === 'running') throw new Error(`job ${jobId} still running: ${answer.text}`);
      return job;
    },
    { timeout: timeoutMs, interval: 100 },
  );
}

function archiveCli(deployment: ArchivalDeployment, args: readonly string[]): Promise<ScriptResult> {
  return runScript('src/cli/archive.ts', args, { ...deployment.env, ...ARCHIVAL_SETTINGS }, 60_000);
}

/** The first table a command printed (cli-table3 borders): its header cells mapped to its first row. */
function firstTable(output: string): Record<string, string> {
  const rows = output
    .split('\n')
    .filter((line) => line.startsWith('│'))
    .map((line) =>
      line
        .split('│')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  const [head, values] = rows;
  if (head === undefined || values === undefined) throw new Error(`no table in:\n${output}`);
  return Object.fromEntries(head.map((name, index) => [name, values[index] ?? '']));
}

/** The counts row a CLI command printed, as numbers. */
function printedCounts(result: ScriptResult): Record<string, number> {
  return Object.fromEntries(
    Object.entries(firstTable(result.stdout)).map(([name, value]) => [name, Number(value)]),
  );
}

/** Which process serves the data folder's Azurite, as the server published it for the CLI. */
function azuritePublisher(deployment: ArchivalDeployment): number | undefined {
  const dataDir = deployment.env.DATA_DIR;
  if (dataDir === undefined) throw new Error('a deployment needs a DATA_DIR');
  try {
    const published = JSON.parse(readFileSync(join(dataDir, 'azurite', 'endpoint.json'), 'utf8')) as {
      pid?: number;
    };
    return published.pid;
  } catch {
    return undefined;
  }
}

async function startDemo(
  deployment: ArchivalDeployment,
  records: number,
  settings: Readonly<Record<string, string>> = {},
): Promise<ServerProcess> {
  const server = await startServerProcess(
    { ...deployment.env, ...ARCHIVAL_SETTINGS, ...settings },
    { script: 'src/cli/demo.ts', args: ['--records', String(records), '--seed', String(SEED)] },
  );
  expect(server.output()).toContain(
    `Demo data: ${records} records from seed ${SEED}: ${records} loaded, 0 already present`,
  );
  return server;
}

async function deployWithDemoData(
  options: ArchivalScenarioOptions,
  name: string,
  records: number,
  settings: Readonly<Record<string, string>> = {},
): Promise<Live> {
  const deployment = await options.newDeployment(name);
  const server = await startDemo(deployment, records, settings);
  const token = await deployment.token();
  const before = await takeSnapshot(server.baseUrl, token, records);
  const eligible = eligibleAsOf(before.records, ASOF);
  // The seeded records span three years: most are old enough, some are not.
  expect(eligible.length).toBeGreaterThan(records / 2);
  expect(eligible.length).toBeLessThan(records);
  return { deployment, server, token, before, eligible };
}

/** Starts the server again on the deployment's data, as `npm start` (no demo records this time). */
function restart(live: Live): Promise<ServerProcess> {
  return startServerProcess({ ...live.deployment.env, ...ARCHIVAL_SETTINGS });
}

export function describeArchivalScenario(options: ArchivalScenarioOptions): void {
  const { label, records } = options;

  describe(`archival through the running server (${label})`, () => {
    let live: Live;

    beforeAll(async () => {
      live = await deployWithDemoData(options, 'live', records.live);
    });
    afterAll(async () => {
      await live?.server.stop('SIGKILL');
    });

    it('archives every eligible record in one run: copied = purged = eligible, status archived', async () => {
      const { server, token, eligible, before } = live;
      const runId = await startRun(server.baseUrl, token, ASOF);
      const report = await waitForRunEnd(server.baseUrl, token, runId, options.runTimeoutMs);
      expect(report, JSON.stringify(report)).toMatchObject({
        runId,
        status: 'succeeded',
        counts: {
          candidates: eligible.length,
          copied: eligible.length,
          purged: eligible.length,
          failed: 0,
        },
        failures: [],
      });
      expect(report.finishedAt).not.toBeNull();
      expect(report).not.toHaveProperty('stoppedBecause');

      expect(await readStatus(server.baseUrl, token)).toEqual(allArchivedStatus(before, eligible));
    });

    it('serves every record with the same bytes and ETag as before archival, and lists the same pages', async () => {
      const { server, token, eligible, before } = live;
      await expectSameAsBefore(server.baseUrl, token, before, new Set(eligible));
    });

    it('takes a PUT under an If-Match from before archival (412 for a stale one); the new version is hot', async () => {
      const { server, token, eligible } = live;
      const record = eligible[0]!;
      const url = recordUrl(record.customerId, record.id);
      const {
        id: _id,
        customerId: _customerId,
        version: _version,
        createdAt,
        updatedAt: _updatedAt,
        ...input
      } = JSON.parse(record.body);
      const put = (ifMatch: string): Promise<HttpAnswer> =>
        call(server.baseUrl, url, {
          method: 'PUT',
          token,
          headers: { 'if-match': ifMatch },
          body: { ...input, status: 'void' },
        });
      const stale = await put('"7"');
      expect(stale.status, stale.text).toBe(412);
      const replaced = await put(record.etag);
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.headers.get('etag')).toBe('"2"');
      expect(replaced.json()).toMatchObject({ status: 'void', version: 2, createdAt });
      const read = await readRecord(server.baseUrl, token, record);
      expect(read.text).toBe(replaced.text);
      expect(read.headers.get('x-storage-tier')).toBe('hot');
      // The write rehydrated it: one record fewer archived.
      const status = await readStatus(server.baseUrl, token);
      expect(status.counts).toMatchObject({ archived: eligible.length - 1, copied: 0 });
    });

    it('runs `archive verify`, `status` and `gc --dry-run` beside the server, on its archive', async () => {
      const { server, deployment, eligible, before } = live;
      const onAzurite = deployment.env.EMBEDDED_ARCHIVE === 'azurite';
      if (onAzurite) expect(azuritePublisher(deployment)).toBe(server.child.pid);

      // Side by side, as operators would: each CLI finds the server's Azurite through DATA_DIR.
      const [verify, status, gc] = await Promise.all([
        archiveCli(deployment, ['verify']),
        archiveCli(deployment, ['status']),
        archiveCli(deployment, ['gc', '--dry-run', '--safety-window', 'PT0S']),
      ]);
      for (const result of [verify, status, gc]) {
        expect(result.code, result.stdout + result.stderr).toBe(0);
      }
      expect(verify.stdout).toContain(
        `verify: ${eligible.length - 1} archived records checked, all blobs present with matching hashes`,
      );
      expect(printedCounts(status)).toEqual({
        hot: before.records.length - eligible.length + 1,
        copied: 0,
        archived: eligible.length - 1,
        stuck: 0,
        failed: 0,
      });
      expect(status.stdout).toContain('recent runs:');
      expect(status.stdout).toMatch(/│ run-\S+ +│ succeeded │/);
      // Every stub references its blob; the one the PUT superseded is the only one a collection would delete.
      expect(printedCounts(gc)).toEqual({
        examined: eligible.length,
        referenced: eligible.length - 1,
        tooRecent: 0,
        deleted: 1,
        kept: 0,
        // Nothing was deleted through the API: no tombstone to keep or remove.
        tombstonesKept: 0,
        tombstonesRemoved: 0,
        historyExpired: 0,
      });
      expect(gc.stdout).toContain('Dry run: "deleted" counts what a real run would delete.');
      // The CLIs used the server's Azurite: none published (or, stopping, removed) an endpoint of its own.
      if (onAzurite) expect(azuritePublisher(deployment)).toBe(server.child.pid);
    });

    it('serves the same bytes after a clean restart: the CLI runs left the archive consistent on disk', async () => {
      const { deployment, eligible, before, token } = live;
      expect(await live.server.stop('SIGTERM')).toBe(0);
      if (deployment.env.EMBEDDED_ARCHIVE === 'azurite') expect(azuritePublisher(deployment)).toBeUndefined();
      live.server = await restart(live);
      // All but the record the PUT replaced (and its customer's list) answer as before archival.
      const replaced = eligible[0]!;
      await expectSameAsBefore(
        live.server.baseUrl,
        token,
        {
          records: before.records.filter((record) => record !== replaced),
          lists: new Map([...before.lists].filter(([customerId]) => customerId !== replaced.customerId)),
        },
        new Set(eligible),
      );
    });

    it('rolls archival back as a job (dry run, then real): every record hot, byte-identical, none archived', async () => {
      const { server, deployment, token, eligible, before } = live;
      const stillArchived = eligible.length - 1; // the PUT above brought one back already
      const dry = await startRehydrations(server.baseUrl, token, { dryRun: true });
      const dryReport = await waitForJobEnd(server.baseUrl, token, dry, options.runTimeoutMs);
      expect(dryReport, JSON.stringify(dryReport)).toMatchObject({
        kind: 'rehydration',
        status: 'succeeded',
        dryRun: true,
        counts: { candidates: stillArchived, rehydrated: 0, failed: 0 },
      });
      expect((await readStatus(server.baseUrl, token)).counts).toMatchObject({ archived: stillArchived });

      const real = await startRehydrations(server.baseUrl, token, {});
      const report = await waitForJobEnd(server.baseUrl, token, real, options.runTimeoutMs);
      expect(report, JSON.stringify(report)).toMatchObject({
        status: 'succeeded',
        dryRun: false,
        counts: { candidates: stillArchived, rehydrated: stillArchived, alreadyHot: 0, failed: 0 },
        failures: [],
      });
      expect((await readStatus(server.baseUrl, token)).counts).toEqual({
        hot: before.records.length,
        copied: 0,
        archived: 0,
        stuck: 0,
        failed: 0,
      });
      // Every record answers as before archival, from the hot store (the PUT's record and list aside).
      const replaced = eligible[0]!;
      await expectSameAsBefore(
        server.baseUrl,
        token,
        {
          records: before.records.filter((record) => record !== replaced),
          lists: new Map([...before.lists].filter(([customerId]) => customerId !== replaced.customerId)),
        },
        new Set(),
      );
      // The CLI runs the same use case: nothing is left to bring back.
      const cli = await archiveCli(deployment, ['rehydrate', '--all']);
      expect(cli.code, cli.stdout + cli.stderr).toBe(0);
      expect(printedCounts(cli)).toMatchObject({ candidates: 0, rehydrated: 0, failed: 0 });
    });
  });

  describe(`a server killed mid-run, restarted on the same data (${label})`, () => {
    let live: Live;
    let killedRunId: string;
    let copiedWhenKilled = 0;
    /** When the killed run's process died: the slice leases it held lapse a lease duration later. */
    let killedAt = 0;
    /** Ledger entries the killed run left (its copies, waiting for a purge). */
    let leftInLedger = 0;

    beforeAll(async () => {
      live = await deployWithDemoData(options, 'killed', records.killed, options.slowRunSettings);
    });
    afterAll(async () => {
      await live?.server.stop('SIGKILL');
    });

    it('is SIGKILLed while its run has copied some records and purged none', async () => {
      const { server, token } = live;
      killedRunId = await startRun(server.baseUrl, token, ASOF);
      const caught = await vi.waitFor(
        async () => {
          const report = await readRun(server.baseUrl, token, killedRunId);
          if (report.status === 'running' && report.counts.copied === 0)
            throw new Error('nothing copied yet');
          return report;
        },
        { timeout: options.runTimeoutMs, interval: 10 },
      );
      expect(caught.status, `the run ended before it could be killed: ${JSON.stringify(caught)}`).toBe(
        'running',
      );
      expect(await server.stop('SIGKILL')).toBeNull();
      killedAt = Date.now();
      expect(server.child.signalCode).toBe('SIGKILL');
      expect(caught.counts.purged).toBe(0);
      copiedWhenKilled = caught.counts.copied;
    });

    it('restarts on the same data: every record reads as before, and the killed run is still on record', async () => {
      const { token, before } = live;
      expect(copiedWhenKilled).toBeGreaterThan(0);
      live.server = await restart(live);
      await expectSameAsBefore(live.server.baseUrl, token, before, new Set());
      const status = await readStatus(live.server.baseUrl, token);
      expect(status.counts).toMatchObject({ archived: 0, stuck: 0, failed: 0 });
      leftInLedger = status.counts.copied;
      expect(leftInLedger).toBeGreaterThanOrEqual(copiedWhenKilled);
      // Its heartbeat has not lapsed (two minutes), so it still reads as running, with what it had reported.
      const killed = await readRun(live.server.baseUrl, token, killedRunId);
      expect(killed.status).toBe('running');
      if ((options.controlWritesDurableAfterMs ?? 0) === 0)
        expect(killed.counts.copied).toBeGreaterThanOrEqual(copiedWhenKilled);
      // Whatever report survived never claims more than the ledger holds.
      expect(killed.counts.copied).toBeLessThanOrEqual(leftInLedger);
    });

    it(
      "completes a new run once the dead run's leases lapse: every eligible record archived, ledger empty, bytes and ETags unchanged",
      async () => {
        const { server, token, eligible, before, deployment } = live;
        // The killed run held the leases of the slices it was working (up to 16 at once), and a lease is
        // not taken from a holder that may be alive: a run within the lease duration passes those slices
        // by, as designed (slice-leased-by-another-worker), and leaves them to the next run.
        const lapsed = killedAt + DEFAULT_ARCHIVAL_SETTINGS.leaseSeconds * 1000 + 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, lapsed - Date.now())));
        const runId = await startRun(server.baseUrl, token, ASOF);
        const report = await waitForRunEnd(server.baseUrl, token, runId, options.runTimeoutMs);
        expect(report.status, JSON.stringify(report)).toBe('succeeded');
        expect(report.counts, JSON.stringify(report)).toMatchObject({ purged: eligible.length, failed: 0 });
        expect(
          report.skippedReasons['slice-leased-by-another-worker'],
          JSON.stringify(report),
        ).toBeUndefined();
        // What the killed run copied (resumed past from its checkpoint, or found in the ledger) is not copied again.
        expect(report.counts.copied).toBe(eligible.length - leftInLedger);

        expect(await readStatus(server.baseUrl, token)).toEqual(allArchivedStatus(before, eligible));
        await expectSameAsBefore(server.baseUrl, token, before, new Set(eligible));

        const verify = await archiveCli(deployment, ['verify']);
        expect(verify.code, verify.stdout + verify.stderr).toBe(0);
        expect(verify.stdout).toContain(
          `verify: ${eligible.length} archived records checked, all blobs present with matching hashes`,
        );
      },
      DEFAULT_ARCHIVAL_SETTINGS.leaseSeconds * 1000 + options.runTimeoutMs + 30_000,
    );

    it('rehydrates one record (same bytes, hot), and `gc` then deletes exactly its blob', async () => {
      const { server, token, eligible, deployment } = live;
      // Counted from what is there now, so this step is judged on its own whatever the run before did.
      const { archived, copied } = (await readStatus(server.baseUrl, token)).counts as {
        archived: number;
        copied: number;
      };
      const candidates = [...eligible].reverse();
      let record: RecordSnapshot | undefined;
      for (const candidate of candidates) {
        const answer = await readRecord(server.baseUrl, token, candidate);
        if (answer.headers.get('x-storage-tier') === 'hot') continue;
        record = candidate;
        break;
      }
      if (record === undefined) throw new Error('no archived record to rehydrate');
      const rehydrated = await call(
        server.baseUrl,
        `/api/v1/admin/customers/${record.customerId}/billing-records/${record.id}/rehydrate`,
        { method: 'POST', token },
      );
      expect(rehydrated.status, rehydrated.text).toBe(200);
      expect(rehydrated.json()).toEqual({ result: 'rehydrated' });
      const read = await readRecord(server.baseUrl, token, record);
      expect(read.text).toBe(record.body);
      expect(read.headers.get('etag')).toBe(record.etag);
      expect(read.headers.get('x-storage-tier')).toBe('hot');
      expect((await readStatus(server.baseUrl, token)).counts).toMatchObject({ archived: archived - 1 });

      // Every stub and ledger entry references one blob; the rehydrated record's is the only one left over.
      const gc = await archiveCli(deployment, ['gc', '--safety-window', 'PT0S']);
      expect(gc.code, gc.stdout + gc.stderr).toBe(0);
      expect(printedCounts(gc)).toEqual({
        examined: archived + copied,
        referenced: archived + copied - 1,
        tooRecent: 0,
        deleted: 1,
        kept: 0,
        // Nothing was deleted through the API: no tombstone to keep or remove.
        tombstonesKept: 0,
        tombstonesRemoved: 0,
        historyExpired: 0,
      });
      const verify = await archiveCli(deployment, ['verify']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toContain(
        `verify: ${archived - 1} archived records checked, all blobs present with matching hashes`,
      );
      const hot = await readRecord(server.baseUrl, token, record);
      expect(hot.text).toBe(record.body);
      expect(hot.headers.get('x-storage-tier')).toBe('hot');
    });
  });

  describe(`a server SIGKILLed right after its run succeeded (${label})`, () => {
    let live: Live;

    beforeAll(async () => {
      live = await deployWithDemoData(options, 'after-run', records.afterRun);
    });
    afterAll(async () => {
      await live?.server.stop('SIGKILL');
    });

    it('serves every archived record after the restart: no stub points at a blob the crash lost', async () => {
      const { server, token, eligible, before } = live;
      const runId = await startRun(server.baseUrl, token, ASOF);
      const report = await waitForRunEnd(server.baseUrl, token, runId, options.runTimeoutMs, 10);
      // The API answered "succeeded": everything below was acknowledged before the crash.
      expect(report.status, JSON.stringify(report)).toBe('succeeded');
      expect(report.counts.purged).toBe(eligible.length);
      expect(await server.stop('SIGKILL')).toBeNull();

      live.server = await restart(live);
      // Each archived read checks the blob's sha256: a lost blob answers 500 ARCHIVE_INTEGRITY.
      await expectSameAsBefore(live.server.baseUrl, token, before, new Set(eligible));
      expect((await readRun(live.server.baseUrl, token, runId)).status).toBe('succeeded');
    });
  });
}
