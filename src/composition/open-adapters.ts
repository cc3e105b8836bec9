// Opening the adapters the configuration names: the hot store and ledger (SQLite or Cosmos DB), the
// archive and control store (files and SQLite in the data folder, embedded Azurite, or Blob Storage), the cache (in-process LRU or Redis)
// and the token verifier; or the same adapters over clients the caller already holds. Everything opened is closed, in reverse order, even when opening fails halfway.
import type { Logger } from 'pino';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobArchiveStore } from '../adapters/blob/blob-archive-store.ts';
import { BlobAuditLog } from '../adapters/blob/blob-audit-log.ts';
import { SqliteAuditLog } from '../adapters/sqlite/sqlite-audit-log.ts';
import { BlobControlStore } from '../adapters/blob/blob-control-store.ts';
import { FileArchiveStore } from '../adapters/files/file-archive-store.ts';
import { CosmosArchiveLedger } from '../adapters/cosmos/cosmos-archive-ledger.ts';
import type { CosmosConnectionOptions } from '../adapters/cosmos/cosmos-connection.ts';
import { CosmosRecordStore } from '../adapters/cosmos/cosmos-record-store.ts';
import { loadOrCreateDevKeyPair } from '../adapters/dev-identity/dev-key-pair.ts';
import { LruMemoryCache } from '../adapters/lru/lru-memory-cache.ts';
import { StorageRunQueue } from '../adapters/queue/storage-run-queue.ts';
import { RedisCache } from '../adapters/redis/redis-cache.ts';
import { SqliteArchiveLedger } from '../adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteControlStore } from '../adapters/sqlite/sqlite-control-store.ts';
import { SqliteRecordStore } from '../adapters/sqlite/sqlite-record-store.ts';
import { createTokenVerifier, type TokenVerifier } from '../api/authentication.ts';
import { type AppConfig, ConfigError } from '../config/app-config.ts';
import type { ArchiveLedger } from '../ports/archive-ledger.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { ArchivalRunQueue } from '../ports/archival-run-queue.ts';
import type { AuditLog } from '../ports/audit-log.ts';
import type { Cache, CacheErrorListener } from '../ports/cache.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { RecordProfile } from '../domain/record-profile.ts';
import type { Container } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import type { Redis } from 'ioredis';

export interface OpenedAdapters {
  readonly store: RecordStore;
  readonly ledger: ArchiveLedger;
  readonly archive: ArchiveStore;
  readonly control: ArchivalControlStore;
  readonly cache: Cache;
  /** Under Azure Functions only: where admin-started archival runs wait for their queue trigger. */
  readonly runQueue?: ArchivalRunQueue;
  readonly audit: AuditLog;
  /** One line per part, for the start banner. */
  readonly description: readonly string[];
  close(): Promise<void>;
}

export async function openAdapters(
  config: AppConfig,
  logger: Logger,
  hooks: AdapterHooks = {},
): Promise<OpenedAdapters> {
  const closers: Array<() => Promise<void>> = [];
  const description: string[] = [];
  const close = closeInReverse(closers, logger);
  try {
    const { recordStore, ledger } = await openHotStores(config, description, closers, hooks.profile);
    const { archiveStore, controlStore, account } = await openArchiveStores(config, description, closers);
    const audit = await openAuditLog(config, account, description, closers);
    const cache = openCache(config.cache, logger, hooks);
    closers.push(() => cache.close());
    description.push(
      config.cache.kind === 'redis'
        ? `Cache: Redis at ${redactUrl(config.cache.url)}${config.cache.entraObjectId !== undefined ? ' (Entra ID)' : ''}`
        : 'Cache: in-process LRU',
    );
    const runQueue = await openRunQueue(config, description, closers);
    return {
      store: recordStore,
      ledger,
      archive: archiveStore,
      control: controlStore,
      cache,
      ...(runQueue !== undefined ? { runQueue } : {}),
      audit,
      description,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The containers and client an existing service already holds; the library works inside them. */
export interface ReadyClients {
  /** The records, partitioned by /customerId. */
  readonly records: Container;
  /** The archive ledger, partitioned by /customerId (the archiver's small bookkeeping documents). */
  readonly ledger: Container;
  /** The archive (Cold tier). */
  readonly archive: ContainerClient;
  /** The archiver's control documents: checkpoints, leases, run reports, holds. */
  readonly control: ContainerClient;
  /** The audit trail's append blobs (put it under a time-based immutability policy). */
  readonly audit: ContainerClient;
  /** The shared cache of archived reads; without it, the in-process LRU of the settings. */
  readonly redis?: Redis;
}

/**
 * Adapters over clients the caller opened (its credentials, its retry settings): nothing is created in
 * Cosmos DB, and closing closes the adapters, never the caller's clients.
 */
export async function openClientAdapters(
  clients: ReadyClients,
  config: Pick<AppConfig, 'cache'>,
  logger: Logger,
  hooks: AdapterHooks = {},
): Promise<OpenedAdapters> {
  const closers: Array<() => Promise<void>> = [];
  const close = closeInReverse(closers, logger);
  try {
    const store = await CosmosRecordStore.fromContainer(clients.records, hooks.profile);
    closers.push(() => store.close());
    const ledger = await CosmosArchiveLedger.fromContainer(clients.ledger);
    closers.push(() => ledger.close());
    const archive = await BlobArchiveStore.connect({ containerClient: clients.archive });
    closers.push(() => archive.close());
    const control = await BlobControlStore.connect({ containerClient: clients.control });
    closers.push(() => control.close());
    const audit = await BlobAuditLog.connect({ containerClient: clients.audit });
    closers.push(() => audit.close());
    const cache = openCache(config.cache, logger, hooks, clients.redis);
    closers.push(() => cache.close());
    const name = (container: { readonly containerName: string }) => container.containerName;
    return {
      store,
      ledger,
      archive,
      control,
      cache,
      audit,
      description: [
        `Hot store: Cosmos DB container ${clients.records.database.id}/${clients.records.id} (ledger ${clients.ledger.id}), the caller's client`,
        `Archive: Blob containers ${name(clients.archive)}, ${name(clients.control)} (audit ${name(clients.audit)}), the caller's clients`,
        clients.redis !== undefined ? "Cache: Redis, the caller's client" : `Cache: ${config.cache.kind}`,
      ],
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface AdapterHooks {
  onCacheError?: (operation: string, error: unknown) => void;
  /** What the hot store's documents are (the billing record when absent): the stores query its fields. */
  profile?: RecordProfile;
}

/** Redis (the caller's client, or REDIS_URL), else the in-process LRU. */
function openCache(settings: AppConfig['cache'], logger: Logger, hooks: AdapterHooks, client?: Redis): Cache {
  const onError = (operation: Parameters<CacheErrorListener>[0], error: unknown): void => {
    hooks.onCacheError?.(operation, error);
    logger.debug({ err: error, operation }, 'cache failed open');
  };
  if (client !== undefined) return new RedisCache(client, { onError });
  if (settings.kind === 'memory') return new LruMemoryCache({ maxBytes: settings.maxBytes });
  return new RedisCache(settings.url, {
    onError,
    ...(settings.entraObjectId !== undefined ? { entraAuth: redisEntraAuth(settings.entraObjectId) } : {}),
  });
}

function closeInReverse(closers: Array<() => Promise<void>>, logger: Logger): () => Promise<void> {
  return async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (error) {
        logger.warn({ err: error }, 'error while closing');
      }
    }
  };
}

/** Under Functions, the Storage queue admin-started runs go through; elsewhere none (they run in process). */
async function openRunQueue(
  config: AppConfig,
  description: string[],
  closers: Array<() => Promise<void>>,
): Promise<ArchivalRunQueue | undefined> {
  const queue = config.functions.runQueue;
  if (queue === undefined) return undefined;
  const opened = await StorageRunQueue.connect(
    queue.kind === 'service-uri'
      ? { queueServiceUrl: queue.serviceUrl, queueName: queue.name }
      : { connectionString: queue.connectionString, queueName: queue.name },
  );
  closers.push(() => opened.close());
  description.push(`Archival runs: queue ${queue.name}`);
  return opened;
}

/** The records and the archive ledger live side by side: one SQLite file, or one Cosmos database. */
async function openHotStores(
  config: AppConfig,
  description: string[],
  closers: Array<() => Promise<void>>,
  profile: RecordProfile | undefined,
): Promise<{ recordStore: RecordStore; ledger: ArchiveLedger }> {
  const withProfile = profile !== undefined ? { profile } : {};
  const hot = config.hotStore;
  if (hot.kind === 'sqlite') {
    description.push(`Hot store: SQLite at ${hot.path}`);
    const recordStore = new SqliteRecordStore({ path: hot.path, ...withProfile });
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
  const recordStore = await CosmosRecordStore.connect({
    ...connection,
    containerId: hot.container,
    ...withProfile,
  });
  closers.push(() => recordStore.close());
  const ledger = await CosmosArchiveLedger.connect({ ...connection, containerId: hot.ledgerContainer });
  closers.push(() => ledger.close());
  return { recordStore, ledger };
}

/**
 * The archive (Cold tier) and the archiver's control documents (Hot tier): in two containers of one
 * account, or, embedded, in the archive folder.
 */
async function openArchiveStores(
  config: AppConfig,
  description: string[],
  closers: Array<() => Promise<void>>,
): Promise<{
  archiveStore: ArchiveStore;
  controlStore: ArchivalControlStore;
  /** The Blob account, when the archive is in one (the audit trail's append blobs go beside it). */
  account: BlobAccount | undefined;
}> {
  const archive = config.archive;
  if (archive.kind === 'files') {
    description.push(`Archive: files in ${archive.folder} (blobs/ gzip, index.sqlite, control.sqlite)`);
    const archiveStore = new FileArchiveStore({ folder: archive.folder });
    closers.push(() => archiveStore.close());
    const controlStore = new SqliteControlStore({ path: join(archive.folder, 'control.sqlite') });
    closers.push(() => controlStore.close());
    return { archiveStore, controlStore, account: undefined };
  }
  let account: BlobAccount;
  if (archive.kind === 'azurite') {
    const azurite = await (
      await loadEmbeddedAzurite()
    ).shareOrStartEmbeddedAzurite({ folder: archive.folder, port: archive.port });
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
    ...(archive.kind === 'blob' && archive.legalHolds === true ? { legalHolds: true } : {}),
  });
  closers.push(() => archiveStore.close());
  const controlStore = await BlobControlStore.connect({
    ...account,
    containerName: archive.controlContainer,
  });
  closers.push(() => controlStore.close());
  return { archiveStore, controlStore, account };
}

type BlobAccount = { connectionString: string } | { accountUrl: string };

/** The audit trail beside the data: SQLite in the data folder (embedded), append blobs with Blob Storage. */
async function openAuditLog(
  config: AppConfig,
  account: BlobAccount | undefined,
  description: string[],
  closers: Array<() => Promise<void>>,
): Promise<AuditLog> {
  const target = config.audit;
  if (target.kind === 'sqlite') {
    description.push(`Audit: SQLite at ${target.path}`);
    const log = new SqliteAuditLog({ path: target.path });
    closers.push(() => log.close());
    return log;
  }
  if (account === undefined) throw new Error('the audit trail in Blob Storage needs a Blob account');
  description.push(`Audit: append blobs in container ${target.container}`);
  const log = await BlobAuditLog.connect({ ...account, containerName: target.container });
  closers.push(() => log.close());
  return log;
}

/** Azure Managed Redis with Entra ID: tokens for the Redis resource, from the managed identity. */
function redisEntraAuth(objectId: string) {
  const credential = new DefaultAzureCredential();
  return {
    username: objectId,
    async getToken() {
      const token = await credential.getToken('https://redis.azure.com/.default');
      if (token === null) throw new Error('DefaultAzureCredential gave no token for Azure Managed Redis');
      return { token: token.token, expiresAtMs: token.expiresOnTimestamp };
    },
  };
}

/** The verifier of the API's bearer tokens (the server and Functions; the library has none). */
export async function openTokenVerifier(config: AppConfig, description: string[]): Promise<TokenVerifier> {
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

/**
 * Azurite is an emulator for development: a devDependency, loaded only when EMBEDDED_ARCHIVE=azurite asks
 * for it, so the Functions package and the library's consumers do not carry it.
 */
async function loadEmbeddedAzurite(): Promise<typeof import('../adapters/azurite/embedded-azurite.ts')> {
  try {
    return await import('../adapters/azurite/embedded-azurite.ts');
  } catch (error) {
    throw new ConfigError([
      `EMBEDDED_ARCHIVE=azurite needs the azurite package, a development dependency that is not installed here (${(error as Error).message}). Install the development dependencies (npm ci), or use EMBEDDED_ARCHIVE=files.`,
    ]);
  }
}
