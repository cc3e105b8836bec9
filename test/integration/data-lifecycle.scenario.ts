// Issue 14 through the real composition and the HTTP routes, on either hot store: the embedded default
// (SQLite, the file archive) and Cosmos DB (@vercel/cosmosdb-server, the in-process Azurite). Retention
// and erasure delete from every tier and audit each deletion; holds stop both; export streams what is
// left; and after the hot store is lost, a rebuild from the archive alone serves every archived record
// again byte-identical while deleted and erased records stay 404. The files per hot store say how a
// deployment is set up, how it signs tokens and how its hot store is lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import { openServices, type OpenedServices } from '../../src/composition/open-services.ts';
import { type AppConfig, DEV_AUDIENCE, DEV_ISSUER, loadConfig } from '../../src/config/app-config.ts';
import type { JobReport } from '../../src/jobs/job-service.ts';
import { parseArchivePath } from '../../src/domain/archive-artifact.ts';
import { makeInput } from '../support/record-fixtures.ts';

/** How one kind of deployment is set up, signs its tokens and loses its hot store. */
export interface LifecycleHotStore {
  readonly label: string;
  /** Settings of a fresh deployment whose data folder is `dataDir` (a Cosmos database of its own, ...). */
  env(dataDir: string): Promise<Record<string, string>>;
  /** A bearer token with every role for `subject`; absent: the dev key pair in DATA_DIR/dev-auth. */
  sign?(subject: string): Promise<string>;
  /** Loses every document of the hot store (the deployment is closed): the file, or the container. */
  loseHotStore(dataDir: string, config: AppConfig): Promise<void>;
}

const silent = pino({ level: 'silent' });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies read loosely in assertions
type Json = any;
const AS_OF = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface Deployment {
  readonly config: AppConfig;
  readonly services: OpenedServices;
  call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<{ statusCode: number; body: string; headers: Record<string, unknown>; json<T = Json>(): T }>;
  /** Runs archival as of AS_OF and asserts it archived something. */
  archive(): Promise<void>;
  job(url: string, body?: unknown): Promise<JobReport>;
  blobPaths(): Promise<string[]>;
  close(): Promise<void>;
}

const OPERATOR = 'lifecycle-operator';

async function open(
  hotStore: LifecycleHotStore,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<Deployment> {
  const config = loadConfig(
    { DATA_DIR: dataDir, ARCHIVE_GRACE_PERIOD: 'P0D', ...(await hotStore.env(dataDir)), ...env },
    dataDir,
  );
  const services = await openServices(config, silent);
  const app = await buildHttpServer({ ...services.application, metrics: services.httpMetrics });
  const bearer = `Bearer ${await (hotStore.sign?.(OPERATOR) ?? signWithDevKeys(config))}`;
  const call: Deployment['call'] = (method, url, body) =>
    app.inject({
      method,
      url,
      headers: {
        authorization: bearer,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
  return {
    config,
    services,
    call,
    async archive() {
      const report = await services.archival.run({ asOf: AS_OF });
      expect(report.status).toBe('succeeded');
    },
    async job(url, body = {}) {
      const started = await call('POST', url, body);
      expect(started.statusCode, started.body).toBe(202);
      return services.jobs.waitFor(started.json().jobId);
    },
    async blobPaths() {
      const paths: string[] = [];
      let continuation: string | undefined;
      do {
        const page = await services.ports.archive.list('', {
          pageSize: 1000,
          ...(continuation ? { continuation } : {}),
        });
        paths.push(...page.items.map((item) => item.path));
        continuation = page.continuation;
      } while (continuation !== undefined);
      return paths;
    },
    async close() {
      await app.close();
      await services.close();
    },
  };
}

async function signWithDevKeys(config: AppConfig): Promise<string> {
  if (config.auth.kind !== 'dev-keys') throw new Error('expected dev keys, or a sign() of the hot store');
  const keys = await loadOrCreateDevKeyPair(config.auth.folder);
  return keys.sign({
    subject: OPERATOR,
    roles: ['Billing.Read', 'Billing.Write', 'Billing.Admin'],
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    expiresInSeconds: 3_600,
  });
}

const recordUrl = (customerId: string, id: string) => `/api/v1/customers/${customerId}/billing-records/${id}`;

async function create(d: Deployment, customerId: string, id: string, issuedAt: string) {
  const created = await d.call(
    'POST',
    `/api/v1/customers/${customerId}/billing-records`,
    makeInput({ id, issuedAt }),
  );
  expect(created.statusCode, created.body).toBe(201);
}

function exportLines(response: { statusCode: number; body: string }): string[] {
  expect(response.statusCode).toBe(200);
  return response.body.split('\n').filter((line) => line !== '');
}

function newDataDir(name: string): string {
  const folder = mkdtempSync(join(tmpdir(), `billing-lifecycle-${name}-`));
  folders.push(folder);
  return folder;
}

export function describeDataLifecycleScenario(hotStore: LifecycleHotStore): void {
  describe(`retention on ${hotStore.label}`, () => {
    it('deletes expired records from every tier, keeps held ones, audits each deletion, and is incremental', async () => {
      const d = await open(hotStore, newDataDir('retention'), { RETENTION_PERIOD: 'P2Y' });
      try {
        // Expired: issued 2022; kept: issued 2025.
        await create(d, 'cust-a', 'old-hot', '2022-03-01T00:00:00.000Z');
        await create(d, 'cust-a', 'old-arch', '2022-01-01T00:00:00.000Z');
        await create(d, 'cust-a', 'old-held', '2022-02-01T00:00:00.000Z');
        await create(d, 'cust-a', 'recent', '2025-06-01T00:00:00.000Z');
        await create(d, 'cust-h', 'old-customer-held', '2022-02-01T00:00:00.000Z');
        // Pinned: stays hot, so retention meets one full document and one stub.
        expect(
          (await d.call('PUT', '/api/v1/admin/customers/cust-a/billing-records/old-hot/pin')).statusCode,
        ).toBe(200);
        await d.archive();
        expect((await d.blobPaths()).filter((path) => path.includes('/old-arch/'))).toHaveLength(1);
        // A superseded version: old-arch written (rehydrated, v2) and archived again.
        expect(
          (
            await d.call(
              'PUT',
              recordUrl('cust-a', 'old-arch'),
              makeInput({ id: 'old-arch', issuedAt: '2022-01-01T00:00:00.000Z' }),
            )
          ).statusCode,
        ).toBe(200);
        await d.archive();
        expect((await d.blobPaths()).filter((path) => path.includes('/old-arch/'))).toHaveLength(2);
        expect(
          (
            await d.call('PUT', `/api/v1/admin/customers/cust-a/billing-records/old-held/legal-hold`, {
              reason: 'audit 2026',
            })
          ).statusCode,
        ).toBe(200);
        expect(
          (await d.call('PUT', `/api/v1/admin/customers/cust-h/legal-hold`, { reason: 'litigation' }))
            .statusCode,
        ).toBe(200);

        const dry = await d.job('/api/v1/admin/retention/runs', { dryRun: true, asOf: AS_OF });
        expect(dry).toMatchObject({
          kind: 'retention',
          status: 'succeeded',
          dryRun: true,
          counts: { candidates: 4, deleted: 2, held: 2 },
        });
        expect((await d.call('GET', recordUrl('cust-a', 'old-hot'))).statusCode).toBe(200);

        const run = await d.job('/api/v1/admin/retention/runs', { reason: 'policy R-7' });
        expect(run).toMatchObject({
          status: 'succeeded',
          counts: {
            candidates: 4,
            deleted: 2,
            held: 2,
            stubs: 1,
            hotDocuments: 1,
            blobs: 2,
            cacheEntries: 1,
            // old-arch's migration history (the purge keeps the entry; retention removes it).
            ledgerEntries: 1,
            tombstones: 2,
            failed: 0,
          },
        });
        for (const id of ['old-hot', 'old-arch'])
          expect((await d.call('GET', recordUrl('cust-a', id))).statusCode).toBe(404);
        const list = (await d.call('GET', '/api/v1/customers/cust-a/billing-records')).json();
        expect(list.items.map((item: { id: string }) => item.id).sort()).toEqual(['old-held', 'recent']);
        const exported = (await d.call('GET', '/api/v1/admin/customers/cust-a/export')).body
          .trim()
          .split('\n');
        expect(exported.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual([
          'old-held',
          'recent',
        ]);
        expect(await d.services.ports.store.countByTier()).toMatchObject({ hot: 0, archived: 3 });
        // Blobs of the deleted record are gone (both versions); tombstones stand in their place.
        const paths = await d.blobPaths();
        expect(paths.filter((path) => path.includes('/old-arch/'))).toEqual([]);
        expect(paths).toContain('tombstones/cust-a/old-arch.json');
        expect(await d.services.ports.ledger.get({ customerId: 'cust-a', id: 'old-arch' })).toBeUndefined();
        const audit = await d.services.audit.query({ action: 'record.delete', limit: 50 });
        expect(audit.items.map((event) => [event.recordId, event.actor.sub])).toEqual([
          ['old-hot', OPERATOR],
          ['old-arch', OPERATOR],
        ]);
        expect(audit.items[0]!.reason).toMatch(
          /^retention: issued before .* \(RETENTION_PERIOD P2Y\); policy R-7$/,
        );

        // Incremental: the next run starts past the watermark and reads nothing again.
        const again = await d.job('/api/v1/admin/retention/runs');
        expect(again.counts).toMatchObject({ candidates: 0, deleted: 0 });
        // A released hold is found by a sweep.
        expect((await d.call('DELETE', `/api/v1/admin/customers/cust-h/legal-hold`)).statusCode).toBe(204);
        const sweep = await d.job('/api/v1/admin/retention/runs', { sweep: true });
        expect(sweep.counts).toMatchObject({ candidates: 2, deleted: 1, held: 1 });
        expect((await d.call('GET', recordUrl('cust-h', 'old-customer-held'))).statusCode).toBe(404);
      } finally {
        await d.close();
      }
    });

    it('refuses a run with 409 RETENTION_DISABLED when RETENTION_PERIOD is empty, and changes nothing', async () => {
      const d = await open(hotStore, newDataDir('retention-off'));
      try {
        await create(d, 'cust-a', 'old', '2001-01-01T00:00:00.000Z');
        const refused = await d.call('POST', '/api/v1/admin/retention/runs', {});
        expect(refused.statusCode).toBe(409);
        expect(refused.json().code).toBe('RETENTION_DISABLED');
        expect((await d.call('GET', recordUrl('cust-a', 'old'))).statusCode).toBe(200);
      } finally {
        await d.close();
      }
    });
  });

  describe(`erasure and rebuild on ${hotStore.label}`, () => {
    it('erases a customer (refused while held), and a rebuild after the hot store is lost restores every archived record and nothing deleted', async () => {
      const dataDir = newDataDir('rebuild');
      const d = await open(hotStore, dataDir);
      const archivedIds = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
      const snapshots = new Map<string, { body: string; etag: unknown }>();
      let exportedBefore: string[] | undefined;
      try {
        for (const [i, id] of archivedIds.entries())
          await create(d, 'cust-k', id, `2024-0${1 + (i % 3)}-10T00:00:00.000Z`);
        await create(d, 'cust-k', 'hot-only', new Date().toISOString());
        for (const id of ['e1', 'e2', 'e3']) await create(d, 'cust-e', id, '2024-02-01T00:00:00.000Z');
        await create(d, 'cust-e', 'e-hot', new Date().toISOString());
        await d.archive();
        // a2 gets a second version (archived again: v1 superseded); a3 is deleted through the API;
        // a4 is held, a5 pinned; one of cust-e's records is held, which blocks its erasure.
        expect(
          (
            await d.call(
              'PUT',
              recordUrl('cust-k', 'a2'),
              makeInput({ id: 'a2', issuedAt: '2024-02-10T00:00:00.000Z' }),
            )
          ).statusCode,
        ).toBe(200);
        await d.archive();
        expect((await d.call('DELETE', recordUrl('cust-k', 'a3'))).statusCode).toBe(204);
        expect(
          (
            await d.call('PUT', '/api/v1/admin/customers/cust-k/billing-records/a4/legal-hold', {
              reason: 'case 9',
            })
          ).statusCode,
        ).toBe(200);
        expect(
          (await d.call('PUT', '/api/v1/admin/customers/cust-k/billing-records/a5/pin')).statusCode,
        ).toBe(200);
        expect(
          (
            await d.call('PUT', '/api/v1/admin/customers/cust-e/billing-records/e2/legal-hold', {
              reason: 'case 10',
            })
          ).statusCode,
        ).toBe(200);

        const refused = await d.call('POST', '/api/v1/admin/customers/cust-e/erasure', {});
        expect(refused.statusCode).toBe(409);
        expect(refused.json().code).toBe('LEGAL_HOLD');
        expect((await d.call('GET', recordUrl('cust-e', 'e1'))).statusCode).toBe(200);
        expect(
          (await d.call('DELETE', '/api/v1/admin/customers/cust-e/billing-records/e2/legal-hold')).statusCode,
        ).toBe(200);
        const dry = await d.job('/api/v1/admin/customers/cust-e/erasure', { dryRun: true });
        expect(dry.counts).toMatchObject({ candidates: 4, deleted: 4, blobs: 0 });
        const erasure = await d.job('/api/v1/admin/customers/cust-e/erasure', { reason: 'GDPR request 123' });
        expect(erasure).toMatchObject({
          kind: 'erasure',
          status: 'succeeded',
          counts: { deleted: 4, stubs: 3, hotDocuments: 1, blobs: 3, tombstones: 4 },
        });
        for (const id of ['e1', 'e2', 'e3', 'e-hot'])
          expect((await d.call('GET', recordUrl('cust-e', id))).statusCode).toBe(404);
        expect(
          (await d.blobPaths()).filter((path) => parseArchivePath(path)?.customerId === 'cust-e'),
        ).toEqual([]);

        for (const id of archivedIds.filter((id) => id !== 'a3')) {
          const read = await d.call('GET', recordUrl('cust-k', id));
          expect(read.statusCode).toBe(200);
          expect(read.headers['x-storage-tier']).not.toBe('hot');
          snapshots.set(id, { body: read.body, etag: read.headers.etag });
        }
        exportedBefore = exportLines(await d.call('GET', '/api/v1/admin/customers/cust-k/export'));
      } finally {
        await d.close();
      }

      // The hot store is lost.
      await hotStore.loseHotStore(dataDir, d.config);
      const r = await open(hotStore, dataDir);
      try {
        expect((await r.call('GET', recordUrl('cust-k', 'a1'))).statusCode).toBe(404);
        const dry = await r.services.rebuild.run({ dryRun: true }, { actor: { sub: 'test', roles: [] } });
        expect(dry.counts).toMatchObject({ restored: 5, tombstoned: 1 });
        expect((await r.call('GET', recordUrl('cust-k', 'a1'))).statusCode).toBe(404);
        const report = await r.services.rebuild.run({}, { actor: { sub: 'test', roles: [] } });
        expect(report).toMatchObject({
          kind: 'rebuild',
          status: 'succeeded',
          counts: { restored: 5, tombstoned: 1, failed: 0 },
        });
        for (const [id, snapshot] of snapshots) {
          const read = await r.call('GET', recordUrl('cust-k', id));
          expect(read.statusCode, id).toBe(200);
          expect(read.body).toBe(snapshot.body);
          expect(read.headers.etag).toBe(snapshot.etag);
        }
        for (const [customerId, id] of [
          ['cust-k', 'a3'],
          ['cust-e', 'e1'],
          ['cust-e', 'e2'],
          ['cust-e', 'e3'],
        ] as const)
          expect((await r.call('GET', recordUrl(customerId, id))).statusCode, id).toBe(404);
        // The export after the rebuild: what it was, less the record that was only hot.
        const exportedAfter = exportLines(await r.call('GET', '/api/v1/admin/customers/cust-k/export'));
        expect(exportedAfter).toEqual(exportedBefore?.filter((line) => !line.includes('"id":"hot-only"')));
        expect(exportedAfter).toHaveLength(5);
        // Hot-only records are outside the archive's reach (point-in-time restore protects them).
        expect((await r.call('GET', recordUrl('cust-k', 'hot-only'))).statusCode).toBe(404);
        // Hold and pin state came back with the stubs.
        const held = await r.call('DELETE', recordUrl('cust-k', 'a4'));
        expect(held.statusCode).toBe(409);
        expect(held.json().code).toBe('LEGAL_HOLD');
        const pinned = await r.services.ports.store.get({ customerId: 'cust-k', id: 'a5' });
        expect(pinned?.document.sys.pinned).toBe(true);
        // A second rebuild finds everything current.
        const again = await r.services.rebuild.run({}, { actor: { sub: 'test', roles: [] } });
        expect(again.counts).toMatchObject({ restored: 0, current: 5, tombstoned: 1 });
      } finally {
        await r.close();
      }
    });
  });
}
