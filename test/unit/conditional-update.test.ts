// The one conditional-update path: lost races retried from a fresh read, a bounded number of times, a
// change that decides from what it sees, and cached copies of a replaced stub forgotten.
import { describe, expect, it } from 'vitest';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { LruMemoryCache } from '../../src/adapters/lru/lru-memory-cache.ts';
import { AppError } from '../../src/domain/errors.ts';
import { fullDocument } from '../../src/domain/record-document.ts';
import type { Cache } from '../../src/ports/cache.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';
import { ArchivedRecordReader } from '../../src/records/archived-record-reader.ts';
import { MAX_UPDATE_ATTEMPTS, updateRecord } from '../../src/records/conditional-update.ts';
import { createArchivalWorld, policyOf } from '../support/archival-harness.ts';
import { makeInput, makeRecord } from '../support/record-fixtures.ts';

const key = { customerId: 'cust-cu', id: 'r1' };

/** A store whose next `n` replaces lose to a concurrent writer that bumps the record first. */
function racingStore(store: SqliteRecordStore, races: number): { store: RecordStore; replaces(): number } {
  let left = races;
  let replaces = 0;
  const replace: RecordStore['replace'] = async (document, condition, options) => {
    replaces += 1;
    if (left > 0) {
      left -= 1;
      const current = (await store.get(key))!;
      // Another writer got there first: its write changes the etag the caller is conditioned on.
      await store.replace(current.document, { ifMatch: current.etag });
    }
    return store.replace(document, condition, options);
  };
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === 'replace') return replace;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, replaces: () => replaces };
}

describe('updateRecord', () => {
  it('retries a lost race from a fresh read, and the change sees the winner’s document', async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    await store.create(fullDocument(makeRecord({ ...key, status: 'issued' })));
    const racing = racingStore(store, 2);
    const seen: string[] = [];
    const result = await updateRecord({ store: racing.store }, key, ({ stored }) => {
      seen.push(stored.etag);
      return { replace: { ...stored.document, sys: { pinned: true } }, result: 'done' };
    });
    expect(result).toBe('done');
    expect(racing.replaces()).toBe(3);
    expect(new Set(seen).size).toBe(3); // three reads, three different etags
    expect((await store.get(key))?.document.sys).toEqual({ pinned: true });
    await store.close();
  });

  it(`gives up with the conflict after ${MAX_UPDATE_ATTEMPTS} lost races, and never retries other errors`, async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    await store.create(fullDocument(makeRecord(key)));
    const racing = racingStore(store, 100);
    await expect(
      updateRecord({ store: racing.store }, key, ({ stored }) => ({ replace: stored.document, result: 1 })),
    ).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(racing.replaces()).toBe(MAX_UPDATE_ATTEMPTS);

    let calls = 0;
    await expect(
      updateRecord({ store }, key, () => {
        calls += 1;
        throw new AppError('LEGAL_HOLD', 'held');
      }),
    ).rejects.toMatchObject({ code: 'LEGAL_HOLD' });
    expect(calls).toBe(1);
    await expect(
      updateRecord({ store }, { ...key, id: 'absent' }, () => ({ delete: true, result: 1 })),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.close();
  });

  it('writes nothing when the change leaves the record unchanged', async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    const created = await store.create(fullDocument(makeRecord(key)));
    expect(await updateRecord({ store }, key, () => ({ unchanged: true, result: 'same' }))).toBe('same');
    expect((await store.get(key))?.etag).toBe(created.etag);
    await store.close();
  });

  it('forgets the cached copy of a stub once a write or a rehydration replaced it', async () => {
    const world = createArchivalWorld({ policy: policyOf('P3M', 'P0D') });
    const lru = new LruMemoryCache({ maxBytes: 1024 * 1024 });
    const stored = new Set<string>();
    const cache: Cache = {
      get: (k) => lru.get(k),
      set: async (k, value, ttl) => {
        stored.add(k);
        await lru.set(k, value, ttl);
      },
      delete: async (k) => {
        stored.delete(k);
        await lru.delete(k);
      },
      increment: (k, ttl) => lru.increment(k, ttl),
      healthy: () => lru.healthy(),
      close: () => lru.close(),
    };
    const reader = new ArchivedRecordReader({ archive: world.archive, cache });
    const records = world.records();
    const created = await records.create(
      'cust-cu',
      makeInput({ id: 'r2', issuedAt: '2025-01-01T00:00:00.000Z' }),
    );
    world.clock.advance(2 * 24 * 3600_000);
    await world.engine().run();
    const stub = (await world.store.get(created))!.document;
    if (stub.tier !== 'archived') throw new Error('expected a stub');
    await reader.read(stub);
    expect(stored.size).toBe(1);
    await updateRecord(
      { store: world.store, reader },
      created,
      ({ stored: current, record }) => ({
        replace: fullDocument(record!, current.document.sys),
        result: undefined,
      }),
      { needsRecord: true },
    );
    expect(stored.size).toBe(0);
    await world.close();
  });
});
