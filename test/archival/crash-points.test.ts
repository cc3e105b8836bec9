// Crash at every remote write of an archival run, then recover in a new process: the four invariants
// hold and the recovery finishes the work. Then every pair (a crash, and a crash of the recovery), and
// crashes inside rehydration and the collector. A crash is a process that dies: the FaultInjector
// fails the faulted call and every later one, before or after the call takes effect. Everything runs
// twice: over the in-memory archive and control store, and over the embedded default's (files, SQLite).
import { describe, expect, it } from 'vitest';
import { collectUnreferencedBlobs } from '../../src/archival/blob-collector.ts';
import { rehydrateRecord as rehydrate } from '../../src/records/rehydration.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import {
  type Acknowledged,
  type ArchivalWorld,
  checkInvariants,
  createArchivalWorld,
  keyOf,
  policyOf,
  WORLD_ADAPTERS,
  type WorldAdapters,
  ledgerCounts,
} from '../support/archival-harness.ts';
import { FaultInjector, SimulatedCrash } from '../fakes/fault-injection.ts';
import { simulatedInput } from '../support/simulation.ts';

const DAY = 24 * 3600_000;
const RECORDS = 4;
/**
 * API writers change two records between the crashed run and the recovery: the first two days before
 * it (the recovery copies its new version over the stale ledger entry), the second just before it (it
 * is cooling down, so the recovery's purge must meet its stale entry with a 412 and drop it).
 */
const UPDATED_EARLY = 1;
const UPDATED_LATE = 2;
const CRASHES = ['crash-before', 'crash-after'] as const;
type Crash = (typeof CRASHES)[number];

interface CrashPoint {
  /** 1-based index among the process's write calls (or among all its calls, for `every call`). */
  readonly index: number;
  readonly fault: Crash;
}

interface Scene {
  readonly world: ArchivalWorld;
  readonly acknowledged: Acknowledged;
  readonly keys: readonly RecordKey[];
}

/**
 * Four records old enough, in the cutoff's month, so the run has a single slice: the write indices are
 * the protocol's steps, not the bookkeeping of empty months. Grace 0 with asOf copies and purges in one run.
 */
/** Every record of the scene archived, none a copy, nothing stuck, and the invariants hold. */
async function expectAllArchived(world: ArchivalWorld, acknowledged: Acknowledged): Promise<void> {
  expect((await world.engine().status()).counts).toMatchObject({
    hot: 0,
    copied: 0,
    archived: RECORDS,
    stuck: 0,
  });
  expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
}

async function newScene(adapters: WorldAdapters = 'memory'): Promise<Scene> {
  const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D', 'P1D'), adapters });
  const acknowledged: Acknowledged = new Map();
  const keys: RecordKey[] = [];
  for (let i = 0; i < RECORDS; i++) {
    const input = simulatedInput(i, { issuedAt: `2025-10-0${i + 1}T09:00:00.000Z` });
    const record = await world.records().create('cust-crash', input);
    acknowledged.set(keyOf(record), record);
    keys.push(record);
  }
  world.clock.advance(2 * DAY); // past the cool-down
  return { world, acknowledged, keys };
}

/** One archival process; it dies at `crash` (counted among write calls) if the run gets that far. */
async function archivalProcess(
  scene: Scene,
  crash?: CrashPoint,
): Promise<{ readonly writes: readonly string[]; readonly crashed: boolean }> {
  const injector = new FaultInjector();
  const writes: string[] = [];
  injector.plan = ({ port, method, writeIndex }) => {
    if (writeIndex === undefined) return undefined;
    writes.push(`${port}.${method}`);
    return writeIndex === crash?.index ? crash.fault : undefined;
  };
  const now = scene.world.clock.now().toISOString();
  await scene.world.engine({ injector }).run({ asOf: now, runId: `run-${now.replace(/\W/g, '')}` });
  return { writes, crashed: injector.crashed };
}

/** What an API writer does between runs: an acknowledged update, through whatever tier holds the record. */
async function apiUpdate(scene: Scene, index: number): Promise<void> {
  const updated = await scene.world.records().patch(scene.keys[index]!, { status: 'paid' }, {});
  scene.acknowledged.set(keyOf(updated), updated);
}

/**
 * After a crashed run: the API writers' updates, then a recovery process (which may crash too); the
 * invariants hold whatever it did; then, past the late update's cool-down, a clean run finishes.
 */
async function recoverAndFinish(scene: Scene, context: string, recoveryCrash?: CrashPoint) {
  const { world, acknowledged } = scene;
  await apiUpdate(scene, UPDATED_EARLY);
  world.clock.advance(2 * DAY); // past the early update's cool-down and the dead process's leases
  await apiUpdate(scene, UPDATED_LATE);
  const recovery = await archivalProcess(scene, recoveryCrash);
  const described =
    recoveryCrash === undefined
      ? context
      : `${context}, then ${describePoint(recoveryCrash, recovery.writes)}`;
  expect(await checkInvariants(world, acknowledged), described).toEqual([]);
  world.clock.advance(2 * DAY);
  await archivalProcess(scene);
  await expectFullyArchived(scene, described);
  return recovery;
}

/** The invariants, and the work done: every record a stub of its latest version, the ledger only history. */
async function expectFullyArchived(scene: Scene, context: string): Promise<void> {
  const { world, acknowledged } = scene;
  expect(await checkInvariants(world, acknowledged, { collect: true }), context).toEqual([]);
  expect(await world.store.countByTier(), context).toMatchObject({ hot: 0, archived: RECORDS });
  // The last run's copies were due the instant its purge read them: a later run passes them as history.
  world.clock.advance(60_000);
  await archivalProcess(scene);
  expect(await ledgerCounts(world), context).toEqual({ copied: 0, failed: 0, parked: 0, archived: RECORDS });
  // Collection left exactly one blob per stub: the updated record's first copy is gone.
  expect(await world.archivePaths(), context).toHaveLength(RECORDS);
}

const describePoint = (point: CrashPoint, writes: readonly string[]): string =>
  `${point.fault} ${writes[point.index - 1] ?? '?'} (write ${point.index})`;

// The clean run names every remote write of the protocol, in order; each is a crash point.
const cleanWrites = await (async () => {
  const scene = await newScene();
  const { writes } = await archivalProcess(scene);
  await scene.world.close();
  return writes;
})();
const firstCrashes: CrashPoint[] = cleanWrites.flatMap((_, i) =>
  CRASHES.map((fault) => ({ index: i + 1, fault })),
);
for (const adapters of WORLD_ADAPTERS) {
  let singlePoints = 0;
  let pairPoints = 0;

  describe(`crash points of an archival run over the ${adapters} archive (${2 * cleanWrites.length} single, and every pair)`, () => {
    it('a clean run writes remotely at these steps', () => {
      const steps: Record<string, number> = {};
      for (const write of cleanWrites) steps[write] = (steps[write] ?? 0) + 1;
      // Per record: upload, ledger entry, stub swap (the entry stays as history). Per run: the slice lease
      // and the purge lease (a lease taken moments ago needs no renewal between batches), and the run report
      // at start, per batch and at the end (its copies were due the instant the purge read them: no
      // position to save yet).
      expect(steps).toEqual({
        'control.write': 4,
        'control.acquireLease': 2,
        'control.releaseLease': 2,
        'archive.putIfAbsent': RECORDS,
        'ledger.put': RECORDS,
        'store.replace': RECORDS,
      });
    });

    it.each(firstCrashes.map((point) => [describePoint(point, cleanWrites), point] as const))(
      '%s: recovers alone, and after every crash of its recovery',
      async (context, first) => {
        {
          const scene = await newScene(adapters);
          expect((await archivalProcess(scene, first)).crashed).toBe(true);
          const recovery = await recoverAndFinish(scene, context);
          singlePoints += 1;
          await scene.world.close();
          // The recovery's own writes are the second crash points of the pairs below.
          expect(recovery.writes.length).toBeGreaterThan(0);
        }
        for (let index = 1; ; index++) {
          let reached = false;
          for (const fault of CRASHES) {
            const scene = await newScene(adapters);
            await archivalProcess(scene, first);
            const recovery = await recoverAndFinish(scene, context, { index, fault });
            if (recovery.crashed) {
              reached = true;
              pairPoints += 1;
            }
            await scene.world.close();
          }
          if (!reached) break;
        }
      },
    );

    it('covered every write of the clean run, alone and in pairs', () => {
      expect(singlePoints).toBe(2 * cleanWrites.length);
      // 20 writes since the purge keeps its ledger entry (no delete per record): 40 single points.
      expect(singlePoints).toBeGreaterThanOrEqual(40);
      // 1,270-1,278 pairs without the ledger deletes (1,619-1,626 with them): fewer writes, fewer points.
      expect(pairPoints).toBeGreaterThan(1200);
      console.log(`crash points (${adapters}): ${singlePoints} single, ${pairPoints} pairs`);
    });
  });
}

/** A process that dies at its `index`-th call of any kind: reads too, for the short procedures. */
function dyingAt(point: CrashPoint): FaultInjector {
  const injector = new FaultInjector();
  let calls = 0;
  injector.plan = () => (++calls === point.index ? point.fault : undefined);
  return injector;
}

/** Every crash point of a procedure: each call index it reaches, before and after. */
async function forEveryCall(procedure: (point: CrashPoint) => Promise<boolean>): Promise<number> {
  let covered = 0;
  for (let index = 1; ; index++) {
    let reached = false;
    for (const fault of CRASHES) reached = (await procedure({ index, fault })) || reached;
    if (!reached) return covered;
    covered += 2;
  }
}

async function archivedScene(adapters: WorldAdapters): Promise<Scene> {
  const scene = await newScene(adapters);
  await archivalProcess(scene);
  await expectFullyArchived(scene, 'setup');
  return scene;
}

describe.each(WORLD_ADAPTERS)('crash points of rehydration and collection (%s archive)', (adapters) => {
  it('a rehydration that dies anywhere leaves the record readable, and a new attempt finishes it', async () => {
    const covered = await forEveryCall(async (point) => {
      const scene = await archivedScene(adapters);
      const { world, acknowledged, keys } = scene;
      const key = keys[0]!;
      const injector = dyingAt(point);
      const dependencies = {
        store: world.stores(injector).store,
        reader: world.reader(injector),
        clock: world.clock,
      };
      const outcome = await rehydrate(dependencies, key).then(
        (result) => result,
        (error: unknown) => error,
      );
      if (!injector.crashed) {
        expect(outcome).toBe('rehydrated');
        await world.close();
        return false;
      }
      expect(outcome).toBeInstanceOf(SimulatedCrash);
      const context = `rehydration ${point.fault} call ${point.index} (${injector.log.join(', ')})`;
      expect(await checkInvariants(world, acknowledged), context).toEqual([]);
      const again = await rehydrate({ store: world.store, reader: world.reader(), clock: world.clock }, key);
      // Crashing after the stub swap means the swap happened: the new process finds the record hot.
      expect(again, context).toBe(
        injector.log.at(-1)?.startsWith('store.replace') && point.fault === 'crash-after'
          ? 'already-hot'
          : 'rehydrated',
      );
      expect(await checkInvariants(world, acknowledged, { collect: true }), context).toEqual([]);
      expect((await world.store.get(key))?.document.tier, context).toBe('hot');
      expect(await world.archivePaths(), context).toHaveLength(RECORDS - 1);
      await world.close();
      return true;
    });
    expect(covered).toBeGreaterThanOrEqual(6); // store.get, archive.get, store.replace, before and after
  });

  it('a collector that dies anywhere deletes only unreferenced blobs, and a new run finishes', async () => {
    const covered = await forEveryCall(async (point) => {
      const scene = await archivedScene(adapters);
      const { world, acknowledged, keys } = scene;
      // Three unreferenced blobs: two records rehydrated, one deleted through the API.
      for (const key of keys.slice(0, 2))
        await rehydrate({ store: world.store, reader: world.reader(), clock: world.clock }, key);
      await world.records().delete(keys[2]!, {});
      acknowledged.set(keyOf(keys[2]!), 'deleted');
      const injector = dyingAt(point);
      await collectUnreferencedBlobs(
        { ...world.stores(injector), clock: world.clock },
        { safetyWindowMs: 0 },
      ).catch((error: unknown) => {
        if (!(error instanceof SimulatedCrash)) throw error;
      });
      const context = `collector ${point.fault} call ${point.index} (${injector.log.join(', ')})`;
      expect(await checkInvariants(world, acknowledged), context).toEqual([]);
      await collectUnreferencedBlobs(world, { safetyWindowMs: 0 });
      expect(await checkInvariants(world, acknowledged, { collect: true }), context).toEqual([]);
      expect(await world.archivePaths(), context).toHaveLength(1);
      await world.close();
      return injector.crashed;
    });
    // list, then per blob a ledger read and a document read, and a delete for the three unreferenced ones.
    expect(covered).toBeGreaterThanOrEqual(2 * (1 + 2 * RECORDS + 3));
  });
});

describe('a crash around the move of a history entry a run as of a later instant purged', () => {
  it.each(CRASHES)(
    '%s the first move: nothing is lost, the entry counts as a copy until a run finds its stub',
    async (fault) => {
      const scene = await newScene();
      const { world, acknowledged } = scene;
      const asOf = new Date(world.clock.now().getTime() + 31 * DAY).toISOString();
      // The process dies at the first ledger write after a stub swap: the move of that entry.
      const injector = new FaultInjector();
      let swapped = false;
      let faulted = false;
      injector.plan = ({ port, method }) => {
        if (port === 'store' && method === 'replace') swapped = true;
        if (faulted || !swapped || port !== 'ledger' || method !== 'put') return undefined;
        faulted = true;
        return fault;
      };
      // One record at a time, so the process dies with one stub swapped, its entry moved or not.
      const settings = { concurrency: 1, maxConcurrency: 1 };
      await world.engine({ injector, settings }).run({ asOf, runId: 'crashed' });
      expect(injector.crashed).toBe(true);
      expect(await checkInvariants(world, acknowledged)).toEqual([]);
      expect(await world.store.countByTier()).toMatchObject({ hot: RECORDS - 1, archived: 1 });
      // No position was saved: every entry, moved or not, still reads as a copy.
      expect(await ledgerCounts(world)).toMatchObject({ copied: RECORDS, archived: 0 });

      // A run of today finds the moved entry (if the move landed) due, meets its stub and passes it; the
      // others are due a month ahead, so they still read as copies.
      world.clock.advance(2 * DAY);
      await world.engine().run({ runId: 'today' });
      const moved = fault === 'crash-after' ? 1 : 0;
      expect(await ledgerCounts(world)).toMatchObject({ copied: RECORDS - moved, archived: moved });
      expect(await checkInvariants(world, acknowledged)).toEqual([]);

      // Another run as of the later instant moves the rest (stubs found, or purged now) and passes them.
      await world.engine().run({ asOf, runId: 'again' });
      await expectAllArchived(world, acknowledged);
      await world.close();
    },
  );

  it('past the later instant, a run of that day passes the entries a crash left unmoved', async () => {
    const scene = await newScene();
    const { world, acknowledged } = scene;
    const asOf = new Date(world.clock.now().getTime() + 31 * DAY).toISOString();
    const injector = new FaultInjector();
    let swapped = false;
    injector.plan = ({ port, method }) => {
      if (port === 'store' && method === 'replace') swapped = true;
      return swapped && port === 'ledger' && method === 'put' ? 'crash-before' : undefined;
    };
    await world.engine({ injector }).run({ asOf, runId: 'crashed' });
    expect(injector.crashed).toBe(true);
    expect(await ledgerCounts(world)).toMatchObject({ copied: RECORDS, archived: 0 });
    // What happened before the move was written: they are due then, and the purge of that day, finding
    // their stubs (or purging the rest), passes them all, with no write to move them.
    world.clock.advance(32 * DAY);
    await world.engine().run({ runId: 'that-day' });
    await expectAllArchived(world, acknowledged);
    await world.close();
  });
});
