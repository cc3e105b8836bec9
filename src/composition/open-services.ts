// The composition root: turns the validated config into adapters, use cases and the API
// application. Everything it opens, it closes, in reverse order, even when opening fails halfway.
import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import { Counter, Registry } from 'prom-client';
import { startEmbeddedAzurite } from '../adapters/azurite/embedded-azurite.ts';
import { BlobArchiveStore } from '../adapters/blob/blob-archive-store.ts';
import { CosmosRecordStore } from '../adapters/cosmos/cosmos-record-store.ts';
import { loadOrCreateDevKeyPair } from '../adapters/dev-identity/dev-key-pair.ts';
import { LruMemoryCache } from '../adapters/lru/lru-memory-cache.ts';
import { RedisCache } from '../adapters/redis/redis-cache.ts';
import { SqliteRecordStore } from '../adapters/sqlite/sqlite-record-store.ts';
import { type ApiApplication, createApiApplication } from '../api/api-application.ts';
import { createTokenVerifier, type TokenVerifier } from '../api/authentication.ts';
import { createHttpMetrics, type HttpMetrics } from '../api/http-metrics.ts';
import type { ApiServices, ReadinessReport } from '../api/route-definition.ts';
import type { AppConfig } from '../config/app-config.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { Cache } from '../ports/cache.ts';
import type { RecordStore } from '../ports/record-store.ts';
import { RecordService } from '../records/record-service.ts';
import { systemClock } from './system-clock.ts';

export interface OpenedServices {
  readonly application: ApiApplication;
  readonly metrics: HttpMetrics;
  readonly recordStore: RecordStore;
  readonly archiveStore: ArchiveStore;
  readonly cache: Cache;
  readonly records: RecordService;
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
    const recordStore = await openRecordStore(config, description);
    closers.push(() => recordStore.close());
    const archiveStore = await openArchiveStore(config, description, closers);
    closers.push(() => archiveStore.close());

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
    description.push(
      config.cache.kind === 'redis'
        ? `Cache: Redis at ${redactUrl(config.cache.url)}`
        : 'Cache: in-process LRU',
    );

    const verifyToken = await openTokenVerifier(config, description);
    const records = new RecordService({ store: recordStore, clock: systemClock });
    const services: ApiServices = {
      records,
      readiness: () => readiness(recordStore, archiveStore, cache),
      async metricsText() {
        return { contentType: registry.contentType, body: await registry.metrics() };
      },
    };
    return {
      application: createApiApplication(services, verifyToken),
      metrics,
      recordStore,
      archiveStore,
      cache,
      records,
      description,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function openRecordStore(config: AppConfig, description: string[]): Promise<RecordStore> {
  const hot = config.hotStore;
  if (hot.kind === 'sqlite') {
    description.push(`Hot store: SQLite at ${hot.path}`);
    return new SqliteRecordStore({ path: hot.path });
  }
  description.push(
    `Hot store: Cosmos DB at ${hot.endpoint} (database ${hot.database}, container ${hot.container})`,
  );
  return CosmosRecordStore.connect({
    endpoint: hot.endpoint,
    databaseId: hot.database,
    containerId: hot.container,
    ...(hot.key !== undefined ? { key: hot.key } : {}),
    allowInsecureTls: hot.allowInsecureTls,
  });
}

async function openArchiveStore(
  config: AppConfig,
  description: string[],
  closers: Array<() => Promise<void>>,
): Promise<ArchiveStore> {
  const archive = config.archive;
  if (archive.kind === 'azurite') {
    const azurite = await startEmbeddedAzurite({ folder: archive.folder, port: archive.port });
    closers.push(() => azurite.stop());
    description.push(`Archive: Azurite (Blob) at ${azurite.blobEndpoint}, data in ${archive.folder}`);
    return BlobArchiveStore.connect({
      connectionString: azurite.connectionString,
      containerName: archive.container,
    });
  }
  if ('connectionString' in archive) {
    description.push(`Archive: Blob Storage (connection string), container ${archive.container}`);
    return BlobArchiveStore.connect({
      connectionString: archive.connectionString,
      containerName: archive.container,
    });
  }
  description.push(`Archive: Blob Storage at ${archive.accountUrl}, container ${archive.container}`);
  return BlobArchiveStore.connect({ accountUrl: archive.accountUrl, containerName: archive.container });
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
    return createTokenVerifier({
      keys: { jwks: JSON.parse(readFileSync(auth.path, 'utf8')) as never },
      ...common,
    });
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
