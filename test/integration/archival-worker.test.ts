// Issue 18, isolation on the embedded default: the runs of `npm start` (its scheduler, the admin API)
// execute in the archival worker process, not on the API's event loop, over the same data folder, with
// the same reports, leases, checkpoints and metrics as a run in process; closing stops the worker, and a
// worker killed mid-run leaves a run that the next one resumes at once.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openServices, type OpenedServices } from '../../src/composition/open-services.ts';
import { loadConfig } from '../../src/config/app-config.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import { makeInput } from '../support/record-fixtures.ts';
import { isProcessRunning } from '../support/server-process.ts';

const silent = pino({ level: 'silent' });
const AS_OF = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function newDataDir(name: string): string {
  const folder = mkdtempSync(join(tmpdir(), `billing-worker-${name}-`));
  folders.push(folder);
  return folder;
}

function open(dataDir: string, worker: boolean, env: Record<string, string> = {}): Promise<OpenedServices> {
  const config = loadConfig(
    { DATA_DIR: dataDir, ARCHIVE_GRACE_PERIOD: 'P0D', LOG_LEVEL: 'warn', ...env },
    dataDir,
  );
  return openServices(config, silent, { archivalWorker: worker });
}

/** `count` records over three months of 2024 and two customers, created through the service. */
async function seed(dataDir: string, count: number): Promise<RecordKey[]> {
  const services = await open(dataDir, false);
  const keys: RecordKey[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const customerId = `cust-${i % 2}`;
      const issuedAt = `2024-0${3 + (i % 3)}-${String(1 + (i % 27)).padStart(2, '0')}T10:00:00.000Z`;
      const record = await services.records.create(customerId, makeInput({ id: `rec-${i}`, issuedAt }));
      keys.push({ customerId, id: record.id });
    }
  } finally {
    await services.close();
  }
  return keys;
}

/** Where each record lives: the stub's blob and hash, or hot. */
async function placement(services: OpenedServices, keys: readonly RecordKey[]): Promise<string[]> {
  return Promise.all(
    keys.map(async (key) => {
      const stored = await services.ports.store.get(key);
      const document = stored?.document;
      if (document === undefined) return `${key.id}: missing`;
      return 'archive' in document
        ? `${key.id}: ${document.archive.blobPath} ${document.archive.sha256}`
        : `${key.id}: hot`;
    }),
  );
}

describe('the archival worker of npm start', () => {
  it('runs a run in its own process, with the same results as a run in process and its metrics on /metrics', async () => {
    const seeded = newDataDir('seed');
    const keys = await seed(seeded, 40);
    const inProcessDir = newDataDir('in-process');
    const workerDir = newDataDir('worker');
    cpSync(seeded, inProcessDir, { recursive: true });
    cpSync(seeded, workerDir, { recursive: true });

    const local = await open(inProcessDir, false);
    let expected: string[];
    let localReport;
    try {
      localReport = await local.archival.run({ asOf: AS_OF });
      expected = await placement(local, keys);
    } finally {
      await local.close();
    }

    const services = await open(workerDir, true);
    try {
      const started = await services.archival.startRun({ asOf: AS_OF });
      const report = await services.archival.waitForRun(started.runId);
      expect(report.status).toBe('succeeded');
      // Executed by another process, the worker; the report read back from the store says so too.
      expect(report.executedBy?.process).toBe('archival-worker');
      expect(report.executedBy?.pid).not.toBe(process.pid);
      // With the server's Node flag (`npm start`'s, and this test process's: vitest.config.ts), so its run
      // traces keep their context on async context frames too.
      expect(process.execArgv).toContain('--experimental-async-context-frame');
      const workerArgs = readFileSync(`/proc/${report.executedBy!.pid}/cmdline`, 'utf8').split('\0');
      expect(workerArgs).toContain('--experimental-async-context-frame');
      expect((await services.archival.getRun(started.runId)).executedBy).toEqual(report.executedBy);
      expect(localReport.executedBy).toBeUndefined();
      expect(report.counts).toEqual(localReport.counts);
      expect(report.counts.purged).toBe(keys.length);
      expect(await placement(services, keys)).toEqual(expected);
      // Its records and its run reach this process's instruments.
      const metrics = (await services.telemetry.prometheusText()).body;
      expect(metrics).toContain(`archival_records_total{step="copy",outcome="copied"} ${keys.length}`);
      expect(metrics).toContain(`archival_records_total{step="purge",outcome="purged"} ${keys.length}`);
      expect(metrics).toContain('archival_runs_total{status="succeeded"} 1');
    } finally {
      await services.close();
    }
  });

  it('stops with the services: a run in flight is cancelled, its report saved, and the worker ends', async () => {
    const dataDir = newDataDir('close');
    await seed(dataDir, 40);
    // A small budget keeps the run going long enough to be in flight when the services close.
    const services = await open(dataDir, true, { ARCHIVE_MAX_RU_PER_SECOND: '200', ARCHIVE_BATCH_SIZE: '5' });
    const { runId } = await services.archival.startRun({ asOf: AS_OF });
    const running = services.archival.waitForRun(runId);
    await vi.waitFor(
      async () => expect((await services.archival.getRun(runId)).counts.copied).toBeGreaterThan(0),
      {
        timeout: 30_000,
        interval: 50,
      },
    );
    const workerPid = (await services.archival.getRun(runId)).executedBy?.pid;
    expect(workerPid).toBeDefined();
    await services.close();
    const report = await running;
    expect(report.status).toBe('partial');
    expect(report.stoppedBecause).toBe('cancelled');
    expect(isProcessRunning(workerPid!)).toBe(false);
  });

  it('reports a run whose worker was killed, and the next run (a new worker) resumes it at once', async () => {
    const dataDir = newDataDir('crash');
    const keys = await seed(dataDir, 40);
    const services = await open(dataDir, true, { ARCHIVE_MAX_RU_PER_SECOND: '200', ARCHIVE_BATCH_SIZE: '5' });
    try {
      const { runId } = await services.archival.startRun({ asOf: AS_OF });
      await vi.waitFor(
        async () => expect((await services.archival.getRun(runId)).counts.copied).toBeGreaterThan(0),
        { timeout: 30_000, interval: 50 },
      );
      const killed = (await services.archival.getRun(runId)).executedBy!.pid;
      process.kill(killed, 'SIGKILL');
      const lost = await services.archival.waitForRun(runId);
      expect(lost.status).toBe('partial');
      expect(lost.stoppedBecause).toContain(`the archival worker process (pid ${killed}) ended (SIGKILL)`);
      // The stored report says so at once (not `running` until its heartbeat lapses).
      expect((await services.archival.getRun(runId)).status).toBe('partial');

      const next = await services.archival.run({ asOf: AS_OF });
      expect(next.status).toBe('succeeded');
      expect(next.executedBy?.pid).not.toBe(killed);
      // The dead worker's leases ended with it: no slice was left to a lease holder.
      expect(next.skippedReasons).not.toHaveProperty('slice-leased-by-another-worker');
      expect(next.skippedReasons).not.toHaveProperty('purge-leased-by-another-worker');
      // Resumed: what the killed run copied is not copied again, and every record ends archived once.
      expect(next.counts.copied).toBeLessThan(keys.length);
      expect((await placement(services, keys)).filter((line) => line.endsWith(': hot'))).toEqual([]);
      expect(await services.ports.store.countByTier()).toMatchObject({ hot: 0, archived: keys.length });
    } finally {
      await services.close();
    }
  });

  it('collects in the worker too, and this process audits each tombstone the worker removes', async () => {
    const dataDir = newDataDir('collect');
    const keys = await seed(dataDir, 6);
    // Archived as of now (no cool-down): a copy stays referencing its blob until the purge's position
    // passes it, which it does only for entries due before now (a run as of a later instant would leave
    // them referencing until then). A second run settles any the first purged in the instant it read them.
    const services = await open(dataDir, true, { ARCHIVE_COOL_DOWN: 'PT0S' });
    try {
      const run = await services.archival.run();
      expect(run.counts.purged).toBe(keys.length);
      const workerPid = (await services.archival.run()).executedBy!.pid;
      // One record deleted (its blob unreferenced, a tombstone written), one rehydrated (its blob unreferenced).
      const [deleted, rehydrated] = [keys[0]!, keys[1]!];
      await services.records.delete(deleted, {});
      await services.records.rehydrate(rehydrated);
      const blobs = await services.ports.archive.list('', { pageSize: 100 });
      expect(blobs.items.length).toBe(keys.length + 1);

      // A stopped worker cannot answer: the collection waits on it, and ends with it, naming it.
      process.kill(workerPid, 'SIGSTOP');
      const waiting = services.archival.collect({ safetyWindowMs: 0, tombstoneMarginMs: 0 });
      process.kill(workerPid, 'SIGKILL');
      await expect(waiting).rejects.toThrow(`the archival worker process (pid ${workerPid}) ended`);

      const counts = await services.archival.collect({ safetyWindowMs: 0, tombstoneMarginMs: 0 });
      expect(counts).toMatchObject({ deleted: 2, tombstonesRemoved: 1 });
      const left = (await services.ports.archive.list('', { pageSize: 100 })).items.map((item) => item.path);
      expect(left).toHaveLength(keys.length - 2);
      expect(
        left.filter((path) => path.includes(`/${deleted.id}/`) || path.includes(`/${rehydrated.id}/`)),
      ).toEqual([]);
      // The worker removed the tombstone; the event is in this process's trail, as the collector's act.
      const audit = await services.audit.query({ action: 'archive.gc', limit: 10 });
      expect(audit.items.map((event) => [event.customerId, event.recordId, event.actor.sub])).toEqual([
        [deleted.customerId, deleted.id, 'system:collector'],
      ]);
    } finally {
      await services.close();
    }
  });
});
