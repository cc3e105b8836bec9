// The Cosmos DB adapter against @vercel/cosmosdb-server: the shared contract, then what only this
// adapter has (container setup, the item limit in code, error mapping, retries, lost responses).
import { Agent } from 'node:https';
import { CosmosClient, ErrorResponse } from '@azure/cosmos';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CosmosConnection } from '../../src/adapters/cosmos/cosmos-connection.ts';
import { isAmbiguousWriteFailure, toAppError } from '../../src/adapters/cosmos/cosmos-error-mapping.ts';
import {
  CosmosRecordStore,
  type CosmosRecordStoreOptions,
  listQuery,
  RECORDS_INDEXING_POLICY,
} from '../../src/adapters/cosmos/cosmos-record-store.ts';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { AppError, type ErrorCode } from '../../src/domain/errors.ts';
import { fullDocument, type RecordDocument, toPersisted } from '../../src/domain/record-document.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/domain/retry-policy.ts';
import {
  type ListRequest,
  MAX_DOCUMENT_BYTES,
  type RecordStore,
  type ScanRequest,
} from '../../src/ports/record-store.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';
import { makeDocument, makeRecord, makeStub } from '../support/record-fixtures.ts';
import { describeRecordStoreContract } from './record-store.contract.ts';

const DATABASE = 'billing';

function connect(
  emulator: CosmosEmulator,
  options: Partial<CosmosRecordStoreOptions> = {},
): Promise<CosmosRecordStore> {
  return CosmosRecordStore.connect({
    endpoint: emulator.endpoint,
    key: emulator.key,
    databaseId: DATABASE,
    containerId: 'records',
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

describeRecordStoreContract('cosmos (cosmosdb-server)', async () => {
  const emulator = await startCosmosEmulator();
  const store = await connect(emulator);
  return {
    store,
    insertRaw: (raw) => store.insertRaw(raw),
    dispose: async () => {
      await store.close();
      await emulator.stop();
    },
  };
});

describe('CosmosRecordStore on cosmosdb-server', () => {
  let emulator: CosmosEmulator;
  /** A plain SDK client, to look at what the adapter created. */
  let raw: CosmosClient;
  let rawAgent: Agent;
  const opened: CosmosRecordStore[] = [];
  let customerSeq = 0;
  const newCustomer = (): string => `c-cosmos-${++customerSeq}`;

  async function open(options: Partial<CosmosRecordStoreOptions> = {}): Promise<CosmosRecordStore> {
    const store = await connect(emulator, options);
    opened.push(store);
    return store;
  }

  beforeAll(async () => {
    emulator = await startCosmosEmulator();
    rawAgent = new Agent({ keepAlive: true, rejectUnauthorized: false });
    raw = new CosmosClient({ endpoint: emulator.endpoint, key: emulator.key, agent: rawAgent });
  });
  afterEach(() => emulator.clearFaults());
  afterAll(async () => {
    for (const store of opened) await store.close();
    raw?.dispose();
    rawAgent?.destroy();
    await emulator?.stop();
  });

  describe("throughput for the archiver's default budget", () => {
    it('never throws: whatever the emulator makes of offers is a known kind, a refused read is unknown', async () => {
      const store = await open({ containerId: 'throughput' });
      const found = await store.readThroughput();
      expect(['provisioned', 'autoscale', 'unknown']).toContain(found.kind);
      emulator.injectFault({ path: /offers/, action: { kind: 'status', status: 403 }, times: 10 });
      expect(await store.readThroughput()).toMatchObject({ kind: 'unknown' });
    });
  });

  describe('container setup', () => {
    it('creates the container partitioned by /customerId, indexing only the queried paths', async () => {
      await open({ containerId: 'setup' });
      const { resource } = await raw.database(DATABASE).container('setup').read();
      expect(resource?.partitionKey?.paths).toEqual(['/customerId']);
      const policy = resource?.indexingPolicy;
      expect(policy?.includedPaths?.map((included) => included.path).sort()).toEqual(
        [
          '/customerId/?',
          '/id/?',
          '/invoiceNumber/?',
          '/issuedAt/?',
          '/status/?',
          '/sys/pinned/?',
          '/sys/tier/?',
        ].sort(),
      );
      // Everything else (lineItems, metadata) is excluded, so large bodies add no index writes.
      expect(policy?.excludedPaths?.map((excluded) => excluded.path)).toContain('/*');
      expect(policy?.compositeIndexes).toContainEqual([
        { path: '/customerId', order: 'ascending' },
        { path: '/issuedAt', order: 'descending' },
        { path: '/id', order: 'descending' },
      ]);
      // The invoice number lookup: its equality leads the same order.
      expect(policy?.compositeIndexes).toContainEqual([
        { path: '/invoiceNumber', order: 'ascending' },
        { path: '/issuedAt', order: 'descending' },
        { path: '/id', order: 'descending' },
      ]);
    });

    // Cosmos DB serves a filtered ORDER BY from one composite index only when the index matches the
    // ORDER BY exactly and the equality filters lead it; the emulator ignores indexes, so this is checked here.
    it.each<Omit<ListRequest, 'customerId' | 'limit'>>([
      {},
      { status: 'paid' },
      { issuedFrom: '2024-01-01T00:00:00.000Z', issuedTo: '2024-06-01T00:00:00.000Z' },
      { after: { issuedAt: '2024-01-01T00:00:00.000Z', id: 'r-1' } },
      { invoiceNumber: 'INV-1' },
      { invoiceNumber: 'INV-1', status: 'issued', after: { issuedAt: '2024-01-01T00:00:00.000Z', id: 'r' } },
    ])('list %o sorts by a composite index its equality filters lead', (filters) => {
      const { query } = listQuery({ customerId: 'cust-1', limit: 10, ...filters });
      const orderBy = /ORDER BY (.+)$/.exec(query)?.[1] ?? '';
      const terms = orderBy.split(', ').map((term) => {
        const [property = '', direction = ''] = term.split(' ');
        return {
          path: `/${property.replace(/^c\./, '')}`,
          order: direction === 'ASC' ? 'ascending' : 'descending',
        };
      });
      expect(RECORDS_INDEXING_POLICY.compositeIndexes).toContainEqual(terms);
      const leading = terms.slice(
        0,
        terms.findIndex((term) => term.path === '/issuedAt'),
      );
      expect(leading.length).toBeGreaterThan(0);
      for (const term of leading) expect(query).toContain(`c${term.path.replaceAll('/', '.')} = @`);
    });

    it('opens an existing container again and sees its documents', async () => {
      const first = await open({ containerId: 'reopen' });
      const document = makeDocument({ customerId: newCustomer() });
      const created = await first.create(document);
      const second = await open({ containerId: 'reopen' });
      expect(await second.get(document)).toEqual({ document, etag: created.etag });
    });

    it('refuses a container partitioned by another key, without retrying', async () => {
      await raw.databases.createIfNotExists({ id: DATABASE });
      await raw
        .database(DATABASE)
        .containers.createIfNotExists({ id: 'by-id', partitionKey: { paths: ['/id'] } });
      const { delays, sleep } = recordingSleep();
      const error = await rejection(open({ containerId: 'by-id', sleep }));
      expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
      expect(error.message).toContain('/customerId');
      expect(delays).toEqual([]);
    });
  });

  describe('item size limit', () => {
    it('refuses an oversized write before sending it and keeps the stored document', async () => {
      const store = await open();
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      const big = fullDocument({
        ...document.record,
        version: 2,
        metadata: { blob: 'x'.repeat(MAX_DOCUMENT_BYTES) },
      });
      // Any request that reached the emulator now would fail as UNAVAILABLE, not RECORD_TOO_LARGE.
      emulator.injectFault({ action: { kind: 'status', status: 500 }, times: 100 });
      expect(await rejection(store.replace(big, { ifMatch: created.etag }))).toMatchObject({
        code: 'RECORD_TOO_LARGE',
        retryable: false,
      });
      expect(await rejection(store.create({ ...big, id: 'other' }))).toMatchObject({
        code: 'RECORD_TOO_LARGE',
      });
      emulator.clearFaults();
      expect(await store.get(document)).toEqual(created);
    });

    it('stores a document just under the limit, measured as persisted JSON', async () => {
      const store = await open();
      const customerId = newCustomer();
      const empty = JSON.stringify(
        toPersisted(makeDocument({ customerId, id: 'near', metadata: { blob: '' } })),
      );
      const document = makeDocument({
        customerId,
        id: 'near',
        metadata: { blob: 'x'.repeat(MAX_DOCUMENT_BYTES - Buffer.byteLength(empty)) },
      });
      expect(Buffer.byteLength(JSON.stringify(toPersisted(document)))).toBe(MAX_DOCUMENT_BYTES);
      await store.create(document);
      expect((await store.get(document))?.document).toEqual(document);
      await store.delete(document, {});
    });

    it('maps the service refusing an item as too large (413) to RECORD_TOO_LARGE', async () => {
      const { delays, sleep } = recordingSleep();
      const store = await open({ sleep });
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 413 } });
      const error = await rejection(store.create(makeDocument({ customerId: newCustomer() })));
      expect(error).toMatchObject({ code: 'RECORD_TOO_LARGE', retryable: false });
      expect(delays).toEqual([]);
    });
  });

  describe('errors and retries', () => {
    it('maps a 429 to THROTTLED, retryable, with the service retry-after', async () => {
      const store = await open({
        throttleRetry: { maxRetries: 0, maxWaitSeconds: 0 },
        retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 },
      });
      const document = makeDocument({ customerId: newCustomer() });
      await store.create(document);
      emulator.injectFault({
        method: 'GET',
        action: {
          kind: 'status',
          status: 429,
          headers: { 'x-ms-retry-after-ms': '1234', 'x-ms-substatus': '3200' },
        },
      });
      const error = await rejection(store.get(document));
      expect(error).toMatchObject({ code: 'THROTTLED', retryable: true, retryAfterMs: 1234, status: 429 });
      expect(error.message).not.toMatch(/\n\s+at /);
    });

    it('passes THROTTLED on once the SDK has spent its retries: no retry stacked on them', async () => {
      const { delays, sleep } = recordingSleep();
      const store = await open({ throttleRetry: { maxRetries: 2, maxWaitSeconds: 5 }, sleep });
      const document = makeDocument({ customerId: newCustomer() });
      await store.create(document);
      const fault = emulator.injectFault({
        method: 'GET',
        times: 100,
        action: { kind: 'status', status: 429, headers: { 'x-ms-retry-after-ms': '1' } },
      });
      // The API answers this with 429 and Retry-After at once: three requests, no adapter wait.
      expect(await rejection(store.get(document))).toMatchObject({
        code: 'THROTTLED',
        retryable: true,
        retryAfterMs: 1,
      });
      expect(fault.hits()).toBe(3);
      expect(delays).toEqual([]);
    });

    it('resumes a multi-page query from its continuation after a failed page, paying no page twice', async () => {
      const { delays, sleep } = recordingSleep();
      const connection = await CosmosConnection.connect(
        {
          endpoint: emulator.endpoint,
          key: emulator.key,
          databaseId: DATABASE,
          allowInsecureTls: true,
          sleep,
        },
        {
          adapter: 'paging test',
          containerId: 'paging',
          partitionKeyPath: '/customerId',
          indexingPolicy: RECORDS_INDEXING_POLICY,
        },
      );
      try {
        const customerId = newCustomer();
        for (let i = 0; i < 9; i++) {
          await connection.container.items.create({ id: `r-${i}`, customerId });
        }
        const spec = {
          query: 'SELECT c.id FROM c WHERE c.customerId = @pk',
          parameters: [{ name: '@pk', value: customerId }],
        };
        const run = () =>
          connection.call('page through', undefined, (state) =>
            connection.queryAll<{ id: string }>(state, spec, { maxItemCount: 2, partitionKey: customerId }),
          );
        const clean = emulator.injectFault({
          method: 'POST',
          skip: 1_000,
          action: { kind: 'status', status: 500 },
        });
        const expected = (await run()).map((row) => row.id);
        const pages = clean.matched();
        emulator.clearFaults();
        expect(expected).toHaveLength(9);
        expect(pages).toBeGreaterThanOrEqual(5);

        // The fourth page fails (500: the SDK leaves it to the adapter's retry): only that page is asked again.
        const failing = emulator.injectFault({
          method: 'POST',
          skip: 3,
          action: { kind: 'status', status: 500 },
        });
        const counter = emulator.injectFault({
          method: 'POST',
          skip: 1_000,
          action: { kind: 'status', status: 500 },
        });
        expect((await run()).map((row) => row.id)).toEqual(expected);
        expect(failing.hits()).toBe(1);
        expect(delays).toHaveLength(1);
        // Every page once, plus the failed one again (and at most a query plan for the new iterator).
        expect(failing.matched() + counter.matched()).toBeLessThanOrEqual(pages + 2);
      } finally {
        await connection.close();
      }
    });

    it('lets the SDK absorb a short throttling burst before the adapter retries', async () => {
      const { delays, sleep } = recordingSleep();
      const store = await open({ sleep });
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      const fault = emulator.injectFault({
        method: 'GET',
        times: 2,
        action: { kind: 'status', status: 429, headers: { 'x-ms-retry-after-ms': '1' } },
      });
      expect(await store.get(document)).toEqual(created);
      expect(fault.hits()).toBe(2);
      expect(delays).toEqual([]);
    });

    it('maps a 503 to UNAVAILABLE, retryable, and retries it', async () => {
      const once = await open({ retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } });
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      expect(await rejection(once.create(makeDocument({ customerId: newCustomer() })))).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
        status: 503,
      });

      const { delays, sleep } = recordingSleep();
      const retrying = await open({ sleep });
      const document = makeDocument({ customerId: newCustomer() });
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      const created = await retrying.create(document);
      expect(await retrying.get(document)).toEqual(created);
      expect(delays).toHaveLength(1);
    });

    it('maps a request that outlives its timeout to TIMEOUT, retryable', async () => {
      const store = await open({
        requestTimeoutMs: 300,
        retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 },
      });
      emulator.injectFault({ method: 'POST', action: { kind: 'hang' } });
      expect(await rejection(store.create(makeDocument({ customerId: newCustomer() })))).toMatchObject({
        code: 'TIMEOUT',
        retryable: true,
      });
    });

    it('passes the abort signal to the SDK and rejects with an AppError when aborted', async () => {
      const { delays, sleep } = recordingSleep();
      const store = await open({ sleep });
      const controller = new AbortController();
      const { hit } = emulator.injectFault({ method: 'GET', action: { kind: 'hang' } });
      const pending = store.get(
        { customerId: newCustomer(), id: 'slow' },
        { abortSignal: controller.signal },
      );
      await hit;
      controller.abort();
      expect(await rejection(pending)).toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect(delays).toEqual([]);
    });

    it('sends low priority when asked, for background work', async () => {
      const store = await open({ retryPolicy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } });
      const { hit } = emulator.injectFault({ method: 'GET', action: { kind: 'status', status: 404 } });
      await store.get({ customerId: newCustomer(), id: 'any' }, { priority: 'low' });
      expect((await hit)['x-ms-cosmos-priority-level']).toBe('Low');
    });

    it('reports modelled request charges for the emulator, which has no real ones', async () => {
      const store = await open();
      const charges: Array<{ units: number; estimated: boolean }> = [];
      const onRequestCharge = (units: number, estimated: boolean): void =>
        void charges.push({ units, estimated });
      const large = makeDocument({ customerId: newCustomer(), metadata: { blob: 'x'.repeat(300 * 1024) } });
      await store.create(large, { onRequestCharge });
      await store.get(large, { onRequestCharge });
      const [write, read] = charges;
      expect(write?.estimated).toBe(true);
      // The published table: a ~300 KB document costs ~113 RU to write and ~24 RU to read.
      expect(write?.units).toBeGreaterThan(100);
      expect(write?.units).toBeLessThan(130);
      expect(read?.units).toBeGreaterThan(20);
      expect(read?.units).toBeLessThan(30);
      await store.delete(large, {});
    });

    it('rejects with UNAVAILABLE, retryable, once the emulator has stopped', async () => {
      const doomed = await startCosmosEmulator();
      const { delays, sleep } = recordingSleep();
      const store = await connect(doomed, { sleep });
      try {
        const document = makeDocument({ customerId: newCustomer() });
        await store.create(document);
        await store.ping();
        await doomed.stop();
        expect(await rejection(store.ping())).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
        expect(await rejection(store.get(document))).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
        // get() went through the adapter's retries before giving up; ping() answers at once.
        expect(delays).toHaveLength(DEFAULT_RETRY_POLICY.maxAttempts - 1);
      } finally {
        await store.close();
        await doomed.stop();
      }
    });

    it('checks readiness with one point read of an absent item, never a database (metadata) read', async () => {
      const store = await open();
      const databaseRead = emulator.injectFault({
        method: 'GET',
        path: /^\/dbs\/[^/]+\/?$/,
        action: { kind: 'status', status: 500 },
      });
      const itemRead = emulator.injectFault({
        method: 'GET',
        path: /\/docs\/__readiness-probe__$/,
        action: { kind: 'status', status: 404 },
      });
      const charges: number[] = [];
      await store.ping({ onRequestCharge: (units) => void charges.push(units) });
      expect(itemRead.hits()).toBe(1);
      expect(databaseRead.hits()).toBe(0);
      expect(charges).toEqual([1]);
    });

    it('rejects with UNAVAILABLE, not retryable, once closed', async () => {
      const store = await connect(emulator);
      await store.close();
      expect(await rejection(store.get({ customerId: 'c', id: 'r' }))).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: false,
      });
      expect(await rejection(store.ping())).toMatchObject({ code: 'UNAVAILABLE' });
    });
  });

  describe('writes whose answer was lost', () => {
    it('reports a create as done when the retry finds its own document', async () => {
      const { delays, sleep } = recordingSleep();
      const store = await open({ sleep });
      const document = makeDocument({ customerId: newCustomer() });
      emulator.injectFault({ method: 'POST', action: { kind: 'lose-response' } });
      const created = await store.create(document);
      expect(delays).toHaveLength(1);
      expect(await store.get(document)).toEqual(created);
    });

    it('still reports ALREADY_EXISTS when the retry finds someone else’s document', async () => {
      const { delays, sleep } = recordingSleep();
      const store = await open({ sleep });
      const document = makeDocument({ customerId: newCustomer() });
      await store.create(document);
      emulator.injectFault({ method: 'POST', action: { kind: 'status', status: 503 } });
      const clash = fullDocument({ ...document.record, invoiceNumber: 'OTHER' });
      expect(await rejection(store.create(clash))).toMatchObject({ code: 'ALREADY_EXISTS' });
      expect(delays).toHaveLength(1);
    });

    it('reports a conditional replace as done when the retry meets its own write (412)', async () => {
      const store = await open({ sleep: () => Promise.resolve() });
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      const v2 = fullDocument({ ...document.record, version: 2, status: 'paid' });
      emulator.injectFault({ method: 'PUT', action: { kind: 'lose-response' } });
      const replaced = await store.replace(v2, { ifMatch: created.etag });
      expect(replaced.etag).not.toBe(created.etag);
      expect(await store.get(document)).toEqual(replaced);
      // The original etag is stale now: a real conflict still answers PRECONDITION_FAILED.
      const v3 = fullDocument({ ...document.record, version: 3 });
      expect(await rejection(store.replace(v3, { ifMatch: created.etag }))).toMatchObject({
        code: 'PRECONDITION_FAILED',
      });
    });

    it('reports a delete as done when the retry finds the document gone', async () => {
      const store = await open({ sleep: () => Promise.resolve() });
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      emulator.injectFault({ method: 'DELETE', action: { kind: 'lose-response' } });
      await store.delete(document, { ifMatch: created.etag });
      expect(await store.get(document)).toBeUndefined();
    });
  });

  describe('list and scan answer like the SQLite reference adapter', () => {
    let cosmos: CosmosRecordStore;
    let sqlite: SqliteRecordStore;
    const customers = ['cust-a', 'cust-b'];

    beforeAll(async () => {
      // A container of its own: scans and counts cross partitions, and the emulator scans it all per query.
      cosmos = await open({ containerId: 'differential' });
      sqlite = new SqliteRecordStore({ path: ':memory:' });
      const documents: RecordDocument[] = [];
      for (let i = 0; i < 10; i++) {
        const record = makeRecord({
          customerId: customers[i % 2] ?? 'cust-a',
          id: `r-${String(i).padStart(2, '0')}`,
          // Repeated dates force the id tie-breaks in both orders.
          issuedAt: `2024-0${(i % 4) + 1}-01T00:00:00.000Z`,
          status: i % 3 === 0 ? 'paid' : 'issued',
          version: i + 1,
          // Shared by most records of both customers, stubs among them.
          ...(i % 3 !== 2 ? { invoiceNumber: 'INV-DIFF' } : {}),
        });
        documents.push(
          i % 4 === 1 ? makeStub(record) : fullDocument(record, i === 2 ? { pinned: true } : {}),
        );
      }
      for (const document of documents) {
        await cosmos.create(document);
        await sqlite.create(document);
      }
    });
    afterAll(async () => {
      await sqlite?.close();
    });

    async function listAll(store: RecordStore, request: Omit<ListRequest, 'after'>): Promise<string[][]> {
      const pages: string[][] = [];
      let after: ListRequest['after'];
      do {
        const page = await store.list({ ...request, ...(after !== undefined ? { after } : {}) });
        pages.push(page.items.map((item) => item.summary.id));
        after = page.next;
      } while (after !== undefined && pages.length < 20);
      return pages;
    }

    async function scanAll(store: RecordStore, request: Omit<ScanRequest, 'after'>): Promise<unknown[][]> {
      const pages: unknown[][] = [];
      let after: ScanRequest['after'];
      do {
        const page = await store.scan({ ...request, ...(after !== undefined ? { after } : {}) });
        pages.push(
          page.items.map(({ customerId, id, issuedAt, updatedAt, version, sys }) => ({
            customerId,
            id,
            issuedAt,
            updatedAt,
            version,
            sys,
          })),
        );
        after = page.next;
      } while (after !== undefined && pages.length < 20);
      return pages;
    }

    const listRequests: Array<Omit<ListRequest, 'after'>> = [
      { customerId: 'cust-a', limit: 2 },
      { customerId: 'cust-b', limit: 1 },
      { customerId: 'cust-a', limit: 100 },
      { customerId: 'cust-b', limit: 2, status: 'issued' },
      {
        customerId: 'cust-a',
        limit: 1,
        issuedFrom: '2024-02-01T00:00:00.000Z',
        issuedTo: '2024-04-01T00:00:00.000Z',
      },
      { customerId: 'cust-none', limit: 5 },
      { customerId: 'cust-b', limit: 1, invoiceNumber: 'INV-DIFF' },
      { customerId: 'cust-a', limit: 1, invoiceNumber: 'INV-DIFF', status: 'paid' },
      {
        customerId: 'cust-b',
        limit: 2,
        invoiceNumber: 'INV-DIFF',
        issuedFrom: '2024-02-01T00:00:00.000Z',
        issuedTo: '2024-04-01T00:00:00.000Z',
      },
      { customerId: 'cust-a', limit: 5, invoiceNumber: 'INV-NONE' },
    ];

    it.each(listRequests)('list %o', async (request) => {
      const expected = await listAll(sqlite, request);
      expect(await listAll(cosmos, request)).toEqual(expected);
    });

    const scanRequests: Array<Omit<ScanRequest, 'after'>> = [
      { tier: 'hot', limit: 3 },
      { tier: 'archived', limit: 1 },
      { tier: 'hot', limit: 2, issuedBefore: '2024-03-01T00:00:00.000Z' },
      { tier: 'hot', limit: 100, issuedFrom: '2024-02-01T00:00:00.000Z', customerId: 'cust-b' },
    ];

    it.each(scanRequests)('scan %o', async (request) => {
      const expected = await scanAll(sqlite, request);
      expect(expected.flat().length).toBeGreaterThan(0);
      expect(await scanAll(cosmos, request)).toEqual(expected);
    });

    it('scans with the store etag and write time, and filters on the write time', async () => {
      const page = await cosmos.scan({ tier: 'hot', limit: 100 });
      const first = page.items[0];
      expect(first).toBeDefined();
      if (first === undefined) return;
      expect(first.etag).toBe((await cosmos.get(first))?.etag);
      expect(Math.abs(first.modifiedAtMs - Date.now())).toBeLessThan(5 * 60_000);
      const sinceFirst = await cosmos.scan({ tier: 'hot', limit: 100, modifiedSinceMs: first.modifiedAtMs });
      expect(sinceFirst.items.map((item) => item.id)).toContain(first.id);
      const later = await cosmos.scan({
        tier: 'hot',
        limit: 100,
        modifiedSinceMs: first.modifiedAtMs + 3_600_000,
      });
      expect(later.items).toEqual([]);
    });

    it('counts documents by tier', async () => {
      const expected = await sqlite.countByTier();
      expect(await cosmos.countByTier()).toEqual({ hot: expected.hot, archived: expected.archived });
    });
  });
});

describe('Cosmos DB error mapping', () => {
  function responseError(status: number, fields: Partial<ErrorResponse> = {}): ErrorResponse {
    return Object.assign(new ErrorResponse(`Message: {"Errors":["status ${status}"]}\r\nActivityId: 1`), {
      code: status,
      ...fields,
    });
  }
  function networkError(code: string): Error {
    return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { name: 'RestError', code });
  }
  function timeoutError(): Error {
    return Object.assign(new Error('Timeout Error! Request took more than 10000 ms'), {
      name: 'TimeoutError',
      code: 'TimeoutError',
    });
  }

  const cases: Array<[string, unknown, ErrorCode, boolean, number | undefined]> = [
    ['429 with retryAfterInMs', responseError(429, { retryAfterInMs: 500 }), 'THROTTLED', true, 500],
    [
      '429 with only the header',
      responseError(429, { headers: { 'x-ms-retry-after-ms': '750' } }),
      'THROTTLED',
      true,
      750,
    ],
    ['429 without a retry-after', responseError(429), 'THROTTLED', true, undefined],
    ['408', responseError(408), 'TIMEOUT', true, undefined],
    ['503', responseError(503), 'UNAVAILABLE', true, undefined],
    ['500', responseError(500), 'UNAVAILABLE', true, undefined],
    ['449 retry with', responseError(449), 'UNAVAILABLE', true, undefined],
    ['413', responseError(413), 'RECORD_TOO_LARGE', false, undefined],
    ['401 wrong key', responseError(401), 'UNAVAILABLE', false, undefined],
    ['400 bad query', responseError(400), 'UNAVAILABLE', false, undefined],
    [
      'statusCode instead of code',
      { statusCode: 503, message: 'unavailable' },
      'UNAVAILABLE',
      true,
      undefined,
    ],
    ['ECONNREFUSED', networkError('ECONNREFUSED'), 'UNAVAILABLE', true, undefined],
    ['ECONNRESET', networkError('ECONNRESET'), 'UNAVAILABLE', true, undefined],
    ['SDK timeout', timeoutError(), 'TIMEOUT', true, undefined],
    ['abort', new DOMException('This operation was aborted', 'AbortError'), 'TIMEOUT', true, undefined],
    ['a bug', new TypeError('cannot read properties of undefined'), 'UNAVAILABLE', false, undefined],
  ];

  it.each(cases)('%s', (_name, error, code, retryable, retryAfterMs) => {
    const mapped = toAppError(error, 'read c/r');
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped).toMatchObject({ code, retryable, retryAfterMs });
    expect(mapped.cause).toBe(error);
    // One line naming the operation: no stack trace, no multi-line SDK diagnostics.
    expect(mapped.message).toMatch(/^read c\/r: [^\n\r]+$/);
  });

  it('returns an AppError unchanged', () => {
    const error = new AppError('NOT_FOUND', 'gone');
    expect(toAppError(error, 'read c/r')).toBe(error);
  });

  it('tells writes that may have been applied from those that were not', () => {
    const ambiguous = (error: unknown): boolean => isAmbiguousWriteFailure(toAppError(error, 'write'));
    expect(ambiguous(networkError('ECONNRESET'))).toBe(true);
    expect(ambiguous(timeoutError())).toBe(true);
    expect(ambiguous(responseError(503))).toBe(true);
    expect(ambiguous(networkError('ECONNREFUSED'))).toBe(false);
    expect(ambiguous(responseError(429))).toBe(false);
    expect(ambiguous(responseError(412))).toBe(false);
  });
});
