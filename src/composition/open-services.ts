// The composition root: turns the validated config into adapters, use cases and the API
// application. Everything it opens, it closes, in reverse order, even when opening fails halfway.
import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import { Counter, Registry } from 'prom-client';
import { shareOrStartEmbeddedAzurite } from '../adapters/azurite/embedded-azurite.ts';
import { BlobArchiveStore } from '../adapters/blob/blob-archive-store.ts';
import { BlobControlStore } from '../adapters/blob/blob-control-store.ts';
import { CosmosArchiveLedger } from '../adapters/cosmos/cosmos-archive-ledger.ts';
import type { CosmosConnectionOptions } from '../adapters/cosmos/cosmos-connection.ts';
import { CosmosRecordStore } from '../adapters/cosmos/cosmos-record-store.ts';
import { loadOrCreateDevKeyPair } from '../adapters/dev-identity/dev-key-pair.ts';
import { LruMemoryCache } from '../adapters/lru/lru-memory-cache.ts';
import { RedisCache } from '../adapters/redis/redis-cache.ts';
import { SqliteArchiveLedger } from '../adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteRecordStore } from '../adapters/sqlite/sqlite-record-store.ts';
import { ArchivalService } from '../archival/archival-service.ts';
import { buildCostReport, type CostReport } from '../costs/cost-report.ts';
import { type ApiApplication, createApiApplication } from '../api/api-application.ts';
import { createTokenVerifier, type TokenVerifier } from '../api/authentication.ts';
import { createHttpMetrics, type HttpMetrics } from '../api/http-metrics.ts';
import type { ApiServices, ReadinessReport } from '../api/route-definition.ts';
import { type AppConfig, ConfigError } from '../config/app-config.ts';
import type { JSONWebKeySet } from 'jose';
import type { ArchivalPolicy } from '../domain/archival-policy.ts';
import type { ArchiveLedger } from '../ports/archive-ledger.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { Cache } from '../ports/cache.ts';
import type { RecordStore } from '../ports/record-store.ts';
import { ArchivedRecordReader } from '../records/archived-record-reader.ts';
import { ReadSpikeDetector } from '../records/read-spike-detector.ts';
import { RecordService } from '../records/record-service.ts';
import { systemClock } from './system-clock.ts';

export interface OpenedServices {
  readonly application: ApiApplication;
  readonly metrics: HttpMetrics;
  readonly recordStore: RecordStore;
  readonly ledger: ArchiveLedger;
  readonly archiveStore: ArchiveStore;
  readonly controlStore: ArchivalControlStore;
  readonly cache: Cache;
  readonly records: RecordService;
  readonly archival: ArchivalService;
  costReport(): Promise<CostReport>;
  /** One line per part, for the start banner. */
  readonly description: readonly string[];
  close(): Promise<void>;
}

export async function openServices(config: AppConfig, logger: Logger): Promise<OpenedServices> {
  const closers: Array<() => Promise<void>> = [];
  const description: string[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (error) {
        logger.warn({ err: error }, 'error while closing');
      }
    }
  };
  try {
    // Auth first: a bad AUTH_* setting stops the start before any store is opened.
    const verifyToken = await openTokenVerifier(config, description);
    const { recordStore, ledger } = await openHotStores(config, description, closers);
    const { archiveStore, controlStore } = await openArchiveStores(config, description, closers);

    const registry = new Registry();
    const metrics = createHttpMetrics(registry);
    const cacheErrors = new Counter({
      name: 'cache_errors_total',
      help: 'Cache operations that failed open (served from the store instead)',
      labelNames: ['operation'] as const,
      registers: [registry],
    });
    const onCacheError = (operation: string, error: unknown): void => {
      cacheErrors.inc({ operation });
      logger.debug({ err: error, operation }, 'cache failed open');
    };
    const cache: Cache =
      config.cache.kind === 'redis'
        ? new RedisCache(config.cache.url, { onError: onCacheError })
        : new LruMemoryCache({ maxBytes: config.cache.maxBytes });
    closers.push(() => cache.close());
    const archivedReads = new Counter({
      name: 'archived_reads_total',
      help: 'Reads of archived records, by where the body came from',
      labelNames: ['source'] as const,
      registers: [registry],
    });
    const integrityFailures = new Counter({
      name: 'archive_integrity_failures_total',
      help: 'Archived blobs that failed their sha256 check (never served; run `archive verify`)',
      registers: [registry],
    });
    description.push(
      config.cache.kind === 'redis'
        ? `Cache: Redis at ${redactUrl(config.cache.url)}`
        : 'Cache: in-process LRU',
    );

    const reader = new ArchivedRecordReader({
      archive: archiveStore,
      cache,
      cacheTtlMs: config.cache.ttlMs,
      decodedCacheBytes: config.cache.decodedMaxBytes,
      events: {
        onBlobRead: () => archivedReads.inc({ source: 'archive' }),
        onCacheHit: () => archivedReads.inc({ source: 'cache' }),
        onIntegrityFailure: (stub, error) => {
          integrityFailures.inc();
          logger.error(
            { customerId: stub.customerId, recordId: stub.id, blobPath: stub.archive.blobPath, err: error },
            'archived blob failed its integrity check',
          );
        },
      },
    });
    const archival = new ArchivalService({
      store: recordStore,
      ledger,
      archive: archiveStore,
      control: controlStore,
      clock: systemClock,
      policy: archivalPolicy(config),
      log: logger.child({ component: 'archival' }),
      reader,
      collectorSafetyWindowMs: config.archival.collectorSafetyWindowMs,
      settings: {
        batchSize: config.archival.batchSize,
        concurrency: config.archival.concurrency,
        timeBudgetMs: config.archival.timeBudgetMs,
        requestUnitsPerSecond: config.archival.requestUnitsPerSecond,
      },
    });
    closers.push(() => archival.shutdown());
    const spikeRehydrations = new Counter({
      name: 'spike_rehydrations_total',
      help: 'Archived records brought back hot because they were read often',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    const records = new RecordService({
      store: recordStore,
      clock: systemClock,
      archive: reader,
      readSpikes: {
        detector: new ReadSpikeDetector(
          { threshold: config.archival.rehydrateAfterReads, windowMs: config.archival.rehydrateWindowMs },
          systemClock,
          config.cache.kind === 'redis' ? cache : undefined,
        ),
        rehydrate: async (key) => {
          await archival.rehydrate(key);
          spikeRehydrations.inc({ outcome: 'rehydrated' });
        },
        onError: (key, error) => {
          spikeRehydrations.inc({ outcome: 'failed' });
          logger.warn(
            { customerId: key.customerId, recordId: key.id, err: error },
            'background rehydration failed',
          );
        },
      },
    });
    closers.push(() => records.whenIdle());
    const costReport = (): Promise<CostReport> =>
      buildCostReport(
        { store: recordStore, archive: archiveStore, control: controlStore },
        {
          ...config.cost,
          archiveAfterMonths: config.archival.after.months + 12 * config.archival.after.years,
        },
        systemClock.now(),
      );
    const services: ApiServices = {
      records,
      archival,
      costReport,
      readiness: () => readiness(recordStore, archiveStore, cache),
      async metricsText() {
        return { contentType: registry.contentType, body: await registry.metrics() };
      },
    };
    return {
      application: createApiApplication(services, verifyToken),
      metrics,
      recordStore,
      ledger,
      archiveStore,
      controlStore,
      cache,
      records,
      archival,
      costReport,
      description,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export function archivalPolicy(config: AppConfig): ArchivalPolicy {
  return {
    archiveAfter: config.archival.after,
    gracePeriod: config.archival.gracePeriod,
    coolDown: config.archival.coolDown,
  };
}

/** The records and the archive ledger live side by side: one SQLite file, or one Cosmos database. */
async function openHotStores(
  config: AppConfig,
  description: string[],
  closers: Array<() => Promise<void>>,
): Promise<{ recordStore: RecordStore; ledger: ArchiveLedger }> {
  const hot = config.hotStore;
  if (hot.kind === 'sqlite') {
    description.push(`Hot store: SQLite at ${hot.path}`);
    const recordStore = new SqliteRecordStore({ path: hot.path });
    closers.push(() => recordStore.close());
    const ledger = new SqliteArchiveLedger({ path: hot.path });
    closers.push(() => ledger.close());
    return { recordStore, ledger };
  }
  description.push(
    `Hot store: Cosmos DB at ${hot.endpoint} (database ${hot.database}, containers ${hot.container}, ${hot.ledgerContainer})`,
  );
  const connection: CosmosConnectionOptions = {
    endpoint: hot.endpoint,
    databaseId: hot.database,
    ...(hot.key !== undefined ? { key: hot.key } : {}),
    allowInsecureTls: hot.allowInsecureTls,
  };
  const recordStore = await CosmosRecordStore.connect({ ...connection, containerId: hot.container });
  closers.push(() => recordStore.close());
  const ledger = await CosmosArchiveLedger.connect({ ...connection, containerId: hot.ledgerContainer });
  closers.push(() => ledger.close());
  return { recordStore, ledger };
}

/** The archive (Cold tier) and the archiver's control documents (Hot tier), in two containers of one account. */
async function openArchiveStores(
  config: AppConfig,
  description: string[],
  closers: Array<() => Promise<void>>,
): Promise<{ archiveStore: ArchiveStore; controlStore: ArchivalControlStore }> {
  const archive = config.archive;
  let account: { connectionString: string } | { accountUrl: string };
  if (archive.kind === 'azurite') {
    const azurite = await shareOrStartEmbeddedAzurite({ folder: archive.folder, port: archive.port });
    closers.push(() => azurite.stop());
    description.push(
      `Archive: Azurite (Blob) at ${azurite.blobEndpoint}, data in ${archive.folder}${azurite.shared ? ' (shared with the running server)' : ''}`,
    );
    account = { connectionString: azurite.connectionString };
  } else if ('connectionString' in archive) {
    description.push(
      `Archive: Blob Storage (connection string), containers ${archive.container}, ${archive.controlContainer}`,
    );
    account = { connectionString: archive.connectionString };
  } else {
    description.push(
      `Archive: Blob Storage at ${archive.accountUrl}, containers ${archive.container}, ${archive.controlContainer}`,
    );
    account = { accountUrl: archive.accountUrl };
  }
  const archiveStore = await BlobArchiveStore.connect({
    ...account,
    containerName: archive.container,
  });
  closers.push(() => archiveStore.close());
  const controlStore = await BlobControlStore.connect({
    ...account,
    containerName: archive.controlContainer,
  });
  closers.push(() => controlStore.close());
  return { archiveStore, controlStore };
}

async function openTokenVerifier(config: AppConfig, description: string[]): Promise<TokenVerifier> {
  const auth = config.auth;
  const common = { issuer: auth.issuer, audience: auth.audience };
  if (auth.kind === 'dev-keys') {
    const keys = await loadOrCreateDevKeyPair(auth.folder);
    description.push(`Auth: dev key pair in ${auth.folder} (npm run token -- --role Billing.Admin)`);
    return createTokenVerifier({ keys: { jwks: keys.jwks }, ...common });
  }
  if (auth.kind === 'jwks-file') {
    description.push(`Auth: JWKS file ${auth.path}`);
    return createTokenVerifier({ keys: { jwks: readJwksFile(auth.path) }, ...common });
  }
  description.push(`Auth: JWKS at ${auth.uri}`);
  return createTokenVerifier({ keys: { jwksUri: auth.uri }, ...common });
}

async function readiness(store: RecordStore, archive: ArchiveStore, cache: Cache): Promise<ReadinessReport> {
  const up = (promise: Promise<unknown>): Promise<'up' | 'down'> =>
    promise.then(
      () => 'up' as const,
      () => 'down' as const,
    );
  const [hotStore, archiveState, cacheState] = await Promise.all([
    up(store.ping()),
    up(archive.ping()),
    cache.healthy().then((ok) => (ok ? ('up' as const) : ('down' as const))),
  ]);
  // The cache fails open: a cache outage slows archived reads but does not make the service unready.
  return {
    ready: hotStore === 'up' && archiveState === 'up',
    checks: { hotStore, archive: archiveState, cache: cacheState },
  };
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** A JWKS file that cannot be used is a configuration error that names its setting. */
function readJwksFile(path: string): JSONWebKeySet {
  try {
    const jwks = JSON.parse(readFileSync(path, 'utf8')) as { keys?: unknown };
    if (!Array.isArray(jwks.keys)) throw new Error('it has no "keys" array');
    return jwks as JSONWebKeySet;
  } catch (error) {
    throw new ConfigError([
      `AUTH_JWKS_PATH must name a readable JWKS file with a "keys" array (${path}: ${(error as Error).message})`,
    ]);
  }
}
