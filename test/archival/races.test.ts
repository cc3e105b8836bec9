// Races on one record: an API update and an API delete against the archiver's copy and purge and
// against a rehydration. Every hot-store, ledger and archive call of every party waits for fast-check's
// scheduler, which explores the orders they can interleave in; a failure prints the order it found.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ArchivalStores } from '../../src/archival/archival-context.ts';
import { ArchivalEngine } from '../../src/archival/archive-run.ts';
import { readPurgedThrough } from '../../src/archival/purge-position.ts';
import { isMigrationHistory } from '../../src/ports/archive-ledger.ts';
import { collectUnreferencedBlobs } from '../../src/archival/blob-collector.ts';
import { rehydrateRecord as rehydrate } from '../../src/records/rehydration.ts';
import { type BillingRecord, serializeRecord } from '../../src/domain/billing-record.ts';
import { isAppError } from '../../src/domain/errors.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import type { ArchivalControlStore } from '../../src/ports/archival-control-store.ts';
import type { ArchiveStore } from '../../src/ports/archive-store.ts';
import { ArchivedRecordReader } from '../../src/records/archived-record-reader.ts';
import { RecordService } from '../../src/records/record-service.ts';
import {
  type Acknowledged,
  type ArchivalWorld,
  checkInvariants,
  createArchivalWorld,
  keyOf,
  policyOf,
  silentLogger,
  ledgerCounts,
} from '../support/archival-harness.ts';
import { simulatedInput } from '../support/simulation.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const KEY: RecordKey = { customerId: 'cust-race', id: 'rec-0' };

/** Where the record is when the race starts. */
type Start = 'hot' | 'copied' | 'archived';

interface Race {
  readonly start: Start;
  readonly update: boolean;
  readonly delete: boolean;
  readonly archive: boolean;
  readonly rehydrate: boolean;
  /** A collector with a one-hour safety window runs too. */
  readonly collect: boolean;
  /** How far ahead of the clock the archival run evaluates eligibility and grace (0: the record is cool; 8: past a P7D grace). */
  readonly asOfDays: 0 | 8;
}

/** Every port call waits its turn from the scheduler, labelled with who makes it. */
function scheduled<T extends object>(s: fc.Scheduler, who: string, port: string, target: T): T {
  return new Proxy(target, {
    get: (object, property, receiver) => {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === 'close') return method.bind(object);
      return async (...args: unknown[]) => {
        await s.schedule(Promise.resolve(), `${who}: ${port}.${String(property)}`);
        return method.apply(object, args);
      };
    },
  });
}

interface Ports extends ArchivalStores {
  readonly control: ArchivalControlStore;
}

function scheduledStores(world: ArchivalWorld, s: fc.Scheduler, who: string): Ports {
  return {
    store: scheduled(s, who, 'store', world.store),
    ledger: scheduled(s, who, 'ledger', world.ledger),
    archive: scheduled(s, who, 'archive', world.archive),
    // Control documents (leases, reports) only avoid duplicate work: not scheduled, to keep the space small.
    control: world.control,
  };
}

function engineOf(world: ArchivalWorld, ports: Ports, grace: string): ArchivalEngine {
  return new ArchivalEngine({
    ...ports,
    clock: world.clock,
    policy: policyOf('P3M', grace, 'P1D'),
    log: silentLogger,
  });
}

/** The record old enough and cooled down, in the state the race starts from. */
const MINUTE = 60_000;

async function setUp(start: Start): Promise<{ world: ArchivalWorld; original: BillingRecord }> {
  const world = createArchivalWorld();
  const original = await world
    .records()
    .create(KEY.customerId, simulatedInput(0, { issuedAt: '2025-06-10T08:00:00.000Z' }));
  world.clock.advance(2 * DAY);
  const now = world.clock.now().toISOString();
  if (start === 'copied') await engineOf(world, world.stores(), 'P7D').run({ asOf: now, runId: 'setup' });
  if (start === 'archived') {
    await engineOf(world, world.stores(), 'P0D').run({ asOf: now, runId: 'setup' });
    // Its copy was due the instant the purge read it: a later run passes it as history.
    world.clock.advance(MINUTE);
    await engineOf(world, world.stores(), 'P0D').run({ runId: 'setup-history' });
  }
  const { archived } = await world.store.countByTier();
  const { copied } = await ledgerCounts(world);
  expect({ archived, copied }).toEqual({
    archived: start === 'archived' ? 1 : 0,
    copied: start === 'copied' ? 1 : 0,
  });
  // Older than the collector's safety window: the blob is fair game once nothing references it.
  world.clock.advance(2 * HOUR);
  return { world, original };
}

const outcome = <T>(promise: Promise<T>): Promise<{ ok: T } | { error: unknown }> =>
  promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );

const codeOf = (error: unknown): string => (isAppError(error) ? error.code : String(error));

/** What a reader sees: the record's bytes, or 404. */
async function readState(world: ArchivalWorld): Promise<string> {
  try {
    return serializeRecord((await world.records().get(KEY)).record);
  } catch (error) {
    return codeOf(error) === 'NOT_FOUND' ? 'deleted' : `error ${codeOf(error)}`;
  }
}

async function race(s: fc.Scheduler, plan: Race): Promise<void> {
  const { world, original } = await setUp(plan.start);
  try {
    const api = (who: string) => {
      const ports = scheduledStores(world, s, who);
      return new RecordService({
        store: ports.store,
        clock: world.clock,
        archive: new ArchivedRecordReader({ archive: ports.archive }),
      });
    };
    const asOf = new Date(world.clock.now().getTime() + plan.asOfDays * DAY).toISOString();
    const rehydrator = scheduledStores(world, s, 'rehydrate');
    const [updated, deleted, archived, rehydrated, collected] = await s.waitFor(
      Promise.all([
        plan.update ? outcome(api('update').patch(KEY, { status: 'paid' }, {})) : undefined,
        plan.delete ? outcome(api('delete').delete(KEY, {})) : undefined,
        plan.archive
          ? outcome(
              engineOf(world, scheduledStores(world, s, 'archiver'), 'P0D').run({ asOf, runId: 'race' }),
            )
          : undefined,
        plan.rehydrate
          ? outcome(
              rehydrate(
                {
                  store: rehydrator.store,
                  reader: new ArchivedRecordReader({ archive: rehydrator.archive }),
                  clock: world.clock,
                },
                KEY,
              ),
            )
          : undefined,
        plan.collect
          ? outcome(
              collectUnreferencedBlobs(
                { ...scheduledStores(world, s, 'collector'), clock: world.clock },
                { safetyWindowMs: HOUR },
              ),
            )
          : undefined,
      ]),
    );
    // The API's answers: a write refused by a lost race (NOT_FOUND after the delete) is no acknowledgement.
    const refusals = ['NOT_FOUND', 'PRECONDITION_FAILED'];
    for (const [who, result] of [
      ['update', updated],
      ['delete', deleted],
      ['rehydrate', rehydrated],
    ] as const) {
      if (result !== undefined && 'error' in result)
        expect(refusals, `${who} failed`).toContain(codeOf(result.error));
    }
    expect(archived === undefined || 'ok' in archived).toBe(true);
    expect(collected === undefined || 'ok' in collected).toBe(true);

    // An acknowledged delete wins over everything (an update cannot apply after it: its replace is
    // conditional); otherwise the acknowledged update; otherwise the record as it was.
    const acknowledged: Acknowledged = new Map();
    const expected: BillingRecord | 'deleted' =
      deleted !== undefined && 'ok' in deleted
        ? 'deleted'
        : updated !== undefined && 'ok' in updated
          ? updated.ok
          : original;
    acknowledged.set(keyOf(KEY), expected);
    const wanted = expected === 'deleted' ? 'deleted' : serializeRecord(expected);
    expect(await readState(world), 'a read right after the race').toBe(wanted);

    // A clean recovery run past every grace, and the collector: the invariants hold, the outcome stands.
    world.clock.advance(8 * DAY);
    await engineOf(world, world.stores(), 'P0D').run({
      asOf: world.clock.now().toISOString(),
      runId: 'recovery',
    });
    await collectUnreferencedBlobs(world, { safetyWindowMs: 0 });
    expect(await checkInvariants(world, acknowledged, { collect: true })).toEqual([]);
    expect(await readState(world), 'a read after recovery').toBe(wanted);
    if (expected === 'deleted') {
      // No resurrection: no document, no stub, no blob, no ledger entry left for the deleted record but
      // its migration history (an API delete leaves it to expire; an erasure removes it).
      expect(await world.store.get(KEY)).toBeUndefined();
      const left = await world.ledger.get(KEY);
      expect(
        left === undefined || isMigrationHistory(left.entry, await readPurgedThrough(world.control)),
      ).toBe(true);
      expect(await world.archivePaths()).toEqual([]);
    }
  } finally {
    await world.close();
  }
}

const start = fc.constantFrom<Start>('hot', 'copied', 'archived');
const asOfDays = fc.constantFrom<0 | 8>(0, 8);
const alone = { update: false, delete: false, archive: false, rehydrate: false, collect: false };

describe('races on one record', () => {
  it('an update against copy and purge: never lost', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), start, asOfDays, (s, from, days) =>
        race(s, { ...alone, start: from, update: true, archive: true, asOfDays: days }),
      ),
      { numRuns: 150 },
    );
  });

  it('a delete against copy and purge: never resurrected', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), start, asOfDays, (s, from, days) =>
        race(s, { ...alone, start: from, delete: true, archive: true, asOfDays: days }),
      ),
      { numRuns: 150 },
    );
  });

  it('an update or a delete against a rehydration, and a run that may archive the record again', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.constantFrom<Start>('archived', 'copied'),
        fc.boolean(),
        fc.boolean(),
        asOfDays,
        (s, from, update, archive, days) =>
          race(s, {
            ...alone,
            start: from,
            update,
            delete: !update,
            archive,
            rehydrate: true,
            asOfDays: days,
          }),
      ),
      { numRuns: 150 },
    );
  });

  it('an update and a delete at once, against copy, purge, rehydration and a collector at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), start, asOfDays, (s, from, days) =>
        race(s, {
          start: from,
          update: true,
          delete: true,
          archive: true,
          rehydrate: true,
          collect: true,
          asOfDays: days,
        }),
      ),
      { numRuns: 150 },
    );
  });

  // Found by the last property above (fast-check seed 1653389222, path "38", with 4000 runs): a write
  // that read a stub whose blob is then collected (the record was rehydrated or deleted meanwhile) fails
  // with ARCHIVE_INTEGRITY, a non-retryable 500 that also raises an integrity alarm, although nothing is
  // corrupt. get() reads again in that case; the write path (and rehydrate) must too. Fails until fixed.
  it('regression write-reads-collected-blob: a PATCH whose stub is rehydrated and its blob collected meanwhile succeeds', async () => {
    const { world } = await setUp('archived');
    try {
      let reached!: () => void;
      let release!: () => void;
      const atBlob = new Promise<void>((resolve) => (reached = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The API process's blob reads wait at a gate: its PATCH has read the stub, not yet the blob.
      const gated: ArchiveStore = new Proxy(world.archive, {
        get: (object, property) => {
          const value: unknown = Reflect.get(object, property, object);
          if (typeof value !== 'function') return value;
          const method = (value as (...args: unknown[]) => unknown).bind(object);
          if (property !== 'get') return method;
          return async (...args: unknown[]) => {
            reached();
            await gate;
            return method(...args);
          };
        },
      });
      const api = new RecordService({
        store: world.store,
        clock: world.clock,
        archive: new ArchivedRecordReader({ archive: gated }),
      });
      const patched = outcome(api.patch(KEY, { status: 'paid' }, {}));
      await atBlob;
      // Meanwhile the record is rehydrated and the collector removes its blob, now unreferenced.
      expect(await rehydrate({ store: world.store, reader: world.reader(), clock: world.clock }, KEY)).toBe(
        'rehydrated',
      );
      expect((await collectUnreferencedBlobs(world, { safetyWindowMs: HOUR })).deleted).toBe(1);
      release();
      const result = await patched;
      // The record is whole and hot: the write must start over from a fresh read, as get() does.
      expect('error' in result ? codeOf(result.error) : 'ok').toBe('ok');
      expect(await readState(world)).toContain('"status":"paid"');
    } finally {
      await world.close();
    }
  });
});
