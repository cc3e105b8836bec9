// Configuration: read from the environment once, at the edge, validated as a whole and frozen.
// Each setting is checked against settings-schema.ts; only the rules across settings are written here.
// Every problem names the setting, so a bad deployment stops with a message that says what to fix.
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type CostInput, DEFAULT_PRICES, mergePrices, type PriceTable } from '../domain/cost-model.ts';
import { addDuration, type IsoDuration, parseIsoDuration } from '../domain/iso-duration.ts';
import {
  describeSetting,
  isFlagOn,
  SETTING_FORMATS,
  SETTING_NAMES,
  type SettingName,
  type Settings,
  SettingsSchema,
} from './settings-schema.ts';

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
      /** The embedded default: blobs as files, their index and the control documents in SQLite. */
      readonly kind: 'files';
      readonly folder: string;
    }
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
      /** Blob legal holds on held records' blobs (version-level immutability on the account). */
      readonly legalHolds?: boolean;
    }
  | {
      readonly kind: 'blob';
      readonly accountUrl: string;
      readonly container: string;
      readonly controlContainer: string;
      readonly legalHolds?: boolean;
    };

export type CacheConfig = (
  | {
      readonly kind: 'redis';
      readonly url: string;
      /** Entra ID auth (Azure Managed Redis): the identity's object id, the user name of its tokens. */
      readonly entraObjectId?: string;
    }
  | { readonly kind: 'memory'; readonly maxBytes: number }
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
  /** Peak RU/s over mean: how the advice compares the throughput modes. */
  readonly peakToMean: number;
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
  /** Where the audit trail lives: SQLite in the data folder (embedded) or append blobs (Blob Storage). */
  readonly audit:
    | { readonly kind: 'sqlite'; readonly path: string }
    | { readonly kind: 'blob'; readonly container: string };
  readonly rateLimits: {
    readonly perPrincipal: number;
    readonly perCustomer: number;
    readonly scanning: number;
  };
  /** HTTPS with HSTS when set. */
  readonly tls: { readonly certPath: string; readonly keyPath: string } | undefined;
  readonly security: {
    /** NODE_ENV=production or under Azure Functions. */
    readonly production: boolean;
    /** Non-TLS remote endpoints accepted through ALLOW_INSECURE_ENDPOINTS: logged loudly at start. */
    readonly insecureEndpoints: readonly string[];
  };
  /** How the cost report prices the measurements. */
  readonly cost: CostConfig;
  readonly archival: {
    readonly after: IsoDuration;
    readonly gracePeriod: IsoDuration;
    /** A purged record's ledger entry stays this long as its migration history. */
    readonly historyTtl: IsoDuration;
    /** A record written or rehydrated more recently than this is not archived yet. */
    readonly coolDown: IsoDuration;
    /** Cron expression; undefined turns the in-process scheduler off. */
    readonly schedule: string | undefined;
    /** Cron expression of the collector, when the scheduler is on. */
    readonly collectorSchedule: string | undefined;
    readonly timeBudgetMs: number;
    /** Sustained RU/s the archiver may spend; 0 for no limit; undefined: a share of the container's. */
    readonly requestUnitsPerSecond: number | undefined;
    /** That share, 0-1. */
    readonly throughputShare: number;
    readonly batchSize: number;
    readonly concurrency: number;
    /** Where `npm start` runs archival: its worker process (off the API's event loop), or in process. */
    readonly worker: 'process' | 'in-process';
    /** The collector leaves an unreferenced blob alone until it has been untouched this long. */
    readonly collectorSafetyWindowMs: number;
    /** Archived reads of one record within `rehydrateWindowMs` that bring it back hot; 0 turns this off. */
    readonly rehydrateAfterReads: number;
    readonly rehydrateWindowMs: number;
  };
  readonly telemetry: {
    /** Application Insights; undefined: no Azure Monitor. */
    readonly connectionString: string | undefined;
  };
  readonly alerts: {
    readonly webhookUrl: string | undefined;
    readonly evaluationIntervalMs: number;
  };
  /** The operations console (GET /console): its Entra ID app, for MSAL sign-in. */
  readonly console: { readonly clientId: string | undefined };
  /** The Azure Functions timer triggers (NCRONTAB, with seconds), and the queue of admin-started runs. */
  readonly retention: {
    /** Undefined: every record is kept (the default). */
    readonly period: IsoDuration | undefined;
    /** The in-process schedule of `npm start`; undefined when it is off. */
    readonly schedule: string | undefined;
  };
  readonly functions: {
    readonly archiveTimerSchedule: string;
    readonly collectorTimerSchedule: string;
    readonly retentionTimerSchedule: string;
    readonly runQueueName: string;
    /** Only under Functions: there, admin-started runs go through this queue instead of running in process. */
    readonly runQueue?: RunQueueConfig;
  };
}

export type RunQueueConfig =
  | { readonly kind: 'service-uri'; readonly serviceUrl: string; readonly name: string }
  | { readonly kind: 'connection-string'; readonly connectionString: string; readonly name: string };

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

// Strict, so a typo in the schema (an unknown keyword or format) fails at load instead of passing
// silently; coercing, because the environment holds only strings.
const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true, coerceTypes: true });
ajv.addVocabulary(['unset', 'secret']);
for (const [format, { test }] of Object.entries(SETTING_FORMATS)) {
  ajv.addFormat(format, { type: 'string', validate: test });
}
const validateSettings = ajv.compile<Settings>(SettingsSchema);

// The defaults as Ajv applies them (typed), to stand in for a bad setting.
const DEFAULTS: Readonly<Record<string, unknown>> = (() => {
  const values = {};
  validateSettings(values);
  return values;
})();

export interface ReadSettings {
  /** Defaults applied; a bad setting reads as its default (or unset), so the rules across settings still run. */
  readonly settings: Settings;
  /** The settings the environment sets (not empty), for rules about what was asked for. */
  readonly given: ReadonlySet<SettingName>;
  /** One per bad setting, each naming it. */
  readonly problems: readonly string[];
}

/** Validates each setting on its own against the schema; unknown variables are ignored. */
export function readSettings(env: Env): ReadSettings {
  const raw: Partial<Record<SettingName, string>> = {};
  for (const name of SETTING_NAMES) {
    // An empty value counts as unset, as an app setting cleared in the portal does.
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const given = new Set(Object.keys(raw) as SettingName[]);
  const values: Record<string, unknown> = { ...raw };
  if (validateSettings(values)) return { settings: values, given, problems: [] };
  const failed = new Set(
    (validateSettings.errors ?? []).map((error) => error.instancePath.replace(/^\//, '') as SettingName),
  );
  const problems = [...failed].map((name) => {
    values[name] = DEFAULTS[name];
    const setting = describeSetting(name);
    return `${name} must be ${setting.mustBe}${setting.secret ? '' : ` (got '${raw[name] ?? ''}')`}`;
  });
  return { settings: values as Settings, given, problems };
}

export function loadConfig(env: Env, cwd: string): AppConfig {
  const read = readSettings(env);
  const { settings, given } = read;
  const problems = [...read.problems];
  const problem = (message: string) => problems.push(message);
  const duration = (value: string): IsoDuration => parseIsoDuration(value)!;
  const milliseconds = (value: string): number => addDuration(new Date(0), duration(value)).getTime();

  const dataDir = resolve(cwd, settings.DATA_DIR);
  const hotStore: HotStoreConfig =
    settings.COSMOS_ENDPOINT === undefined
      ? { kind: 'sqlite', path: resolve(dataDir, 'hot-store.sqlite') }
      : {
          kind: 'cosmos',
          endpoint: settings.COSMOS_ENDPOINT,
          database: settings.COSMOS_DATABASE,
          container: settings.COSMOS_CONTAINER,
          key: settings.COSMOS_KEY,
          allowInsecureTls: isFlagOn(settings.COSMOS_ALLOW_INSECURE_TLS),
          ledgerContainer: settings.COSMOS_LEDGER_CONTAINER,
        };
  if (!given.has('COSMOS_ENDPOINT') && (given.has('COSMOS_DATABASE') || given.has('COSMOS_KEY'))) {
    problem('COSMOS_DATABASE and COSMOS_KEY need COSMOS_ENDPOINT');
  }

  const container = settings.BLOB_CONTAINER;
  const controlContainer = settings.BLOB_CONTROL_CONTAINER;
  if (controlContainer === container) problem('BLOB_CONTROL_CONTAINER must differ from BLOB_CONTAINER');
  const connectionString = settings.BLOB_CONNECTION_STRING;
  const accountUrl = settings.BLOB_ACCOUNT_URL;
  if (connectionString !== undefined && accountUrl !== undefined) {
    problem('set BLOB_CONNECTION_STRING or BLOB_ACCOUNT_URL, not both');
  }
  const blobLegalHolds = isFlagOn(settings.BLOB_LEGAL_HOLDS) ? { legalHolds: true } : {};
  if (blobLegalHolds.legalHolds === true && connectionString === undefined && accountUrl === undefined)
    problem('BLOB_LEGAL_HOLDS needs BLOB_ACCOUNT_URL or BLOB_CONNECTION_STRING (Azurite has no legal holds)');
  const archive: ArchiveConfig =
    connectionString !== undefined
      ? { kind: 'blob', connectionString, container, controlContainer, ...blobLegalHolds }
      : accountUrl !== undefined
        ? { kind: 'blob', accountUrl, container, controlContainer, ...blobLegalHolds }
        : settings.EMBEDDED_ARCHIVE === 'files'
          ? { kind: 'files', folder: resolve(dataDir, 'archive') }
          : {
              kind: 'azurite',
              folder: resolve(dataDir, 'azurite'),
              port: settings.AZURITE_PORT,
              container,
              controlContainer,
            };
  if (archive.kind === 'blob' && given.has('EMBEDDED_ARCHIVE')) {
    problem('EMBEDDED_ARCHIVE chooses the archive without Blob settings: unset it, or the Blob settings');
  }

  const redisUrl = settings.REDIS_URL;
  const ttlMs = milliseconds(settings.CACHE_TTL);
  const decodedMaxBytes = settings.CACHE_DECODED_MAX_BYTES;
  const cache: CacheConfig =
    redisUrl !== undefined
      ? {
          kind: 'redis',
          url: redisUrl,
          ...(settings.REDIS_ENTRA_OBJECT_ID !== undefined
            ? { entraObjectId: settings.REDIS_ENTRA_OBJECT_ID }
            : {}),
          ttlMs,
          decodedMaxBytes,
        }
      : { kind: 'memory', maxBytes: settings.CACHE_MAX_BYTES, ttlMs, decodedMaxBytes };

  const {
    AUTH_JWKS_PATH: jwksPath,
    AUTH_JWKS_URI: jwksUri,
    AUTH_ISSUER: issuer,
    AUTH_AUDIENCE: audience,
  } = settings;
  let auth: AuthConfig;
  if (jwksPath !== undefined || jwksUri !== undefined) {
    if (jwksPath !== undefined && jwksUri !== undefined)
      problem('set AUTH_JWKS_PATH or AUTH_JWKS_URI, not both');
    if (issuer === undefined) problem('AUTH_ISSUER is required with AUTH_JWKS_PATH or AUTH_JWKS_URI');
    if (audience === undefined) problem('AUTH_AUDIENCE is required with AUTH_JWKS_PATH or AUTH_JWKS_URI');
    auth =
      jwksPath !== undefined
        ? { kind: 'jwks-file', path: resolve(cwd, jwksPath), issuer: issuer ?? '', audience: audience ?? '' }
        : { kind: 'jwks-uri', uri: jwksUri ?? '', issuer: issuer ?? '', audience: audience ?? '' };
  } else {
    if (hotStore.kind === 'cosmos') {
      problem(
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
    settings.FUNCTIONS_WORKER_RUNTIME !== undefined &&
    (hotStore.kind === 'sqlite' || archive.kind !== 'blob')
  ) {
    // A Function App's folder is read-only and its workers come and go: the embedded stores cannot live there.
    problem(
      'COSMOS_ENDPOINT and BLOB_ACCOUNT_URL (or BLOB_CONNECTION_STRING) are required under Azure Functions',
    );
  }

  let runQueue: RunQueueConfig | undefined;
  if (settings.FUNCTIONS_WORKER_RUNTIME !== undefined) {
    const name = settings.ARCHIVE_QUEUE_NAME;
    const serviceUrl = settings.ARCHIVE_QUEUE__QUEUESERVICEURI;
    const queueConnection = settings.ARCHIVE_QUEUE;
    if (serviceUrl !== undefined && queueConnection !== undefined) {
      problem('ARCHIVE_QUEUE__QUEUESERVICEURI and ARCHIVE_QUEUE are alternatives: set one');
    } else if (serviceUrl !== undefined) {
      runQueue = { kind: 'service-uri', serviceUrl, name };
    } else if (queueConnection !== undefined) {
      runQueue = { kind: 'connection-string', connectionString: queueConnection, name };
    } else {
      // A run started by an HTTP invocation must not outlive it: Functions recycles such instances.
      problem('ARCHIVE_QUEUE__QUEUESERVICEURI (or ARCHIVE_QUEUE) is required under Azure Functions');
    }
  }

  if (given.has('REDIS_ENTRA_OBJECT_ID') && redisUrl === undefined)
    problem('REDIS_ENTRA_OBJECT_ID needs REDIS_URL');

  const tlsCert = settings.TLS_CERT_PATH;
  const tlsKey = settings.TLS_KEY_PATH;
  let tls: AppConfig['tls'];
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    problem('set TLS_CERT_PATH and TLS_KEY_PATH together');
  else if (tlsCert !== undefined && tlsKey !== undefined) {
    tls = { certPath: resolve(cwd, tlsCert), keyPath: resolve(cwd, tlsKey) };
    for (const [name, path] of [
      ['TLS_CERT_PATH', tls.certPath],
      ['TLS_KEY_PATH', tls.keyPath],
    ] as const) {
      if (!isReadableFile(path)) problem(`${name} must name a readable PEM file (${path})`);
    }
  }

  const production = settings.NODE_ENV === 'production' || settings.FUNCTIONS_WORKER_RUNTIME !== undefined;
  const insecure = production ? insecureEndpoints(settings) : [];
  const allowInsecure = isFlagOn(settings.ALLOW_INSECURE_ENDPOINTS);
  if (!allowInsecure) {
    for (const message of insecure)
      problem(`${message} in production; use TLS, or set ALLOW_INSECURE_ENDPOINTS=true to accept the risk`);
  }

  const collectorSafetyWindowMs = milliseconds(settings.ARCHIVE_GC_SAFETY_WINDOW);
  const timeBudgetMs = milliseconds(settings.ARCHIVE_TIME_BUDGET);
  if (collectorSafetyWindowMs < timeBudgetMs) {
    // A blob uploaded by a run may be unreferenced until that run writes its ledger entry.
    problem(
      'ARCHIVE_GC_SAFETY_WINDOW must be at least ARCHIVE_TIME_BUDGET, or the collector can race a running copy',
    );
  }

  let prices = DEFAULT_PRICES;
  if (settings.COST_PRICES_PATH !== undefined) {
    try {
      prices = mergePrices(
        DEFAULT_PRICES,
        JSON.parse(readFileSync(resolve(cwd, settings.COST_PRICES_PATH), 'utf8')),
      );
    } catch (error) {
      problem(`COST_PRICES_PATH must name a JSON file of price overrides (${(error as Error).message})`);
    }
  }
  // The tiers come from the price table, which COST_PRICES_PATH may extend.
  const cacheTier = settings.COST_CACHE_TIER ?? (redisUrl !== undefined ? 'azure-managed-redis-b0' : 'none');
  if (prices.cache[cacheTier] === undefined) {
    problem(`COST_CACHE_TIER must be one of ${Object.keys(prices.cache).join(', ')} (got '${cacheTier}')`);
  }
  const workloadRu = settings.COST_WORKLOAD_RU;
  const cost: CostConfig = {
    prices,
    throughput:
      settings.COST_THROUGHPUT_MODE === 'serverless'
        ? { mode: 'serverless', workloadRuPerMonth: workloadRu }
        : { mode: settings.COST_THROUGHPUT_MODE, workloadRuPerSecond: workloadRu },
    peakToMean: settings.COST_WORKLOAD_PEAK_TO_MEAN,
    cacheTier,
  };

  const schedule = settings.ARCHIVE_SCHEDULE;
  const config: AppConfig = {
    port: settings.PORT,
    host: settings.HOST,
    dataDir,
    logLevel: settings.LOG_LEVEL,
    hotStore,
    archive,
    cache,
    auth,
    // Embedded (files or Azurite): the trail is a SQLite file in the data folder; with Blob Storage, append blobs.
    audit:
      archive.kind === 'blob'
        ? { kind: 'blob', container: settings.AUDIT_CONTAINER }
        : { kind: 'sqlite', path: resolve(dataDir, 'audit.sqlite') },
    rateLimits: {
      perPrincipal: settings.RATE_LIMIT_PER_PRINCIPAL,
      perCustomer: settings.RATE_LIMIT_PER_CUSTOMER,
      scanning: settings.RATE_LIMIT_SCANNING,
    },
    tls,
    security: { production, insecureEndpoints: allowInsecure ? insecure : [] },
    cost,
    archival: {
      after: duration(settings.ARCHIVE_AFTER),
      gracePeriod: duration(settings.ARCHIVE_GRACE_PERIOD),
      historyTtl: duration(settings.ARCHIVE_HISTORY_TTL),
      coolDown: duration(settings.ARCHIVE_COOL_DOWN),
      schedule,
      collectorSchedule: schedule === undefined ? undefined : settings.ARCHIVE_GC_SCHEDULE,
      timeBudgetMs,
      requestUnitsPerSecond: settings.ARCHIVE_MAX_RU_PER_SECOND,
      throughputShare: settings.ARCHIVE_THROUGHPUT_SHARE_PERCENT / 100,
      batchSize: settings.ARCHIVE_BATCH_SIZE,
      concurrency: settings.ARCHIVE_CONCURRENCY,
      worker: settings.ARCHIVE_WORKER,
      collectorSafetyWindowMs,
      rehydrateAfterReads: settings.REHYDRATE_AFTER_READS,
      rehydrateWindowMs: milliseconds(settings.REHYDRATE_READS_WINDOW),
    },
    retention: {
      period: settings.RETENTION_PERIOD === undefined ? undefined : duration(settings.RETENTION_PERIOD),
      schedule:
        schedule === undefined || settings.RETENTION_PERIOD === undefined
          ? undefined
          : settings.RETENTION_SCHEDULE,
    },
    telemetry: { connectionString: settings.APPLICATIONINSIGHTS_CONNECTION_STRING },
    alerts: {
      webhookUrl: settings.ALERT_WEBHOOK_URL,
      evaluationIntervalMs: milliseconds(settings.ALERT_EVALUATION_INTERVAL),
    },
    console: { clientId: settings.CONSOLE_CLIENT_ID },
    functions: {
      archiveTimerSchedule: settings.ARCHIVE_TIMER_SCHEDULE,
      collectorTimerSchedule: settings.ARCHIVE_GC_TIMER_SCHEDULE,
      retentionTimerSchedule: settings.RETENTION_TIMER_SCHEDULE,
      runQueueName: settings.ARCHIVE_QUEUE_NAME,
      ...(runQueue !== undefined ? { runQueue } : {}),
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

function isReadableFile(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** True for a URL that travels in clear text to another host. */
function isClearTextRemote(url: string, clearProtocols: readonly string[]): boolean {
  try {
    const parsed = new URL(url);
    return clearProtocols.includes(parsed.protocol) && !LOOPBACK.has(parsed.hostname);
  } catch {
    return false;
  }
}

/** Each endpoint that production must not use without TLS, named by its setting. */
function insecureEndpoints(settings: Settings): string[] {
  const found: string[] = [];
  const check = (name: SettingName, url: string | undefined, protocols: readonly string[]) => {
    if (url !== undefined && isClearTextRemote(url, protocols))
      found.push(`${name} is not TLS (${new URL(url).protocol})`);
  };
  check('COSMOS_ENDPOINT', settings.COSMOS_ENDPOINT, ['http:']);
  check('BLOB_ACCOUNT_URL', settings.BLOB_ACCOUNT_URL, ['http:']);
  check('AUTH_JWKS_URI', settings.AUTH_JWKS_URI, ['http:']);
  if (settings.REDIS_URL !== undefined && isClearTextRemote(settings.REDIS_URL, ['redis:']))
    found.push('REDIS_URL is not TLS (redis:)');
  const blob = settings.BLOB_CONNECTION_STRING;
  if (blob !== undefined) {
    const endpoint = /BlobEndpoint=([^;]+)/i.exec(blob)?.[1];
    const clear =
      endpoint !== undefined
        ? isClearTextRemote(endpoint, ['http:'])
        : /DefaultEndpointsProtocol=http;/i.test(blob);
    if (clear) found.push('BLOB_CONNECTION_STRING is not TLS (http)');
  }
  if (isFlagOn(settings.COSMOS_ALLOW_INSECURE_TLS))
    found.push('COSMOS_ALLOW_INSECURE_TLS turns certificate checks off');
  return found;
}
