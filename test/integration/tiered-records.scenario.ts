// Records across tiers through the real composition root: loadConfig → openServices → the Fastify server,
// driven with inject(). The hot store is SQLite or Cosmos DB (@vercel/cosmosdb-server), the archive an
// in-memory Azurite started here, the cache in-process or Redis. The reads, writes and lists of issue 4
// run against both hot stores; the deployment helpers also serve the Redis and failure files.
import { TOMBSTONE_PREFIX } from '../../src/domain/tombstone.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedAzurite, startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import { loadOrCreateDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import type { RunReport } from '../../src/archival/run-reports.ts';
import { openServices, type OpenedServices } from '../../src/composition/open-services.ts';
import { type AppConfig, DEV_AUDIENCE, DEV_ISSUER, loadConfig } from '../../src/config/app-config.ts';
import type { ArchivePointer } from '../../src/domain/record-document.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import type { RecordStore, ScanPosition } from '../../src/ports/record-store.ts';

// ---------------------------------------------------------------------------------------------------
// Deployments

/** Settings that select a hot store, and how callers of that deployment get a token. */
export interface HotStoreSetup {
  readonly env: Readonly<Record<string, string>>;
  /** Signs a bearer token the deployment accepts; absent: the dev key pair in DATA_DIR/dev-auth. */
  readonly sign?: (roles: readonly string[]) => Promise<string>;
}

/** Prepares a fresh, empty hot store for a deployment whose data folder is `dataDir`. */
export type HotStoreFactory = (dataDir: string) => Promise<HotStoreSetup>;

/** The embedded default: SQLite under DATA_DIR, dev keys for auth. */
export const sqliteHotStore: HotStoreFactory = () => Promise.resolve({ env: {} });

export interface DeploymentOptions {
  readonly hotStore?: HotStoreFactory;
  /** Extra settings (REDIS_URL, REHYDRATE_AFTER_READS, ...). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Azurite keeps its data in DATA_DIR/azurite instead of memory, so `restartAzurite()` brings the same
   * blobs back on the same port (a Blob outage that ends).
   */
  readonly azuriteOnDisk?: boolean;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface CallOptions {
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Deployment {
  readonly config: AppConfig;
  readonly services: OpenedServices;
  readonly app: FastifyInstance;
  readonly dataDir: string;
  readonly azurite: EmbeddedAzurite;
  /** inject() with a bearer token for reads and writes; PATCH bodies go as merge patches. */
  call(method: Method, url: string, options?: CallOptions): Promise<LightMyRequestResponse>;
  /** Runs the archiver to the end as of AS_OF; throws unless the run succeeded without failures. */
  archive(): Promise<RunReport>;
  /** The sum of a Prometheus counter's samples in GET /metrics whose labels include `labels`. */
  counter(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
  /** Stops the in-process Azurite: Blob is down until `restartAzurite()`. */
  stopAzurite(): Promise<void>;
  /** Starts Azurite again on the same port and data (needs `azuriteOnDisk`). */
  restartAzurite(): Promise<void>;
  /** Closes the server and services, stops Azurite, removes the data folder; safe to call twice. */
  close(): Promise<void>;
}

/** Read and write, the roles every record call needs. */
const RECORD_ROLES = ['Billing.Read', 'Billing.Write'] as const;

const silent = pino({ level: 'silent' });

export async function openDeployment(options: DeploymentOptions = {}): Promise<Deployment> {
  const dataDir = mkdtempSync(join(tmpdir(), 'billing-integration-'));
  const cleanups: Array<() => Promise<void>> = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const failures: unknown[] = [];
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (error) {
          failures.push(error);
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
      if (failures.length > 0) throw new AggregateError(failures, 'closing the deployment failed');
    })());
  try {
    const azuriteFolder = join(dataDir, 'azurite');
    let azurite = await startEmbeddedAzurite({
      folder: azuriteFolder,
      port: 0,
      inMemory: options.azuriteOnDisk !== true,
    });
    const azuritePort = Number(new URL(azurite.blobEndpoint).port);
    let azuriteUp = true;
    cleanups.push(async () => {
      if (azuriteUp) await azurite.stop();
    });

    const hotStore = await (options.hotStore ?? sqliteHotStore)(dataDir);
    const config = loadConfig(
      {
        DATA_DIR: dataDir,
        BLOB_CONNECTION_STRING: azurite.connectionString,
        ARCHIVE_GRACE_PERIOD: 'P0D',
        ...hotStore.env,
        ...options.env,
      },
      dataDir,
    );
    const services = await openServices(config, silent);
    cleanups.push(() => services.close());
    const app = await buildHttpServer({ ...services.application, metrics: services.httpMetrics });
    cleanups.push(() => app.close());

    const sign =
      hotStore.sign ??
      (await (async () => {
        if (config.auth.kind !== 'dev-keys') throw new Error('a hot store without dev keys must sign tokens');
        const keys = await loadOrCreateDevKeyPair(config.auth.folder);
        return (roles: readonly string[]) =>
          keys.sign({
            subject: 'integration-test',
            roles,
            issuer: DEV_ISSUER,
            audience: DEV_AUDIENCE,
            expiresInSeconds: 3_600,
          });
      })());
    const bearer = `Bearer ${await sign(RECORD_ROLES)}`;

    return {
      config,
      services,
      app,
      dataDir,
      get azurite() {
        return azurite;
      },
      call(method, url, callOptions = {}) {
        const { body, headers = {} } = callOptions;
        return app.inject({
          method,
          url,
          headers: {
            authorization: bearer,
            ...(body !== undefined
              ? { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }
              : {}),
            ...headers,
          },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
      },
      async archive() {
        const report = await services.archival.run({ asOf: AS_OF });
        if (report.status !== 'succeeded' || report.counts.failed > 0) {
          throw new Error(`the archival run did not succeed: ${JSON.stringify(report)}`);
        }
        return report;
      },
      async counter(name, labels = {}) {
        const answer = await app.inject({ method: 'GET', url: '/metrics' });
        if (answer.statusCode !== 200) throw new Error(`GET /metrics answered ${answer.statusCode}`);
        return counterValue(answer.body, name, labels);
      },
      async stopAzurite() {
        azuriteUp = false;
        await azurite.stop();
      },
      async restartAzurite() {
        if (options.azuriteOnDisk !== true) throw new Error('an in-memory Azurite cannot come back');
        azurite = await startEmbeddedAzurite({ folder: azuriteFolder, port: azuritePort });
        azuriteUp = true;
      },
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** Sums the samples of `name` whose labels include every pair of `labels` (0 when there are none). */
export function counterValue(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]),
    );
    if (Object.entries(labels).every(([label, value]) => found.get(label) === value)) {
      total += Number(match[3]);
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------
// Records and what a caller sees of them

/** Every run evaluates eligibility as of this instant: past the one-day cool-down of anything written now. */
export const AS_OF = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
/** Issued well within ARCHIVE_AFTER (P3M) of AS_OF: never archived by these runs. */
export const RECENT_ISSUED_AT = new Date(Math.floor(Date.now() / 3600_000) * 3600_000).toISOString();

export type Status = 'draft' | 'issued' | 'paid' | 'void' | 'overdue';

export interface InputOptions {
  readonly issuedAt: string;
  readonly status?: Status;
  /** More line items make a larger record (and one that compresses well). */
  readonly lines?: number;
  /** Extra metadata entries; null leaves the optional metadata out. */
  readonly metadata?: Readonly<Record<string, string>> | null;
  readonly dueAt?: string;
  /** Defaults to `INV-{id}`. */
  readonly invoiceNumber?: string;
}

/** A valid client body for record `id`: totals add up, the billing period is the month of issuedAt. */
export function recordInput(id: string, options: InputOptions): Record<string, unknown> {
  // Fractional quantities and non-ASCII text: bytes that a careless round trip would change.
  const lineItems = Array.from({ length: options.lines ?? 3 }, (_, index) => {
    const quantity = 10 + index + (index % 2 === 0 ? 0.25 : 0);
    return {
      sku: `sku-${index % 4}`,
      description: `Compute hours for ${id}, line ${index + 1} – Zürich, 東京`,
      quantity,
      unitPriceMinor: 19,
      amountMinor: Math.round(quantity * 19),
    };
  });
  const subtotalMinor = lineItems.reduce((sum, item) => sum + item.amountMinor, 0);
  const taxMinor = Math.round(subtotalMinor / 10);
  return {
    id,
    invoiceNumber: options.invoiceNumber ?? `INV-${id}`,
    issuedAt: options.issuedAt,
    ...(options.dueAt !== undefined ? { dueAt: options.dueAt } : {}),
    billingPeriod: { start: `${options.issuedAt.slice(0, 7)}-01`, end: options.issuedAt.slice(0, 10) },
    currency: 'EUR',
    status: options.status ?? 'issued',
    lineItems,
    subtotalMinor,
    taxMinor,
    totalMinor: subtotalMinor + taxMinor,
    ...(options.metadata !== null ? { metadata: { region: 'westeurope', ...options.metadata } } : {}),
  };
}

export const recordUrl = (key: RecordKey): string =>
  `/api/v1/customers/${encodeURIComponent(key.customerId)}/billing-records/${encodeURIComponent(key.id)}`;

export function recordsUrl(customerId: string, query: Readonly<Record<string, string>> = {}): string {
  const search = new URLSearchParams(query).toString();
  return `/api/v1/customers/${encodeURIComponent(customerId)}/billing-records${search === '' ? '' : `?${search}`}`;
}

/** A record's GET as a client sees it: what must not change with the tier. */
export interface Snapshot {
  readonly body: string;
  readonly etag: string | undefined;
  readonly contentType: string | undefined;
}

export const snapshotOf = (answer: LightMyRequestResponse): Snapshot => ({
  body: answer.body,
  etag: header(answer, 'etag'),
  contentType: header(answer, 'content-type'),
});

export function header(answer: LightMyRequestResponse, name: string): string | undefined {
  const value = answer.headers[name];
  return value === undefined ? undefined : String(value);
}

/** Creates records through the API and answers each one's first GET. */
export async function createRecords(
  deployment: Deployment,
  customerId: string,
  records: ReadonlyArray<{ readonly id: string } & InputOptions>,
): Promise<Map<string, Snapshot>> {
  const snapshots = new Map<string, Snapshot>();
  for (const { id, ...options } of records) {
    const created = await deployment.call('POST', recordsUrl(customerId), { body: recordInput(id, options) });
    if (created.statusCode !== 201)
      throw new Error(`creating ${id} answered ${created.statusCode}: ${created.body}`);
    const read = await deployment.call('GET', recordUrl({ customerId, id }));
    if (read.statusCode !== 200) throw new Error(`reading ${id} answered ${read.statusCode}: ${read.body}`);
    expect(read.body).toBe(created.body);
    snapshots.set(id, snapshotOf(read));
  }
  return snapshots;
}

/** Where the hot store says the record is: what the API must not reveal, checked behind its back. */
export async function storedTier(
  deployment: Deployment,
  key: RecordKey,
): Promise<'hot' | 'archived' | 'absent'> {
  const stored = await deployment.services.ports.store.get(key);
  return stored === undefined ? 'absent' : stored.document.tier;
}

/** The archive pointer of an archived record (throws for a hot or absent one). */
export async function pointerOf(deployment: Deployment, key: RecordKey): Promise<ArchivePointer> {
  const stored = await deployment.services.ports.store.get(key);
  if (stored?.document.tier !== 'archived') {
    throw new Error(`${key.customerId}/${key.id} is ${stored?.document.tier ?? 'absent'}, not archived`);
  }
  return stored.document.archive;
}

/** Every page of a list query as raw bodies, following nextCursor. */
export async function listPages(
  deployment: Deployment,
  customerId: string,
  query: Readonly<Record<string, string>> = {},
): Promise<string[]> {
  const pages: string[] = [];
  let cursor: string | null = null;
  do {
    const answer = await deployment.call(
      'GET',
      recordsUrl(customerId, { ...query, ...(cursor !== null ? { cursor } : {}) }),
    );
    if (answer.statusCode !== 200) throw new Error(`listing answered ${answer.statusCode}: ${answer.body}`);
    pages.push(answer.body);
    cursor = (JSON.parse(answer.body) as { nextCursor: string | null }).nextCursor;
    if (pages.length > 100) throw new Error('the list never ends');
  } while (cursor !== null);
  return pages;
}

/** Every record blob in the archive container (the tombstones of deleted records beside them left out). */
export async function blobPaths(deployment: Deployment): Promise<string[]> {
  const paths: string[] = [];
  let continuation: string | undefined;
  do {
    const page = await deployment.services.ports.archive.list('', {
      pageSize: 500,
      ...(continuation !== undefined ? { continuation } : {}),
    });
    paths.push(...page.items.map((item) => item.path));
    continuation = page.continuation;
  } while (continuation !== undefined);
  return paths.filter((path) => !path.startsWith(TOMBSTONE_PREFIX));
}

/** The blob path of every stub in the hot store. */
export async function stubBlobPaths(deployment: Deployment): Promise<string[]> {
  const paths: string[] = [];
  let after: ScanPosition | undefined;
  do {
    const page = await deployment.services.ports.store.scan({
      tier: 'archived',
      limit: 200,
      ...(after !== undefined ? { after } : {}),
    });
    for (const item of page.items) {
      if (item.sys.archive === undefined)
        throw new Error(`stub ${item.customerId}/${item.id} has no pointer`);
      paths.push(item.sys.archive.blobPath);
    }
    after = page.next;
  } while (after !== undefined);
  return paths;
}

/**
 * Holds the first `method` call on record `id` before it reaches the store, until `release()`: a write
 * caught between its read and its write, so another request can run to the end in between.
 */
export function holdFirstWrite(
  store: RecordStore,
  method: 'replace' | 'delete',
  id: string,
): { readonly reached: Promise<void>; release(): void; restore(): void } {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const hold = async (recordId: string): Promise<void> => {
    if (held || recordId !== id) return;
    held = true;
    reach();
    await released;
  };
  const shadowed = Object.getOwnPropertyDescriptor(store, method);
  const replace = store.replace.bind(store);
  const remove = store.delete.bind(store);
  // Own properties shadow the adapter's methods on this one instance, which the services share.
  if (method === 'replace') {
    store.replace = async (document, condition, options) => {
      await hold(document.id);
      return replace(document, condition, options);
    };
  } else {
    store.delete = async (recordKey, condition, options) => {
      await hold(recordKey.id);
      return remove(recordKey, condition, options);
    };
  }
  return {
    reached,
    release,
    restore() {
      release();
      if (shadowed !== undefined) Object.defineProperty(store, method, shadowed);
      else Reflect.deleteProperty(store, method);
    },
  };
}

/** Waits for a held write to be reached, failing at once if its request ends without reaching it. */
export async function untilReached(
  reached: Promise<void>,
  request: Promise<LightMyRequestResponse>,
): Promise<void> {
  const ended = request.then((answer) => {
    throw new Error(`the request ended before its write: ${answer.statusCode} ${answer.body}`);
  });
  ended.catch(() => undefined);
  await Promise.race([reached, ended]);
}

/** A problem+json answer of a dependency outage: 503, Retry-After in seconds, no stack. */
export function expectOutage(answer: LightMyRequestResponse): void {
  expect(answer.statusCode, answer.body).toBe(503);
  expect(header(answer, 'content-type')).toMatch(/^application\/problem\+json/);
  expect(header(answer, 'retry-after')).toMatch(/^[1-9]\d*$/);
  expect(answer.json()).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  expect(answer.body).not.toMatch(/\bat .*\.(ts|js):\d+/);
}

// ---------------------------------------------------------------------------------------------------
// The scenario of points 1-3, for one hot store

export function describeTieredRecordsScenario(label: string, hotStore: HotStoreFactory): void {
  describe(`${label}: reads and writes of archived records through the API`, () => {
    const customerId = 'cust-tiers';
    const key = (id: string): RecordKey => ({ customerId, id });
    const url = (id: string): string => recordUrl(key(id));
    const OLD = '2024-05-14T09:30:00.000Z';
    const DELETE_RACES = 4;
    const archivedIds = [
      'read-1',
      'put-1',
      'patch-1',
      'delete-1',
      'if-match-race-1',
      'merge-race-1',
      ...Array.from({ length: DELETE_RACES }, (_, index) => `delete-race-${index + 1}`),
      'delete-during-patch',
      'patch-during-delete',
      'rewrite-put',
      'rewrite-merge',
      'rewrite-delete',
    ];
    let deployment: Deployment | undefined;
    let hot: Map<string, Snapshot>;
    const live = (): Deployment => {
      if (deployment === undefined) throw new Error('the deployment did not open');
      return deployment;
    };

    beforeAll(async () => {
      deployment = await openDeployment({ hotStore });
      hot = await createRecords(deployment, customerId, [
        ...archivedIds.map((id) => ({ id, issuedAt: OLD })),
        { id: 'recent-1', issuedAt: RECENT_ISSUED_AT },
      ]);
      const report = await deployment.archive();
      expect(report.counts.purged).toBe(archivedIds.length);
    });
    afterAll(() => deployment?.close());

    it('archived the old records to stubs and left the recent one hot', async () => {
      for (const id of archivedIds) expect(await storedTier(live(), key(id)), id).toBe('archived');
      expect(await storedTier(live(), key('recent-1'))).toBe('hot');
      const recent = await live().call('GET', url('recent-1'));
      expect(recent.statusCode).toBe(200);
      expect(header(recent, 'x-storage-tier')).toBe('hot');
      expect(snapshotOf(recent)).toEqual(hot.get('recent-1'));
    });

    it('answers an archived GET with the bytes and ETag of its hot GET: from the archive, then the cache', async () => {
      const d = live();
      const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
      const first = await d.call('GET', url('read-1'));
      expect(first.statusCode).toBe(200);
      expect(snapshotOf(first)).toEqual(hot.get('read-1'));
      expect(header(first, 'etag')).toBe('"1"');
      expect(header(first, 'x-storage-tier')).toBe('archive');
      expect(header(first, 'server-timing')).toMatch(/^archive;dur=\d+(\.\d+)?$/);
      expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads + 1);

      const second = await d.call('GET', url('read-1'));
      expect(second.statusCode).toBe(200);
      expect(snapshotOf(second)).toEqual(hot.get('read-1'));
      expect(header(second, 'x-storage-tier')).toBe('cache');
      expect(header(second, 'server-timing')).toMatch(/^cache;dur=\d+(\.\d+)?$/);
      expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads + 1);
    });

    it('answers 304 to If-None-Match with the ETag from before archival, and 200 to another ETag', async () => {
      const etag = hot.get('read-1')?.etag ?? '';
      const notModified = await live().call('GET', url('read-1'), { headers: { 'if-none-match': etag } });
      expect(notModified.statusCode).toBe(304);
      expect(header(notModified, 'etag')).toBe(etag);
      expect(notModified.body).toBe('');
      const other = await live().call('GET', url('read-1'), { headers: { 'if-none-match': '"7"' } });
      expect(other.statusCode).toBe(200);
      expect(other.body).toBe(hot.get('read-1')?.body);
    });

    it('PUT on an archived record brings it back and replaces it: version 2, then hot', async () => {
      const d = live();
      const before = JSON.parse(hot.get('put-1')?.body ?? '{}');
      const body = recordInput('put-1', {
        issuedAt: OLD,
        status: 'paid',
        lines: 2,
        metadata: { po: 'PO-9' },
      });
      // A stale If-Match is refused from the stub alone: nothing is brought back.
      const stale = await d.call('PUT', url('put-1'), { body, headers: { 'if-match': '"5"' } });
      expect(stale.statusCode).toBe(412);
      expect(await storedTier(d, key('put-1'))).toBe('archived');
      const put = await d.call('PUT', url('put-1'), { body, headers: { 'if-match': '"1"' } });
      expect(put.statusCode, put.body).toBe(200);
      expect(header(put, 'etag')).toBe('"2"');
      expect(put.json()).toMatchObject({
        version: 2,
        status: 'paid',
        createdAt: before.createdAt,
        metadata: { region: 'westeurope', po: 'PO-9' },
      });
      expect(put.json().lineItems).toHaveLength(2);
      const read = await d.call('GET', url('put-1'));
      expect(read.statusCode).toBe(200);
      expect(read.body).toBe(put.body);
      expect(header(read, 'etag')).toBe('"2"');
      expect(header(read, 'x-storage-tier')).toBe('hot');
      expect(await storedTier(d, key('put-1'))).toBe('hot');
    });

    it('PATCH on an archived record applies the patch to the archived content: version 2, then hot', async () => {
      const d = live();
      const before = JSON.parse(hot.get('patch-1')?.body ?? '{}');
      const patch = await d.call('PATCH', url('patch-1'), {
        body: { status: 'void', metadata: { note: 'x' } },
      });
      expect(patch.statusCode, patch.body).toBe(200);
      expect(header(patch, 'etag')).toBe('"2"');
      expect(patch.json()).toEqual({
        ...before,
        status: 'void',
        metadata: { ...before.metadata, note: 'x' },
        version: 2,
        updatedAt: patch.json().updatedAt,
      });
      const read = await d.call('GET', url('patch-1'));
      expect(read.body).toBe(patch.body);
      expect(header(read, 'x-storage-tier')).toBe('hot');
      expect(await storedTier(d, key('patch-1'))).toBe('hot');
    });

    it('DELETE on an archived record removes it: 204, then 404 and gone from the list', async () => {
      const d = live();
      const deleted = await d.call('DELETE', url('delete-1'), { headers: { 'if-match': '"1"' } });
      expect(deleted.statusCode, deleted.body).toBe(204);
      const read = await d.call('GET', url('delete-1'));
      expect(read.statusCode).toBe(404);
      expect(read.json()).toMatchObject({ code: 'NOT_FOUND' });
      expect(await storedTier(d, key('delete-1'))).toBe('absent');
      const ids = (await listPages(d, customerId, { limit: '100' })).flatMap((page) =>
        (JSON.parse(page) as { items: Array<{ id: string }> }).items.map((item) => item.id),
      );
      expect(ids).not.toContain('delete-1');
      expect(ids).toContain('read-1');
    });

    it('two concurrent PATCHes with the same If-Match on an archived record: one 200, one 412', async () => {
      const d = live();
      const answers = await Promise.all(
        (['paid', 'overdue'] as const).map((status) =>
          d.call('PATCH', url('if-match-race-1'), { body: { status }, headers: { 'if-match': '"1"' } }),
        ),
      );
      expect(answers.map((answer) => answer.statusCode).sort()).toEqual([200, 412]);
      const winner = answers.find((answer) => answer.statusCode === 200);
      const loser = answers.find((answer) => answer.statusCode === 412);
      expect(loser?.json()).toMatchObject({ code: 'PRECONDITION_FAILED' });
      const read = await d.call('GET', url('if-match-race-1'));
      expect(read.body).toBe(winner?.body);
      expect(read.json()).toMatchObject({ version: 2, status: winner?.json().status });
      expect(await storedTier(d, key('if-match-race-1'))).toBe('hot');
    });

    it('two concurrent PATCHes without If-Match on an archived record: both 200, versions 2 and 3, both changes kept', async () => {
      const d = live();
      const answers = await Promise.all([
        d.call('PATCH', url('merge-race-1'), { body: { status: 'paid' } }),
        d.call('PATCH', url('merge-race-1'), { body: { metadata: { approvedBy: 'ops' } } }),
      ]);
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      expect(answers.map((answer) => answer.json<{ version: number }>().version).sort()).toEqual([2, 3]);
      const read = await d.call('GET', url('merge-race-1'));
      expect(header(read, 'etag')).toBe('"3"');
      expect(read.json()).toMatchObject({
        version: 3,
        status: 'paid',
        metadata: { region: 'westeurope', approvedBy: 'ops' },
      });
      expect(read.body).toBe(
        answers.find((answer) => answer.json<{ version: number }>().version === 3)?.body,
      );
    });

    it('a DELETE racing a PATCH on an archived record: gone for good, or present with the patch', async () => {
      const d = live();
      const outcomes: Array<{ id: string; deleted: number; patched: LightMyRequestResponse }> = [];
      for (let index = 1; index <= DELETE_RACES; index++) {
        const id = `delete-race-${index}`;
        const [deleted, patched] = await Promise.all([
          d.call('DELETE', url(id)),
          d.call('PATCH', url(id), { body: { status: 'paid' } }),
        ]);
        outcomes.push({ id, deleted: deleted.statusCode, patched });
      }
      // The archiver and collector run between the race and the final reads: no stub may come back.
      await d.archive();
      await d.services.archival.collect({ safetyWindowMs: 0 });
      for (const { id, deleted, patched } of outcomes) {
        // A DELETE without If-Match cannot be refused, so the record must end gone; the PATCH either
        // went first (200, then deleted) or found nothing left (404), never a resurrected record.
        expect(deleted, id).toBe(204);
        expect([200, 404], id).toContain(patched.statusCode);
        const read = await d.call('GET', url(id));
        expect(read.statusCode, id).toBe(404);
        expect(await storedTier(d, key(id)), id).toBe('absent');
      }
    });

    it('a DELETE and a PATCH interleaved both ways on archived records: the last write wins, none is lost', async () => {
      const d = live();
      // The PATCH has read the stub and the blob when the DELETE runs to the end: the PATCH finds nothing.
      const patchWrite = holdFirstWrite(d.services.ports.store, 'replace', 'delete-during-patch');
      try {
        const patching = d.call('PATCH', url('delete-during-patch'), { body: { status: 'paid' } });
        await untilReached(patchWrite.reached, patching);
        expect((await d.call('DELETE', url('delete-during-patch'))).statusCode).toBe(204);
        patchWrite.release();
        expect((await patching).statusCode).toBe(404);
      } finally {
        patchWrite.restore();
      }
      expect((await d.call('GET', url('delete-during-patch'))).statusCode).toBe(404);
      expect(await storedTier(d, key('delete-during-patch'))).toBe('absent');

      // The DELETE has read the stub when the PATCH runs to the end: the DELETE, unconditional, comes last.
      const deleteWrite = holdFirstWrite(d.services.ports.store, 'delete', 'patch-during-delete');
      try {
        const deleting = d.call('DELETE', url('patch-during-delete'));
        await untilReached(deleteWrite.reached, deleting);
        const patched = await d.call('PATCH', url('patch-during-delete'), { body: { status: 'paid' } });
        expect(patched.statusCode, patched.body).toBe(200);
        expect(patched.json()).toMatchObject({ version: 2, status: 'paid' });
        deleteWrite.release();
        expect((await deleting).statusCode).toBe(204);
      } finally {
        deleteWrite.restore();
      }
      expect((await d.call('GET', url('patch-during-delete'))).statusCode).toBe(404);
      expect(await storedTier(d, key('patch-during-delete'))).toBe('absent');
      await d.archive();
      expect(await storedTier(d, key('patch-during-delete'))).toBe('absent');
    });

    it('a later run archives the new versions, the collector removes superseded blobs, and verify is clean', async () => {
      const d = live();
      const v1 = {
        put: (await pointerOf(d, key('rewrite-put'))).blobPath,
        merge: (await pointerOf(d, key('rewrite-merge'))).blobPath,
        deleted: (await pointerOf(d, key('rewrite-delete'))).blobPath,
        untouched: (await pointerOf(d, key('read-1'))).blobPath,
      };
      expect(v1.put).toMatch(/\/rewrite-put\/v1\.json\.gz$/);
      const put = await d.call('PUT', url('rewrite-put'), {
        body: recordInput('rewrite-put', { issuedAt: OLD, status: 'paid' }),
      });
      const merges = await Promise.all([
        d.call('PATCH', url('rewrite-merge'), { body: { status: 'overdue' } }),
        d.call('PATCH', url('rewrite-merge'), { body: { metadata: { dunning: '1' } } }),
      ]);
      const deleted = await d.call('DELETE', url('rewrite-delete'));
      expect([put, ...merges].map((answer) => answer.statusCode)).toEqual([200, 200, 200]);
      expect(deleted.statusCode).toBe(204);
      const latest = {
        put: snapshotOf(await d.call('GET', url('rewrite-put'))),
        merge: snapshotOf(await d.call('GET', url('rewrite-merge'))),
      };
      expect(latest.merge.etag).toBe('"3"');

      const report = await d.archive();
      expect(report.counts.purged).toBeGreaterThanOrEqual(2);
      const v2 = (await pointerOf(d, key('rewrite-put'))).blobPath;
      const v3 = (await pointerOf(d, key('rewrite-merge'))).blobPath;
      expect(v2).toBe(v1.put.replace(/v1\.json\.gz$/, 'v2.json.gz'));
      expect(v3).toBe(v1.merge.replace(/v1\.json\.gz$/, 'v3.json.gz'));
      for (const [id, snapshot] of [
        ['rewrite-put', latest.put],
        ['rewrite-merge', latest.merge],
      ] as const) {
        const read = await d.call('GET', url(id));
        expect(header(read, 'x-storage-tier'), id).toBe('archive');
        expect(snapshotOf(read), id).toEqual(snapshot);
      }
      // Superseded and orphaned blobs stay until the collector runs.
      const before = await blobPaths(d);
      expect(before).toEqual(expect.arrayContaining([v1.put, v1.merge, v1.deleted, v2, v3]));

      const collected = await d.services.archival.collect({ safetyWindowMs: 0 });
      expect(collected.deleted).toBeGreaterThanOrEqual(3);
      const after = await blobPaths(d);
      expect(after).not.toContain(v1.put);
      expect(after).not.toContain(v1.merge);
      expect(after).not.toContain(v1.deleted);
      expect(after).toEqual(expect.arrayContaining([v2, v3, v1.untouched]));
      // Invariant 3: after collection every blob is referenced by a stub, and every stub has its blob.
      expect([...after].sort()).toEqual([...(await stubBlobPaths(d))].sort());
      const verified = await d.services.archival.verify();
      expect(verified.mismatches).toEqual([]);
      expect(verified.checked).toBe(after.length);
    });
  });

  describe(`${label}: lists across tiers`, () => {
    const customerId = 'cust-list';
    const otherCustomer = 'cust-list-other';
    // One invoice number on two records that are archived and one that stays hot.
    const sharedInvoice = 'INV-2024/shared – Zürich';
    // Two records share an issuedAt, so paging must order by id within it.
    const records: ReadonlyArray<{ id: string } & InputOptions> = [
      { id: 'inv-a01', issuedAt: '2024-01-15T08:00:00.000Z', status: 'paid' },
      // About 190 KB of JSON: a large record, within the ~300 KB the design plans for.
      { id: 'inv-a02', issuedAt: '2024-02-15T08:00:00.000Z', status: 'issued', lines: 1500 },
      { id: 'inv-a03', issuedAt: '2024-03-15T08:00:00.000Z', status: 'paid' },
      {
        id: 'inv-a04',
        issuedAt: '2024-03-15T08:00:00.000Z',
        status: 'overdue',
        invoiceNumber: sharedInvoice,
      },
      { id: 'inv-a05', issuedAt: '2024-04-20T12:00:00.000Z', status: 'paid' },
      { id: 'inv-a06', issuedAt: '2024-06-01T00:00:00.000Z', status: 'void' },
      {
        id: 'inv-a07',
        issuedAt: '2024-08-31T23:59:59.000Z',
        status: 'paid',
        dueAt: '2024-09-30T00:00:00.000Z',
        invoiceNumber: sharedInvoice,
      },
      { id: 'inv-a08', issuedAt: '2024-11-05T10:00:00.000Z', status: 'issued', metadata: null },
      { id: 'inv-a09', issuedAt: '2024-12-10T10:00:00.000Z', status: 'draft' },
      { id: 'inv-r01', issuedAt: RECENT_ISSUED_AT, status: 'issued' },
      { id: 'inv-r02', issuedAt: RECENT_ISSUED_AT, status: 'paid', invoiceNumber: sharedInvoice },
      { id: 'inv-r03', issuedAt: RECENT_ISSUED_AT, status: 'draft' },
    ];
    const archived = records.filter((record) => record.id.startsWith('inv-a')).map((record) => record.id);
    // Never read before Azurite stops, so no cache can answer for it.
    const unread = 'inv-a05';
    const queries: ReadonlyArray<Readonly<Record<string, string>>> = [
      {},
      { limit: '4' },
      { limit: '1' },
      { status: 'paid', limit: '2' },
      { issuedFrom: '2024-03-01T00:00:00.000Z', issuedTo: '2024-09-01T00:00:00.000Z', limit: '3' },
      { invoiceNumber: sharedInvoice },
      { invoiceNumber: sharedInvoice, limit: '1' },
      { invoiceNumber: sharedInvoice, status: 'paid', issuedTo: '2024-12-01T00:00:00.000Z' },
      // The other customer has a record with this invoice number too (both are archived).
      { invoiceNumber: 'INV-inv-a01' },
    ];
    let deployment: Deployment | undefined;
    let hot: Map<string, Snapshot>;
    const before = new Map<string, string[]>();
    const live = (): Deployment => {
      if (deployment === undefined) throw new Error('the deployment did not open');
      return deployment;
    };

    beforeAll(async () => {
      deployment = await openDeployment({ hotStore });
      hot = await createRecords(deployment, customerId, records);
      await createRecords(deployment, otherCustomer, [
        { id: 'inv-a01', issuedAt: '2024-01-15T08:00:00.000Z' },
        { id: 'inv-o02', issuedAt: '2024-07-15T08:00:00.000Z' },
      ]);
      for (const query of queries)
        before.set(JSON.stringify(query), await listPages(deployment, customerId, query));
      const report = await deployment.archive();
      expect(report.counts.purged).toBe(archived.length + 2);
    });
    afterAll(() => deployment?.close());

    it('lists hot and archived records together: same pages, order, summaries and cursors as before', async () => {
      const d = live();
      for (const id of archived) expect(await storedTier(d, { customerId, id }), id).toBe('archived');
      expect(await storedTier(d, { customerId, id: 'inv-r01' })).toBe('hot');
      const all = JSON.parse(before.get('{}')?.[0] ?? '{}') as { items: Array<{ id: string }> };
      expect(all.items.map((item) => item.id)).toEqual([
        'inv-r03',
        'inv-r02',
        'inv-r01',
        'inv-a09',
        'inv-a08',
        'inv-a07',
        'inv-a06',
        'inv-a05',
        'inv-a04',
        'inv-a03',
        'inv-a02',
        'inv-a01',
      ]);
      expect(all.items[0]).not.toHaveProperty('lineItems');
      for (const query of queries) {
        expect(await listPages(d, customerId, query), JSON.stringify(query)).toEqual(
          before.get(JSON.stringify(query)),
        );
      }
    });

    it('continues a cursor issued before archival to the same next page', async () => {
      const [first, second] = before.get(JSON.stringify({ limit: '4' })) ?? [];
      const cursor = (JSON.parse(first ?? '{}') as { nextCursor: string }).nextCursor;
      expect(cursor).toEqual(expect.any(String));
      const answer = await live().call('GET', recordsUrl(customerId, { limit: '4', cursor }));
      expect(answer.statusCode).toBe(200);
      expect(answer.body).toBe(second);
    });

    it('looks records up by invoice number with the same answer before and after archival, from the stubs', async () => {
      const d = live();
      const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
      const [shared] = await listPages(d, customerId, { invoiceNumber: sharedInvoice });
      const items = (JSON.parse(shared ?? '{}') as { items: Array<{ id: string; invoiceNumber: string }> })
        .items;
      expect(items.map((item) => item.id)).toEqual(['inv-r02', 'inv-a07', 'inv-a04']);
      expect(items.every((item) => item.invoiceNumber === sharedInvoice)).toBe(true);
      expect(await storedTier(d, { customerId, id: 'inv-r02' })).toBe('hot');
      expect(await storedTier(d, { customerId, id: 'inv-a07' })).toBe('archived');
      expect(await storedTier(d, { customerId, id: 'inv-a04' })).toBe('archived');
      expect(shared).toBe(before.get(JSON.stringify({ invoiceNumber: sharedInvoice }))?.[0]);
      const paged = await listPages(d, customerId, { invoiceNumber: sharedInvoice, limit: '1' });
      expect(paged).toHaveLength(3);
      expect(paged).toEqual(before.get(JSON.stringify({ invoiceNumber: sharedInvoice, limit: '1' })));
      // A cursor issued before archival, on the hot record, continues to the archived one.
      const [first, second] = before.get(JSON.stringify({ invoiceNumber: sharedInvoice, limit: '1' })) ?? [];
      const cursor = (JSON.parse(first ?? '{}') as { nextCursor: string }).nextCursor;
      const continued = await d.call(
        'GET',
        recordsUrl(customerId, { invoiceNumber: sharedInvoice, limit: '1', cursor }),
      );
      expect(continued.statusCode).toBe(200);
      expect(continued.body).toBe(second);
      const [own] = await listPages(d, customerId, { invoiceNumber: 'INV-inv-a01' });
      expect(
        (JSON.parse(own ?? '{}') as { items: Array<{ customerId: string; id: string }> }).items.map(
          (item) => `${item.customerId}/${item.id}`,
        ),
      ).toEqual([`${customerId}/inv-a01`]);
      expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads);
    });

    it('reads every archived record back with its pre-archival bytes and ETag', async () => {
      for (const id of archived.filter((candidate) => candidate !== unread)) {
        const answer = await live().call('GET', recordUrl({ customerId, id }));
        expect(answer.statusCode, id).toBe(200);
        expect(header(answer, 'x-storage-tier'), id).toBe('archive');
        expect(snapshotOf(answer), id).toEqual(hot.get(id));
      }
    });

    it('lists without reading Blob: with Azurite stopped the list answers, an uncached archived read is 503', async () => {
      const d = live();
      const blobReads = await d.counter('archived_reads_total', { source: 'archive' });
      for (const query of queries) await listPages(d, customerId, query);
      expect(await d.counter('archived_reads_total', { source: 'archive' })).toBe(blobReads);

      await d.stopAzurite();
      for (const query of queries) {
        expect(await listPages(d, customerId, query), JSON.stringify(query)).toEqual(
          before.get(JSON.stringify(query)),
        );
      }
      expectOutage(await d.call('GET', recordUrl({ customerId, id: unread })));
      const hotRead = await d.call('GET', recordUrl({ customerId, id: 'inv-r02' }));
      expect(hotRead.statusCode).toBe(200);
      expect(snapshotOf(hotRead)).toEqual(hot.get('inv-r02'));
      // A record read before the outage is still served, from the cache.
      const cached = await d.call('GET', recordUrl({ customerId, id: 'inv-a01' }));
      expect(cached.statusCode).toBe(200);
      expect(header(cached, 'x-storage-tier')).toBe('cache');
      expect(snapshotOf(cached)).toEqual(hot.get('inv-a01'));
    });
  });
}
