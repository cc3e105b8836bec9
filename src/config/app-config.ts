// Configuration: read from the environment once, at the edge, validated as a whole and frozen.
// Every problem names the setting, so a bad deployment stops with a message that says what to fix.
import { Cron } from 'croner';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type CostInput, DEFAULT_PRICES, mergePrices, type PriceTable } from '../domain/cost-model.ts';
import { addDuration, type IsoDuration, parseIsoDuration } from '../domain/iso-duration.ts';

export type HotStoreConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'cosmos';
      readonly endpoint: string;
      readonly database: string;
      readonly container: string;
      /** Absent: DefaultAzureCredential (managed identity). */
      readonly key: string | undefined;
      /** Only for local emulators with self-signed certificates. */
      readonly allowInsecureTls: boolean;
      /** The archive ledger's container, beside the records. */
      readonly ledgerContainer: string;
    };

/** `controlContainer` holds the archiver's run reports, watermarks and leases (Hot tier: rewritten often). */
export type ArchiveConfig =
  | {
      readonly kind: 'azurite';
      readonly folder: string;
      readonly port: number;
      readonly container: string;
      readonly controlContainer: string;
    }
  | {
      readonly kind: 'blob';
      readonly connectionString: string;
      readonly container: string;
      readonly controlContainer: string;
    }
  | {
      readonly kind: 'blob';
      readonly accountUrl: string;
      readonly container: string;
      readonly controlContainer: string;
    };

export type CacheConfig = (
  { readonly kind: 'redis'; readonly url: string } | { readonly kind: 'memory'; readonly maxBytes: number }
) & {
  readonly ttlMs: number;
  /** Decoded archived records kept in each process in front of the cache; 0 turns that layer off. */
  readonly decodedMaxBytes: number;
};

export type AuthConfig =
  | { readonly kind: 'dev-keys'; readonly folder: string; readonly issuer: string; readonly audience: string }
  | { readonly kind: 'jwks-file'; readonly path: string; readonly issuer: string; readonly audience: string }
  | { readonly kind: 'jwks-uri'; readonly uri: string; readonly issuer: string; readonly audience: string };

export interface CostConfig {
  readonly prices: PriceTable;
  readonly throughput: CostInput['throughput'];
  readonly cacheTier: string;
}

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly hotStore: HotStoreConfig;
  readonly archive: ArchiveConfig;
  readonly cache: CacheConfig;
  readonly auth: AuthConfig;
  /** How the cost report prices the measurements. */
  readonly cost: CostConfig;
  readonly archival: {
    readonly after: IsoDuration;
    readonly gracePeriod: IsoDuration;
    /** A record written or rehydrated more recently than this is not archived yet. */
    readonly coolDown: IsoDuration;
    /** Cron expression; undefined turns the in-process scheduler off. */
    readonly schedule: string | undefined;
    /** Cron expression of the collector, when the scheduler is on. */
    readonly collectorSchedule: string | undefined;
    readonly timeBudgetMs: number;
    /** Sustained RU/s the archiver may spend; 0 for no limit. */
    readonly requestUnitsPerSecond: number;
    readonly batchSize: number;
    readonly concurrency: number;
    /** The collector leaves an unreferenced blob alone until it has been untouched this long. */
    readonly collectorSafetyWindowMs: number;
    /** Archived reads of one record within `rehydrateWindowMs` that bring it back hot; 0 turns this off. */
    readonly rehydrateAfterReads: number;
    readonly rehydrateWindowMs: number;
  };
}

export const DEV_ISSUER = 'urn:billing-records:dev';
export const DEV_AUDIENCE = 'api://billing-records';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: Env, cwd: string): AppConfig {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got '${raw}')`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined || raw === 'false' || raw === '0') return false;
    if (raw === 'true' || raw === '1') return true;
    problems.push(`${name} must be true or false (got '${raw}')`);
    return false;
  };
  const url = (name: string, protocols: readonly string[]): string | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
      return raw;
    } catch {
      problems.push(`${name} must be a ${protocols.join(' or ')} URL (got '${raw}')`);
      return undefined;
    }
  };
  const duration = (name: string, fallback: string): IsoDuration => {
    const raw = text(name) ?? fallback;
    const parsed = parseIsoDuration(raw);
    if (parsed === undefined) {
      problems.push(`${name} must be an ISO 8601 duration such as P3M or P7D (got '${raw}')`);
      return parseIsoDuration(fallback)!;
    }
    return parsed;
  };
  /** A duration without months or years (those have no fixed length), in milliseconds. */
  const fixedMs = (setting: string, fallback: string): number => {
    const parsed = duration(setting, fallback);
    if (parsed.years !== 0 || parsed.months !== 0) {
      problems.push(
        `${setting} must be a fixed duration such as PT9M or P1D, without months or years (got '${parsed.text}')`,
      );
    }
    return addDuration(new Date(0), parsed).getTime();
  };
  const name = (setting: string, fallback: string, pattern: RegExp, rule: string): string => {
    const raw = text(setting) ?? fallback;
    if (!pattern.test(raw)) problems.push(`${setting} ${rule} (got '${raw}')`);
    return raw;
  };

  const dataDir = resolve(cwd, text('DATA_DIR') ?? '.data');
  const port = integer('PORT', 8080, 0, 65535);
  const host = text('HOST') ?? '127.0.0.1';
  const logLevelRaw = text('LOG_LEVEL') ?? 'info';
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw)
    ? (logLevelRaw as AppConfig['logLevel'])
    : 'info';
  if (logLevel !== logLevelRaw)
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got '${logLevelRaw}')`);

  const cosmosEndpoint = url('COSMOS_ENDPOINT', ['https:', 'http:']);
  const hotStore: HotStoreConfig =
    cosmosEndpoint === undefined
      ? { kind: 'sqlite', path: resolve(dataDir, 'hot-store.sqlite') }
      : {
          kind: 'cosmos',
          endpoint: cosmosEndpoint,
          database: name(
            'COSMOS_DATABASE',
            'billing',
            /^[A-Za-z0-9_-]{1,255}$/,
            'must be a Cosmos database id',
          ),
          container: name(
            'COSMOS_CONTAINER',
            'records',
            /^[A-Za-z0-9_-]{1,255}$/,
            'must be a Cosmos container id',
          ),
          key: text('COSMOS_KEY'),
          allowInsecureTls: boolean('COSMOS_ALLOW_INSECURE_TLS'),
          ledgerContainer: name(
            'COSMOS_LEDGER_CONTAINER',
            'archive-ledger',
            /^[A-Za-z0-9_-]{1,255}$/,
            'must be a Cosmos container id',
          ),
        };
  if (
    text('COSMOS_ENDPOINT') === undefined &&
    (text('COSMOS_DATABASE') ?? text('COSMOS_KEY')) !== undefined
  ) {
    problems.push('COSMOS_DATABASE and COSMOS_KEY need COSMOS_ENDPOINT');
  }

  const container = name(
    'BLOB_CONTAINER',
    'billing-archive',
    /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
    'must be a valid blob container name (3-63 lower-case letters, digits, single hyphens)',
  );
  const controlContainer = name(
    'BLOB_CONTROL_CONTAINER',
    'billing-archive-control',
    /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
    'must be a valid blob container name (3-63 lower-case letters, digits, single hyphens)',
  );
  if (controlContainer === container) problems.push('BLOB_CONTROL_CONTAINER must differ from BLOB_CONTAINER');
  const connectionString = text('BLOB_CONNECTION_STRING');
  const accountUrl = url('BLOB_ACCOUNT_URL', ['https:', 'http:']);
  if (connectionString !== undefined && accountUrl !== undefined) {
    problems.push('set BLOB_CONNECTION_STRING or BLOB_ACCOUNT_URL, not both');
  }
  if (connectionString !== undefined && !/BlobEndpoint=|AccountName=/i.test(connectionString)) {
    problems.push(
      'BLOB_CONNECTION_STRING must be an Azure Storage connection string (AccountName=...;AccountKey=...)',
    );
  }
  const archive: ArchiveConfig =
    connectionString !== undefined
      ? { kind: 'blob', connectionString, container, controlContainer }
      : accountUrl !== undefined
        ? { kind: 'blob', accountUrl, container, controlContainer }
        : {
            kind: 'azurite',
            folder: resolve(dataDir, 'azurite'),
            port: integer('AZURITE_PORT', 0, 0, 65535),
            container,
            controlContainer,
          };

  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);
  const cacheTtlMs = fixedMs('CACHE_TTL', 'PT1H');
  const decodedMaxBytes = integer('CACHE_DECODED_MAX_BYTES', 64 * 1024 * 1024, 0, 16 * 1024 ** 3);
  const cache: CacheConfig =
    redisUrl !== undefined
      ? { kind: 'redis', url: redisUrl, ttlMs: cacheTtlMs, decodedMaxBytes }
      : {
          kind: 'memory',
          maxBytes: integer('CACHE_MAX_BYTES', 256 * 1024 * 1024, 1024 * 1024, 64 * 1024 ** 3),
          ttlMs: cacheTtlMs,
          decodedMaxBytes,
        };

  const jwksPath = text('AUTH_JWKS_PATH');
  const jwksUri = url('AUTH_JWKS_URI', ['https:', 'http:']);
  const issuer = text('AUTH_ISSUER');
  const audience = text('AUTH_AUDIENCE');
  let auth: AuthConfig;
  if (jwksPath !== undefined || jwksUri !== undefined) {
    if (jwksPath !== undefined && jwksUri !== undefined)
      problems.push('set AUTH_JWKS_PATH or AUTH_JWKS_URI, not both');
    if (issuer === undefined) problems.push('AUTH_ISSUER is required with AUTH_JWKS_PATH or AUTH_JWKS_URI');
    if (audience === undefined)
      problems.push('AUTH_AUDIENCE is required with AUTH_JWKS_PATH or AUTH_JWKS_URI');
    auth =
      jwksPath !== undefined
        ? { kind: 'jwks-file', path: resolve(cwd, jwksPath), issuer: issuer ?? '', audience: audience ?? '' }
        : { kind: 'jwks-uri', uri: jwksUri ?? '', issuer: issuer ?? '', audience: audience ?? '' };
  } else {
    if (hotStore.kind === 'cosmos') {
      problems.push(
        'AUTH_JWKS_URI (or AUTH_JWKS_PATH) with AUTH_ISSUER and AUTH_AUDIENCE is required with COSMOS_ENDPOINT: dev keys are for embedded mode only',
      );
    }
    auth = {
      kind: 'dev-keys',
      folder: resolve(dataDir, 'dev-auth'),
      issuer: issuer ?? DEV_ISSUER,
      audience: audience ?? DEV_AUDIENCE,
    };
  }

  if (
    text('FUNCTIONS_WORKER_RUNTIME') !== undefined &&
    (hotStore.kind === 'sqlite' || archive.kind === 'azurite')
  ) {
    // A Function App's folder is read-only and its workers come and go: the embedded stores cannot live there.
    problems.push(
      'COSMOS_ENDPOINT and BLOB_ACCOUNT_URL (or BLOB_CONNECTION_STRING) are required under Azure Functions',
    );
  }
  const cron = (setting: string, fallback: string | undefined): string | undefined => {
    const value = text(setting) ?? fallback;
    if (value === undefined) return undefined;
    try {
      new Cron(value, { paused: true }).stop();
    } catch (error) {
      problems.push(`${setting} must be a cron expression such as '0 3 * * *' (${(error as Error).message})`);
    }
    return value;
  };
  const schedule = cron('ARCHIVE_SCHEDULE', undefined);
  const collectorSchedule = schedule === undefined ? undefined : cron('ARCHIVE_GC_SCHEDULE', '0 4 * * 0');

  const gcWindowMs = fixedMs('ARCHIVE_GC_SAFETY_WINDOW', 'P1D');
  const timeBudgetMs = fixedMs('ARCHIVE_TIME_BUDGET', 'PT9M');
  if (gcWindowMs < timeBudgetMs) {
    // A blob uploaded by a run may be unreferenced until that run writes its ledger entry.
    problems.push(
      'ARCHIVE_GC_SAFETY_WINDOW must be at least ARCHIVE_TIME_BUDGET, or the collector can race a running copy',
    );
  }
  let prices = DEFAULT_PRICES;
  const pricesPath = text('COST_PRICES_PATH');
  if (pricesPath !== undefined) {
    try {
      prices = mergePrices(DEFAULT_PRICES, JSON.parse(readFileSync(resolve(cwd, pricesPath), 'utf8')));
    } catch (error) {
      problems.push(
        `COST_PRICES_PATH must name a JSON file of price overrides (${(error as Error).message})`,
      );
    }
  }
  const throughputMode = text('COST_THROUGHPUT_MODE') ?? 'provisioned';
  if (!['provisioned', 'autoscale', 'serverless'].includes(throughputMode)) {
    problems.push(
      `COST_THROUGHPUT_MODE must be provisioned, autoscale or serverless (got '${throughputMode}')`,
    );
  }
  const workloadRu = integer('COST_WORKLOAD_RU', 0, 0, Number.MAX_SAFE_INTEGER);
  const cacheTier = text('COST_CACHE_TIER') ?? (redisUrl !== undefined ? 'azure-managed-redis-b0' : 'none');
  if (prices.cache[cacheTier] === undefined) {
    problems.push(
      `COST_CACHE_TIER must be one of ${Object.keys(prices.cache).join(', ')} (got '${cacheTier}')`,
    );
  }
  const cost: CostConfig = {
    prices,
    throughput:
      throughputMode === 'serverless'
        ? { mode: 'serverless', workloadRuPerMonth: workloadRu }
        : {
            mode: throughputMode === 'autoscale' ? 'autoscale' : 'provisioned',
            workloadRuPerSecond: workloadRu,
          },
    cacheTier,
  };

  const config: AppConfig = {
    port,
    host,
    dataDir,
    logLevel,
    hotStore,
    archive,
    cache,
    auth,
    cost,
    archival: {
      after: duration('ARCHIVE_AFTER', 'P3M'),
      gracePeriod: duration('ARCHIVE_GRACE_PERIOD', 'P7D'),
      coolDown: duration('ARCHIVE_COOL_DOWN', 'P1D'),
      schedule,
      collectorSchedule,
      timeBudgetMs,
      requestUnitsPerSecond: integer('ARCHIVE_MAX_RU_PER_SECOND', 0, 0, 1_000_000),
      batchSize: integer('ARCHIVE_BATCH_SIZE', 100, 1, 1000),
      concurrency: integer('ARCHIVE_CONCURRENCY', 8, 1, 64),
      collectorSafetyWindowMs: gcWindowMs,
      rehydrateAfterReads: integer('REHYDRATE_AFTER_READS', 20, 0, 1_000_000),
      rehydrateWindowMs: fixedMs('REHYDRATE_READS_WINDOW', 'PT1H'),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
