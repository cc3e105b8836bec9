// An API wired to real adapters in memory (SQLite :memory:), an ephemeral signing key and a
// manual clock, driven through Fastify's inject(): no socket.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createEphemeralDevKeyPair, type DevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { LruMemoryCache } from '../../src/adapters/lru/lru-memory-cache.ts';
import { MemoryArchiveStore } from '../fakes/memory-archive-store.ts';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import { SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import type { ArchivalService } from '../../src/archival/archival-service.ts';
import { apiServices } from '../../src/composition/open-services.ts';
import { createServiceMetrics } from '../../src/composition/service-metrics.ts';
import { type Alerting, startAlerting } from '../../src/composition/alerting.ts';
import { createMetricsPipeline, type MetricsPipeline } from '../../src/composition/telemetry.ts';
import { loadAlertRules } from '../../src/alerts/alert-rules.ts';
import { wireServices, type WiredServices } from '../../src/composition/wire-services.ts';
import type { ArchivalPolicy } from '../../src/domain/archival-policy.ts';
import { policyOf, silentLogger } from './archival-harness.ts';
import { type ApiApplication, createApiApplication } from '../../src/api/api-application.ts';
import { createTokenVerifier } from '../../src/api/authentication.ts';
import { createHttpMetrics, type HttpMetrics } from '../../src/api/http-metrics.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import type { ArchivalRunQueue } from '../../src/ports/archival-run-queue.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';
import type { AuditLog } from '../../src/ports/audit-log.ts';
import type { Cache } from '../../src/ports/cache.ts';
import { createRateLimiter, type RateLimitSettings } from '../../src/api/rate-limits.ts';
import { ManualClock } from '../fakes/manual-clock.ts';

export const TEST_ISSUER = 'urn:test:issuer';
export const TEST_AUDIENCE = 'api://test';

export interface ApiHarness {
  readonly test: TestApplication;
  readonly app: FastifyInstance;
  readonly store: RecordStore;
  readonly clock: ManualClock;
  readonly keys: DevKeyPair;
  readonly token: (roles?: readonly string[], customerIds?: readonly string[]) => Promise<string>;
  /** inject() with a bearer token for the given roles (default read + write). */
  call(options: InjectOptions & { roles?: readonly string[] }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestApplication {
  readonly application: ApiApplication;
  readonly metrics: HttpMetrics;
  readonly telemetry: MetricsPipeline;
  readonly alerting: Alerting;
  readonly store: RecordStore;
  readonly archive: MemoryArchiveStore;
  readonly ledger: SqliteArchiveLedger;
  readonly archival: ArchivalService;
  /** Every use case, as the composition wires them. */
  readonly wired: WiredServices;
  readonly clock: ManualClock;
  readonly keys: DevKeyPair;
  readonly token: (roles?: readonly string[], customerIds?: readonly string[]) => Promise<string>;
}

/** The shared application (route table, pipeline, services) over real in-memory adapters, with no edge. */
export interface TestApplicationOptions {
  readonly store?: RecordStore;
  readonly policy?: ArchivalPolicy;
  /** Deterministic ids for records created without one (a counter), so two runs answer the same bytes. */
  readonly deterministicIds?: boolean;
  /** As under Azure Functions: admin-started runs are queued here instead of running in process. */
  readonly runQueue?: ArchivalRunQueue;
  /** The audit trail's store; a private SQLite log in memory when absent. */
  readonly audit?: AuditLog;
  /** The shared cache (a real Redis); an LRU cache in memory when absent. */
  readonly cache?: Cache;
  /** Rate limits (counted in the harness's LRU cache); none when absent. */
  readonly rateLimits?: RateLimitSettings;
}

export async function createTestApplication(options: TestApplicationOptions = {}): Promise<TestApplication> {
  let idSequence = 0;
  const clock = new ManualClock();
  const store =
    options.store ?? new SqliteRecordStore({ path: ':memory:', nowMs: () => clock.now().getTime() });
  const keys = await createEphemeralDevKeyPair();
  const telemetry = createMetricsPipeline();
  const serviceMetrics = createServiceMetrics(telemetry.meter);
  const metrics = createHttpMetrics(serviceMetrics.httpRequestDuration);
  const archive = new MemoryArchiveStore({ clock });
  const ledger = new SqliteArchiveLedger({ path: ':memory:' });
  const cache = options.cache ?? new LruMemoryCache({ maxBytes: 16 * 1024 * 1024 });
  const wired = wireServices(
    {
      store,
      ledger,
      archive,
      control: new MemoryControlStore(clock),
      cache,
      ...(options.runQueue !== undefined ? { runQueue: options.runQueue } : {}),
      ...(options.audit !== undefined ? { audit: options.audit } : {}),
    },
    {
      clock,
      log: silentLogger,
      policy: options.policy ?? policyOf(),
      metrics: serviceMetrics,
      ...(options.deterministicIds === true ? { newId: () => `rec-${++idSequence}` } : {}),
    },
  );
  const { archival } = wired;
  const alerting = startAlerting({
    rules: loadAlertRules(),
    reader: telemetry.reader,
    clock,
    log: silentLogger,
    intervalMs: 15_000,
    timer: false,
  });
  const services = apiServices(wired, telemetry, alerting);
  const verifier = createTokenVerifier({
    keys: { jwks: keys.jwks },
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
  });
  const application = createApiApplication(services, verifier, {
    clock,
    onAuthDenied: (reason) => serviceMetrics.authDenied.add(1, { reason }),
    ...(options.rateLimits !== undefined
      ? { rateLimiter: createRateLimiter(cache, clock, options.rateLimits) }
      : {}),
  });
  const token = (
    roles: readonly string[] = ['Billing.Read', 'Billing.Write'],
    customerIds?: readonly string[],
  ) =>
    keys.sign({
      subject: 'test-user',
      roles,
      ...(customerIds !== undefined ? { customerIds } : {}),
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      expiresInSeconds: 600,
    });
  return {
    application,
    metrics,
    telemetry,
    alerting,
    wired,
    store,
    archive,
    ledger,
    archival,
    clock,
    keys,
    token,
  };
}

/** One answer as a client sees it: what must not differ between tiers. */
export interface LoggedResponse {
  readonly request: string;
  readonly status: number;
  readonly etag: string | undefined;
  readonly location: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
}

export interface ApiHarnessOptions extends TestApplicationOptions {
  /** Before every call, archive and purge every record old enough as of ten years ahead (grace P0D). */
  readonly archiveBeforeEachCall?: boolean;
  /** Every call's answer is appended here. */
  readonly responses?: LoggedResponse[];
}

export async function startApiHarness(options: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const test = await createTestApplication(options);
  const { store, clock, keys, token } = test;
  const app = await buildHttpServer({ ...test.application, metrics: test.metrics });
  return {
    test,
    app,
    store,
    clock,
    keys,
    token,
    async call({ roles, headers, ...rest }) {
      if (options.archiveBeforeEachCall === true) {
        const asOf = new Date(clock.now().getTime() + 3650 * 24 * 3600_000).toISOString();
        const report = await test.archival.run({ asOf });
        if (report.status !== 'succeeded')
          throw new Error(`archival before the call did not succeed: ${JSON.stringify(report)}`);
      }
      const authorization = `Bearer ${await token(roles)}`;
      const response = await app.inject({ ...rest, headers: { authorization, ...headers } });
      options.responses?.push({
        request: `${rest.method ?? 'GET'} ${typeof rest.url === 'string' ? rest.url : JSON.stringify(rest.url)}`,
        status: response.statusCode,
        etag: response.headers.etag as string | undefined,
        location: response.headers.location as string | undefined,
        contentType: response.headers['content-type'] as string | undefined,
        body: response.body,
      });
      return response;
    },
    async close() {
      await app.close();
      await store.close();
    },
  };
}
