// Crash points of the deleting jobs, like the archival ones: retention and erasure are cut at every write
// they make (before it reaches the store, and after it was applied but before the answer), then run again
// without faults. Afterwards nothing they should keep is lost (kept records read back identical, with no
// tombstone that would hide their blobs from a rebuild), and nothing they should remove is left (document,
// ledger entry, blob of any version).
import { describe, expect, it } from 'vitest';
import { readPurgedThrough } from '../../src/archival/purge-position.ts';
import { isMigrationHistory } from '../../src/ports/archive-ledger.ts';
import { wireServices } from '../../src/composition/wire-services.ts';
import { parseArchivePath } from '../../src/domain/archive-artifact.ts';
import type { BillingRecord } from '../../src/domain/billing-record.ts';
import { parseIsoDuration } from '../../src/domain/iso-duration.ts';
import { blobOutlivesTombstone, tombstonePath } from '../../src/domain/tombstone.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import { type Fault, FaultInjector } from '../fakes/fault-injection.ts';
import { createArchivalWorld, policyOf, silentLogger } from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const DAY = 24 * 3600_000;
const BY = { actor: { sub: 'crash-test', roles: [] } };

async function scene() {
  const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D'), start: '2026-01-15T12:00:00.000Z' });
  const records = world.records();
  const created = new Map<string, BillingRecord>();
  const add = async (customerId: string, id: string, issuedAt: string) =>
    created.set(`${customerId}/${id}`, await records.create(customerId, makeInput({ id, issuedAt })));
  await add('cust-x', 'old-1', '2020-01-10T00:00:00.000Z');
  await add('cust-x', 'old-2', '2020-02-10T00:00:00.000Z');
  await add('cust-x', 'new-1', '2025-06-10T00:00:00.000Z');
  await add('cust-y', 'old-3', '2020-03-10T00:00:00.000Z');
  await add('cust-y', 'old-held', '2020-03-11T00:00:00.000Z');
  await add('cust-y', 'new-2', '2025-07-10T00:00:00.000Z');
  world.clock.advance(2 * DAY);
  expect((await world.engine().run()).counts.purged).toBe(6);
  // old-2 gets a second version and is archived again: its v1 is a superseded blob.
  created.set(
    'cust-x/old-2',
    await records.replace(
      { customerId: 'cust-x', id: 'old-2' },
      makeInput({ id: 'old-2', issuedAt: '2020-02-10T00:00:00.000Z' }),
      {},
    ),
  );
  // new-1 is pinned (the pin register is written too).
  await records.pin({ customerId: 'cust-x', id: 'new-1' });
  world.clock.advance(2 * DAY);
  await world.engine().run();
  await records.setLegalHold({ customerId: 'cust-y', id: 'old-held' }, { reason: 'case', setBy: 'legal' });
  // The purged records' ledger entries stay as migration history: the jobs must remove those too.
  const history = await world.ledger.get({ customerId: 'cust-x', id: 'old-1' });
  expect(isMigrationHistory(history!.entry, await readPurgedThrough(world.control))).toBe(true);
  return { world, created };
}

type Scene = Awaited<ReturnType<typeof scene>>;
type Job = 'retention' | 'erasure';

function servicesOf(s: Scene, injector?: FaultInjector) {
  return wireServices(s.world.stores(injector), {
    clock: s.world.clock,
    log: silentLogger,
    policy: s.world.policy,
    retentionPeriod: parseIsoDuration('P5Y')!,
  });
}

async function runJob(s: Scene, job: Job, injector?: FaultInjector): Promise<void> {
  const services = servicesOf(s, injector);
  try {
    if (job === 'retention') await services.retention.run({}, BY);
    else await services.erasure.run({ customerId: 'cust-x' }, BY);
  } catch {
    // The process died: what it left is checked after the next run.
  } finally {
    await services.shutdown().catch(() => undefined);
  }
}

/** What each job must remove: retention the records issued before 2021 and not held; erasure all of cust-x. */
function removed(job: Job, key: string): boolean {
  if (job === 'erasure') return key.startsWith('cust-x/');
  return key.includes('/old-') && key !== 'cust-y/old-held';
}

async function check(s: Scene, job: Job, context: string): Promise<void> {
  const services = servicesOf(s);
  const paths = await s.world.archivePaths();
  for (const [name, record] of s.created) {
    const key: RecordKey = { customerId: record.customerId, id: record.id };
    const stored = await s.world.store.get(key);
    const blobs = paths.filter((path) => {
      const parsed = parseArchivePath(path);
      return parsed?.customerId === key.customerId && parsed.id === key.id;
    });
    if (removed(job, name)) {
      expect(stored, `${context}: ${name} document`).toBeUndefined();
      expect(await s.world.ledger.get(key), `${context}: ${name} ledger`).toBeUndefined();
      expect(blobs, `${context}: ${name} blobs`).toEqual([]);
      expect(
        await s.world.archive.getProperties(tombstonePath(key)),
        `${context}: ${name} tombstone`,
      ).toBeDefined();
    } else {
      expect((await services.records.get(key)).record, `${context}: ${name} kept`).toEqual(record);
      if (stored?.document.tier === 'archived') {
        const blob = await s.world.archive.getProperties(stored.document.archive.blobPath);
        const tombstone = await s.world.archive.getProperties(tombstonePath(key));
        expect(
          blobOutlivesTombstone(blob!.lastModified, tombstone?.lastModified),
          `${context}: ${name} rebuildable`,
        ).toBe(true);
      }
    }
  }
  await services.shutdown();
}

describe.each(['retention', 'erasure'] as const)('%s cut at every write', (job) => {
  it('loses nothing it keeps and leaves nothing it removes after the next run', async () => {
    // A clean run counts the writes to cut at.
    const clean = await scene();
    const counter = new FaultInjector();
    let writes = 0;
    counter.plan = ({ writeIndex }) => {
      if (writeIndex !== undefined) writes = writeIndex;
      return undefined;
    };
    await runJob(clean, job, counter);
    await check(clean, job, 'clean run');
    await clean.world.close();
    expect(writes).toBeGreaterThan(10);

    for (let index = 1; index <= writes; index++) {
      for (const fault of ['crash-before', 'crash-after'] as Fault[]) {
        const s = await scene();
        const injector = new FaultInjector();
        injector.plan = ({ writeIndex }) => (writeIndex === index ? fault : undefined);
        await runJob(s, job, injector);
        expect(injector.crashed, `${fault} at write ${index}`).toBe(true);
        await runJob(s, job);
        await check(s, job, `${job} ${fault} at write ${index} (${injector.log.join(', ')})`);
        await s.world.close();
      }
    }
  }, 240_000);
});
