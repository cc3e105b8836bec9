// The rollback of archival as a job, and the job machinery under it: failures are passed over (the
// CLI loop it replaces stopped once a page held only failures), a dry run writes nothing, a rerun
// finds exactly what is left, a job whose process died reads failed or partial, and a run or a job
// answers its id only once its first report is stored.
import { describe, expect, it } from 'vitest';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import { ArchivalService } from '../../src/archival/archival-service.ts';
import { JOB_HEARTBEAT_LAPSE_MS, JobService } from '../../src/jobs/job-service.ts';
import { bulkRehydrationJob } from '../../src/records/bulk-rehydration.ts';
import type { ArchivalControlStore } from '../../src/ports/archival-control-store.ts';
import { createArchivalWorld, policyOf, silentLogger } from '../support/archival-harness.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { makeInput } from '../support/record-fixtures.ts';

const DAY = 24 * 3600_000;

async function archivedWorld(count: number) {
  const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
  const records = world.records();
  const created = [];
  for (let i = 0; i < count; i++) {
    const issuedAt = new Date(Date.parse('2025-01-01T00:00:00.000Z') + i * 3600_000).toISOString();
    created.push(
      await records.create('cust-bulk', makeInput({ id: `r${String(i).padStart(3, '0')}`, issuedAt })),
    );
  }
  world.clock.advance(2 * DAY);
  expect((await world.engine().run()).counts.purged).toBe(count);
  return { world, created };
}

describe('bulk rehydration', () => {
  it('goes past pages of failures: every good record comes back, each failure is reported, and a rerun retries only those', async () => {
    const { world, created } = await archivedWorld(7);
    // The first three stubs in scan order lose their blobs: they cannot be rehydrated.
    for (const record of created.slice(0, 3)) {
      const stub = (await world.store.get(record))!.document;
      if (stub.tier !== 'archived') throw new Error('expected a stub');
      await world.archive.delete(stub.archive.blobPath, {});
    }
    const services = world.services();
    const job = (dryRun = false) =>
      bulkRehydrationJob(
        {
          store: world.store,
          rehydrate: (key) => services.records.rehydrate(key),
          pageSize: 2,
          concurrency: 2,
        },
        { dryRun },
      );
    const report = await services.jobs.run(job());
    expect(report).toMatchObject({
      kind: 'rehydration',
      status: 'partial',
      counts: { candidates: 7, rehydrated: 4, alreadyHot: 0, failed: 3 },
    });
    expect(report.failures).toHaveLength(3);
    expect(report.failures[0]).toMatch(/^cust-bulk\/r000: ARCHIVE_INTEGRITY/);
    for (const record of created.slice(3)) {
      const read = await services.records.get(record);
      expect(read.tier).toBe('hot');
      expect(read.record).toEqual(record);
    }
    const again = await services.jobs.run(job(true));
    expect(again).toMatchObject({
      status: 'succeeded',
      dryRun: true,
      counts: { candidates: 3, rehydrated: 0 },
    });
    await world.close();
  });

  it('a dry run changes nothing, and a job can be read back as it was saved', async () => {
    const { world } = await archivedWorld(3);
    const services = world.services();
    const { jobId } = await services.rehydrations.start({ dryRun: true });
    const report = await services.jobs.waitFor(jobId);
    expect(report).toMatchObject({
      status: 'succeeded',
      dryRun: true,
      counts: { candidates: 3, rehydrated: 0 },
    });
    expect(await services.jobs.get(jobId)).toEqual(report);
    expect((await world.store.countByTier()).archived).toBe(3);
    await world.close();
  });
});

describe('job reports', () => {
  it('a running job whose heartbeat lapsed reads failed, or partial when it had done work', async () => {
    const clock = new ManualClock();
    const control = new MemoryControlStore(clock);
    const jobs = new JobService({ control, clock, log: silentLogger });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { jobId } = await jobs.start({
      kind: 'test',
      dryRun: false,
      request: {},
      counts: ['done'],
      work: async (context) => {
        context.count('done');
        await context.checkpoint();
        await gate;
      },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect((await jobs.get(jobId)).status).toBe('running');
    clock.advance(JOB_HEARTBEAT_LAPSE_MS + 1);
    expect(await jobs.get(jobId)).toMatchObject({
      status: 'partial',
      stoppedBecause: expect.stringMatching(/stopped reporting/),
    });
    release();
    expect(await jobs.waitFor(jobId)).toMatchObject({ status: 'succeeded', counts: { done: 1, failed: 0 } });
  });
});

describe('an id answers from the moment it is handed out', () => {
  /** A control store whose writes of reports wait until the test lets them through. */
  function gatedControl(clock: ManualClock): { control: ArchivalControlStore; open: () => void } {
    const inner = new MemoryControlStore(clock);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const control = new Proxy(inner, {
      get(target, property) {
        if (property === 'write') {
          return async (...args: Parameters<ArchivalControlStore['write']>) => {
            if (args[0].startsWith('runs/') || args[0].startsWith('jobs/')) await gate;
            return target.write(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { control, open };
  }

  it('an archival run is not answered before its report is stored (it was: GET right after the 202 said 404)', async () => {
    const world = createArchivalWorld();
    const { control, open } = gatedControl(world.clock);
    const service = new ArchivalService({
      ...world.stores(),
      control,
      clock: world.clock,
      policy: world.policy,
      log: silentLogger,
    });
    let answered = false;
    const started = Promise.resolve(service.startRun({ dryRun: true })).then((result) => {
      answered = true;
      return result;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    open();
    const { runId } = await started;
    expect((await service.getRun(runId)).runId).toBe(runId);
    await service.waitForRun(runId);
    await world.close();
  });

  it('a job is not answered before its report is stored', async () => {
    const clock = new ManualClock();
    const { control, open } = gatedControl(clock);
    const jobs = new JobService({ control, clock, log: silentLogger });
    let answered = false;
    const started = jobs
      .start({ kind: 'test', dryRun: true, request: {}, counts: [], work: () => Promise.resolve() })
      .then((result) => {
        answered = true;
        return result;
      });
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    open();
    const { jobId } = await started;
    expect((await jobs.get(jobId)).jobId).toBe(jobId);
    await jobs.waitFor(jobId);
  });
});
