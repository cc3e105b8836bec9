// The Cosmos DB ledger against @vercel/cosmosdb-server: the shared contract, then what only this adapter
// has (container and indexing policy, stored layout, error mapping, retries, lost responses, options).
import { Agent } from 'node:https';
import { CosmosClient, Items, PriorityLevel } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CosmosArchiveLedger,
  type CosmosArchiveLedgerOptions,
  GET_MANY_CHUNK,
  LEDGER_INDEXING_POLICY,
  ledgerDueRetriesSpec,
  ledgerGetManySpec,
  ledgerQuerySpec,
  ttlSeconds,
} from '../../src/adapters/cosmos/cosmos-archive-ledger.ts';
import { AppError } from '../../src/domain/errors.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/domain/retry-policy.ts';
import type { DueRetriesQuery, LedgerQuery } from '../../src/ports/archive-ledger.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';
import { describeArchiveLedgerContract, makeLedgerEntry } from './archive-ledger.contract.ts';

const DATABASE = 'billing';

function connect(
  emulator: CosmosEmulator,
  options: Partial<CosmosArchiveLedgerOptions> = {},
): Promise<CosmosArchiveLedger> {
  return CosmosArchiveLedger.connect({
    endpoint: emulator.endpoint,
    key: emulator.key,
    databaseId: DATABASE,
    allowInsecureTls: true,
    ...options,
  });
}

/** Retries wait through this: it records the delays and resolves at once. */
function recordingSleep(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return { delays, sleep: (ms) => (delays.push(ms), Promise.resolve()) };
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describeArchiveLedgerContract('cosmos (cosmosdb-server)', async () => {
  const emulator = await startCosmosEmulator();
  const ledger = await connect(emulator);
  return {
    ledger,
    dispose: async () => {
      await ledger.close();
      await emulator.stop();
    },
  };
});

describe('CosmosArchiveLedger on cosmosdb-server', () => {
  let emulator: CosmosEmulator;
  /** A plain SDK client, to look at what the adapter created. */
  let raw: CosmosClient;
  let rawAgent: Agent;
  const opened: CosmosArchiveLedger[] = [];
  let customerSeq = 0;
  const newKey = (): { customerId: string; id: string } => ({
    customerId: `c-ledger-${++customerSeq}`,
    id: 'inv-2024-05-0001',
  });

  async function open(options: Partial<CosmosArchiveLedgerOptions> = {}): Promise<CosmosArchiveLedger> {
    const ledger = await connect(emulator, options);
    opened.push(ledger);
    return ledger;
  }

  beforeAll(async () => {
    emulator = await startCosmosEmulator();
    rawAgent = new Agent({ keepAlive: true, rejectUnauthorized: false });
    raw = new CosmosClient({ endpoint: emulator.endpoint, key: emulator.key, agent: rawAgent });
  });
  afterEach(() => emulator.clearFaults());
  afterAll(async () => {
    for (const ledger of opened) await ledger.close();
    raw?.dispose();
    rawAgent?.destroy();
    await emulator?.stop();
  });

  describe('container and layout', () => {
    it('creates archive-ledger partitioned by /customerId, indexing the envelope and the next attempt', async () => {
      await open();
      const { resource } = await raw.database(DATABASE).container('archive-ledger').read();
      expect(resource?.partitionKey?.paths).toEqual(['/customerId']);
      const policy = resource?.indexingPolicy;
      expect(policy?.includedPaths?.map((included) => included.path).sort()).toEqual(
        ['/customerId/?', '/entry/nextAttemptAt/?', '/id/?', '/parked/?', '/purgeAfter/?', '/state/?'].sort(),
      );
      // The rest of the entry (summary, sys, errors) is excluded, so it adds no index writes.
      expect(policy?.excludedPaths?.map((excluded) => excluded.path)).toContain('/*');
      expect(policy?.compositeIndexes).toContainEqual([
        { path: '/state', order: 'ascending' },
        { path: '/parked', order: 'ascending' },
        { path: '/purgeAfter', order: 'ascending' },
        { path: '/customerId', order: 'ascending' },
        { path: '/id', order: 'ascending' },
      ]);
      expect(policy?.compositeIndexes).toContainEqual([
        { path: '/state', order: 'ascending' },
        { path: '/parked', order: 'ascending' },
        { path: '/entry/nextAttemptAt', order: 'ascending' },
        { path: '/customerId', order: 'ascending' },
        { path: '/id', order: 'ascending' },
      ]);
    });

    it('stores the envelope beside the entry as given, with the item _etag as the etag', async () => {
      const ledger = await open({ containerId: 'layout' });
      const key = newKey();
      const entry = makeLedgerEntry(key, { state: 'failed', sha256: '', attempts: 2 });
      const put = await ledger.put(entry, { ifNoneMatch: '*' });
      const { resource } = await raw
        .database(DATABASE)
        .container('layout')
        .item(key.id, key.customerId)
        .read<Record<string, unknown>>();
      expect(resource).toMatchObject({
        id: key.id,
        customerId: key.customerId,
        state: 'failed',
        parked: false,
        purgeAfter: entry.purgeAfter,
        entry: JSON.parse(JSON.stringify(entry)),
        _etag: put.etag,
      });
      // The entry reads back without the envelope's defaulted `parked`.
      expect(resource?.entry).not.toHaveProperty('parked');
    });

    it('turns TTL on for the ledger (defaultTtl -1), on a new container and on one made without it', async () => {
      await open({ containerId: 'ttl-new' });
      const created = await raw.database(DATABASE).container('ttl-new').read();
      expect(created.resource?.defaultTtl).toBe(-1);
      // A ledger created before history was kept: no TTL, so the service would ignore every item's own.
      await raw.database(DATABASE).containers.create({
        id: 'ttl-old',
        partitionKey: { paths: ['/customerId'] },
        indexingPolicy: LEDGER_INDEXING_POLICY,
      });
      expect((await raw.database(DATABASE).container('ttl-old').read()).resource?.defaultTtl).toBeUndefined();
      await open({ containerId: 'ttl-old' });
      const updated = await raw.database(DATABASE).container('ttl-old').read();
      expect(updated.resource?.defaultTtl).toBe(-1);
      expect(updated.resource?.indexingPolicy?.compositeIndexes).toEqual(
        LEDGER_INDEXING_POLICY.compositeIndexes,
      );
    });

    it("gives an entry with expiresAt the item ttl to it from the write, on the adapter's clock; none without", async () => {
      const now = new Date('2026-03-01T00:00:00.000Z');
      const ledger = await open({ containerId: 'ttl-items', clock: { now: () => now } });
      const history = { ...newKey() };
      const kept = { ...newKey() };
      await ledger.put(makeLedgerEntry(history, { expiresAt: '2026-03-31T00:00:00.500Z' }), {});
      await ledger.put(makeLedgerEntry(kept), {});
      const item = (key: { customerId: string; id: string }) =>
        raw
          .database(DATABASE)
          .container('ttl-items')
          .item(key.id, key.customerId)
          .read<Record<string, unknown>>();
      // 30 days and half a second, rounded up to whole seconds.
      expect((await item(history)).resource?.ttl).toBe(30 * 24 * 3600 + 1);
      expect((await item(kept)).resource).not.toHaveProperty('ttl');
      // The entry itself reads back as written, expiry included.
      expect((await ledger.get(history))?.entry.expiresAt).toBe('2026-03-31T00:00:00.500Z');
      expect(ttlSeconds('2026-02-01T00:00:00.000Z', now)).toBe(1);
    });

    it('opens an existing container again and sees its entries', async () => {
      const first = await open({ containerId: 'reopen' });
      const key = newKey();
      const put = await first.put(makeLedgerEntry(key), {});
      const second = await open({ containerId: 'reopen' });
      expect(await second.get(key)).toEqual(put);
    });

    it('refuses a container partitioned by another key, without retrying', async () => {
      await raw.databases.createIfNotExists({ id: DATABASE });
      await raw
        .database(DATABASE)
        .containers.createIfNotExists({ id: 'ledger-by-id', partitionKey: { paths: ['/id'] } });
      const { delays, sleep } = recordingSleep();
      const error = await rejection(open({ containerId: 'ledger-by-id', sleep }));
      expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
      expect(error.message).toContain('/customerId');
      expect(delays).toEqual([]);
    });
  });

  describe('queries the indexing policy can serve', () => {
    const shapes: LedgerQuery[] = [];
    for (const state of [undefined, 'copied', 'failed'] as const)
      for (const parked of [undefined, true, false])
        for (const dueBy of [undefined, '2024-09-09T00:00:00.000Z'])
          for (const customerId of [undefined, 'cust-a'])
            shapes.push({
              limit: 10,
              after: { purgeAfter: '2024-09-08T00:00:00.000Z', customerId: 'cust-a', id: 'inv-1' },
              ...(state !== undefined ? { state } : {}),
              ...(parked !== undefined ? { parked } : {}),
              ...(dueBy !== undefined ? { dueBy } : {}),
              ...(customerId !== undefined ? { customerId } : {}),
            });
    const composites = (LEDGER_INDEXING_POLICY.compositeIndexes ?? []).map((index) =>
      index.map((path) => `${path.path} ${path.order === 'descending' ? 'DESC' : 'ASC'}`).join(', '),
    );
    const included = (LEDGER_INDEXING_POLICY.includedPaths ?? []).map((path) => path.path);

    // Cosmos DB refuses a multi-property ORDER BY without an exactly matching composite index; the
    // emulator does not, so the policy is checked against every query shape here.
    it.each(shapes)('ORDER BY of %o has a composite index; its filters are indexed', (query) => {
      const text = ledgerQuerySpec(query).query;
      const orderBy = /ORDER BY (.+)$/.exec(text)?.[1];
      expect(orderBy).toBeDefined();
      const paths = (orderBy ?? '').replace(/\bc\./g, '/');
      expect(composites).toContain(paths);
      for (const property of text.matchAll(/\bc\.(\w+) (?:=|<=|>)/g)) {
        expect(included).toContain(`/${property[1]}/?`);
      }
    });
    const retryShapes: DueRetriesQuery[] = [];
    for (const customerId of [undefined, 'cust-a'])
      for (const after of [
        undefined,
        { nextAttemptAt: '2024-09-01T03:01:00.000Z', customerId: 'cust-a', id: 'inv-1' },
      ])
        retryShapes.push({
          dueBy: '2024-09-01T04:00:00.000Z',
          limit: 10,
          ...(customerId !== undefined ? { customerId } : {}),
          ...(after !== undefined ? { after } : {}),
        });

    it.each(retryShapes)(
      'due retries %o: one composite index serves the ORDER BY, filters indexed',
      (query) => {
        const { query: text, parameters } = ledgerDueRetriesSpec(query);
        const orderBy = /ORDER BY (.+)$/.exec(text)?.[1];
        expect(orderBy).toBe(
          'c.state ASC, c.parked ASC, c.entry.nextAttemptAt ASC, c.customerId ASC, c.id ASC',
        );
        expect(composites).toContain((orderBy ?? '').replace(/\bc\./g, '/').replace(/\./g, '/'));
        const filtered = [...text.matchAll(/\bc\.([\w.]+) (?:=|<=|>)/g)].map(
          (m) => `/${m[1]!.replace(/\./g, '/')}/?`,
        );
        expect(filtered).toEqual(expect.arrayContaining(['/state/?', '/parked/?', '/entry/nextAttemptAt/?']));
        for (const path of filtered) expect(included).toContain(path);
        expect(parameters).toEqual(
          expect.arrayContaining([
            { name: '@state', value: 'failed' },
            { name: '@parked', value: false },
            { name: '@dueBy', value: query.dueBy },
          ]),
        );
      },
    );

    it('getMany asks for exact (customerId, id) pairs, on indexed paths only', () => {
      const { query, parameters } = ledgerGetManySpec([
        { customerId: 'cust-a', id: 'inv-1' },
        { customerId: 'cust-b', id: 'inv-1' },
      ]);
      expect(query).toBe(
        'SELECT c.entry, c._etag FROM c WHERE (c.customerId = @c0 AND c.id = @i0) OR (c.customerId = @c1 AND c.id = @i1)',
      );
      expect(parameters).toEqual([
        { name: '@c0', value: 'cust-a' },
        { name: '@i0', value: 'inv-1' },
        { name: '@c1', value: 'cust-b' },
        { name: '@i1', value: 'inv-1' },
      ]);
      for (const property of query.matchAll(/\bc\.(\w+) =/g)) {
        expect(included).toContain(`/${property[1]}/?`);
      }
    });
  });

  describe('errors and retries', () => {
    it('maps a 429 to THROTTLED, retryable, with the service retry-after', async () => {
      const ledger = await open({
        throttleRetry: { maxRetries: 0, maxWaitSeconds: 0 },
        retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 },
      });
      emulator.injectFault({
        method: 'GET',
        action: { kind: 'status', status: 429, headers: { 'x-ms-retry-after-ms': '1234' } },
      });
      const error = await rejection(ledger.get(newKey()));
      expect(error).toMatchObject({ code: 'THROTTLED', retryable: true, retryAfterMs: 1234 });
      expect(error.message).toMatch(/^read ledger entry c-ledger-\d+\/inv-2024-05-0001: [^\n]+$/);
    });

    it('passes THROTTLED on with the service retry-after once the SDK has spent its retries', async () => {
      const { delays, sleep } = recordingSleep();
      const ledger = await open({ throttleRetry: { maxRetries: 0, maxWaitSeconds: 0 }, sleep });
      const key = newKey();
      await ledger.put(makeLedgerEntry(key), {});
      const fault = emulator.injectFault({
        method: 'GET',
        times: 2,
        action: { kind: 'status', status: 429, headers: { 'x-ms-retry-after-ms': '250' } },
      });
      expect(await rejection(ledger.get(key))).toMatchObject({ code: 'THROTTLED', retryAfterMs: 250 });
      expect(fault.hits()).toBe(1);
      expect(delays).toEqual([]);
    });

    it('maps a 503 on a write to UNAVAILABLE, retryable, and retries it', async () => {
      const once = await open({ retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } });
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      expect(await rejection(once.put(makeLedgerEntry(newKey()), {}))).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
      });
      const { delays, sleep } = recordingSleep();
      const retrying = await open({ sleep });
      const key = newKey();
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      const put = await retrying.put(makeLedgerEntry(key), {});
      expect(await retrying.get(key)).toEqual(put);
      expect(delays).toHaveLength(1);
    });

    it('lets the SDK retry a throttled query and count in place; the adapter adds no wait', async () => {
      const { delays, sleep } = recordingSleep();
      const ledger = await open({ containerId: 'retry-query', sleep });
      const key = newKey();
      const put = await ledger.put(makeLedgerEntry(key), {});
      // Each query is two POSTs: a prefetched query plan (whose failure the SDK ignores while the
      // emulator answers the query directly), then the query.
      const throttle = (requests: number) =>
        emulator.injectFault({
          method: 'POST',
          times: requests,
          action: { kind: 'status', status: 429, headers: { 'x-ms-retry-after-ms': '1' } },
        });
      const first = throttle(2);
      expect((await ledger.query({ limit: 5 })).items).toEqual([put]);
      expect(first.hits()).toBe(2);
      const second = throttle(3);
      expect(await ledger.counts()).toEqual({ copied: 1, failed: 0, parked: 0, archived: 0 });
      expect(second.hits()).toBe(3);
      expect(delays).toEqual([]);
    });

    it('passes the abort signal to the SDK and rejects with an AppError when aborted', async () => {
      const { delays, sleep } = recordingSleep();
      const ledger = await open({ sleep });
      const controller = new AbortController();
      const { hit } = emulator.injectFault({ method: 'GET', action: { kind: 'hang' } });
      const pending = ledger.get(newKey(), { abortSignal: controller.signal });
      await hit;
      controller.abort();
      expect(await rejection(pending)).toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect(delays).toEqual([]);
    });

    it('rejects with UNAVAILABLE, not retryable, once closed', async () => {
      const ledger = await connect(emulator);
      await ledger.close();
      expect(await rejection(ledger.get(newKey()))).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
      expect(await rejection(ledger.counts())).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    });
  });

  describe('writes whose answer was lost', () => {
    it('reports a create-only put as done when the retry finds its own entry', async () => {
      const { delays, sleep } = recordingSleep();
      const ledger = await open({ sleep });
      const key = newKey();
      emulator.injectFault({ method: 'POST', action: { kind: 'lose-response' } });
      const put = await ledger.put(makeLedgerEntry(key), { ifNoneMatch: '*' });
      expect(delays).toHaveLength(1);
      expect(await ledger.get(key)).toEqual(put);
    });

    it('still reports ALREADY_EXISTS when the retry finds another entry', async () => {
      const { delays, sleep } = recordingSleep();
      const ledger = await open({ sleep });
      const key = newKey();
      const first = await ledger.put(makeLedgerEntry(key), {});
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      const clash = makeLedgerEntry(key, { attempts: 4 });
      expect(await rejection(ledger.put(clash, { ifNoneMatch: '*' }))).toMatchObject({
        code: 'ALREADY_EXISTS',
      });
      expect(delays).toHaveLength(1);
      expect(await ledger.get(key)).toEqual(first);
    });

    it('reports a conditional put as done when the retry meets its own write (412)', async () => {
      const ledger = await open({ sleep: () => Promise.resolve() });
      const key = newKey();
      const first = await ledger.put(makeLedgerEntry(key), {});
      const next = makeLedgerEntry(key, { attempts: 1 });
      emulator.injectFault({ method: 'PUT', action: { kind: 'lose-response' } });
      const put = await ledger.put(next, { ifMatch: first.etag });
      expect(put.etag).not.toBe(first.etag);
      expect(await ledger.get(key)).toEqual(put);
      // The first etag is stale now: a real conflict still answers PRECONDITION_FAILED.
      expect(
        await rejection(ledger.put(makeLedgerEntry(key, { attempts: 2 }), { ifMatch: first.etag })),
      ).toMatchObject({ code: 'PRECONDITION_FAILED' });
    });

    it('reports a delete as done when the retry finds the entry gone', async () => {
      const ledger = await open({ sleep: () => Promise.resolve() });
      const key = newKey();
      const put = await ledger.put(makeLedgerEntry(key), {});
      emulator.injectFault({ method: 'DELETE', action: { kind: 'lose-response' } });
      expect(await ledger.delete(key, { ifMatch: put.etag })).toBe(true);
      expect(await ledger.get(key)).toBeUndefined();
    });
  });

  describe('operation options', () => {
    it('sends low priority when asked, on reads and writes, and none otherwise', async () => {
      const ledger = await open({ retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } });
      const low = { priority: 'low' } as const;
      const read = emulator.injectFault({ method: 'GET', action: { kind: 'status', status: 404 } });
      await ledger.get(newKey(), low);
      expect((await read.hit)['x-ms-cosmos-priority-level']).toBe('Low');
      const write = emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      await rejection(ledger.put(makeLedgerEntry(newKey()), {}, low));
      expect((await write.hit)['x-ms-cosmos-priority-level']).toBe('Low');
      const remove = emulator.injectFault({ method: 'DELETE', action: { kind: 'status', status: 404 } });
      await ledger.delete(newKey(), {}, low);
      expect((await remove.hit)['x-ms-cosmos-priority-level']).toBe('Low');
      // The account's default applies when not asked.
      const plain = emulator.injectFault({ method: 'GET', action: { kind: 'status', status: 404 } });
      await ledger.get(newKey());
      expect((await plain.hit)['x-ms-cosmos-priority-level']).toBeUndefined();
    });

    it('passes low priority to the SDK on queries and counts', async () => {
      // The query-plan request that precedes each query on the wire carries no priority, so the
      // wire cannot show it; the options handed to the SDK can.
      const ledger = await open();
      const query = vi.spyOn(Items.prototype, 'query');
      try {
        await ledger.query({ limit: 1, state: 'copied' }, { priority: 'low' });
        await ledger.counts({}, { priority: 'low' });
        expect(query).toHaveBeenCalledTimes(4);
        for (const [, options] of query.mock.calls) {
          expect(options).toMatchObject({ priorityLevel: PriorityLevel.Low });
        }
      } finally {
        query.mockRestore();
      }
    });

    it('getMany sends one query per chunk of keys, at the priority asked, in the partition of a single customer', async () => {
      const ledger = await open();
      const query = vi.spyOn(Items.prototype, 'query');
      try {
        const keys = Array.from({ length: 2 * GET_MANY_CHUNK + 30 }, (_, index) => ({
          customerId: `c-many-${index % 7}`,
          id: `inv-${index}`,
        }));
        await ledger.getMany(keys, { priority: 'low' });
        expect(query).toHaveBeenCalledTimes(3);
        for (const [, options] of query.mock.calls) {
          expect(options).toMatchObject({ priorityLevel: PriorityLevel.Low });
          expect(options).not.toHaveProperty('partitionKey');
        }
        query.mockClear();
        await ledger.getMany([
          { customerId: 'c-one', id: 'inv-1' },
          { customerId: 'c-one', id: 'inv-2' },
        ]);
        expect(query).toHaveBeenCalledTimes(1);
        expect(query.mock.calls[0]?.[1]).toMatchObject({ partitionKey: 'c-one' });
      } finally {
        query.mockRestore();
      }
    });

    it('reports modelled request charges for every call, the emulator having no real ones', async () => {
      const ledger = await open({ containerId: 'charges' });
      const charges: Array<{ units: number; estimated: boolean }> = [];
      const onRequestCharge = (units: number, estimated: boolean): void =>
        void charges.push({ units, estimated });
      const key = newKey();
      const put = await ledger.put(makeLedgerEntry(key), {}, { onRequestCharge });
      await ledger.get(key, { onRequestCharge });
      await ledger.getMany([key, newKey()], { onRequestCharge });
      await ledger.query({ limit: 5 }, { onRequestCharge });
      await ledger.counts({}, { onRequestCharge });
      await ledger.delete(key, { ifMatch: put.etag }, { onRequestCharge });
      // put, get, getMany, query, three counts, delete.
      expect(charges).toHaveLength(8);
      expect(charges.every((charge) => charge.estimated && charge.units >= 1)).toBe(true);
      // A ledger entry is a small write (~5 RU), far below the ~150 RU of flagging a 300 KB document.
      expect(charges[0]?.units).toBeLessThan(10);
    });
  });
});
