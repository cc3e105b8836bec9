// Every setting of the environment, declared once: its name, type, default, one line of documentation
// and an example. loadConfig validates the raw environment against it, the README's table is printed
// from it (`npm run config:docs`), and the deployment checks its app settings against SETTING_NAMES.
import { Cron } from 'croner';
import Type, { type Static, type TSchema } from 'typebox';
import { parseIsoDuration } from '../domain/iso-duration.ts';
import RESOURCE_NAMES from './resource-names.json' with { type: 'json' };

/** String shapes the schema names with `format`; `mustBe` ends the message that names a bad setting. */
export const SETTING_FORMATS = {
  'iso-duration': {
    mustBe: 'an ISO 8601 duration such as P3M or P7D',
    test: (value: string) => parseIsoDuration(value) !== undefined,
  },
  'fixed-duration': {
    // Months and years have no fixed length, so they cannot become milliseconds.
    mustBe: 'a fixed duration such as PT9M or P1D, without months or years',
    test: (value: string) => {
      const parsed = parseIsoDuration(value);
      return parsed !== undefined && parsed.years === 0 && parsed.months === 0;
    },
  },
  cron: {
    mustBe: "a cron expression such as '0 3 * * *'",
    test: isCron,
  },
  ncrontab: {
    // The Functions host reads six fields, seconds first; five would shift every field by one.
    mustBe: "an NCRONTAB expression with seconds such as '0 0 3 * * *'",
    test: (value: string) => value.split(/\s+/).length === 6 && isCron(value),
  },
  'http-url': {
    mustBe: 'a https: or http: URL',
    test: (value: string) => hasProtocol(value, ['https:', 'http:']),
  },
  'redis-url': {
    mustBe: 'a redis: or rediss: URL',
    test: (value: string) => hasProtocol(value, ['redis:', 'rediss:']),
  },
  'cosmos-id': {
    mustBe: 'a Cosmos DB id (1-255 letters, digits, _ or -)',
    test: (value: string) => /^[A-Za-z0-9_-]{1,255}$/.test(value),
  },
  'blob-container': {
    mustBe: 'a valid blob container name (3-63 lower-case letters, digits, single hyphens)',
    test: (value: string) => /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(value),
  },
  'storage-connection-string': {
    mustBe: 'an Azure Storage connection string (AccountName=...;AccountKey=...)',
    test: (value: string) => /BlobEndpoint=|QueueEndpoint=|AccountName=/i.test(value),
  },
  flag: {
    // App settings written by ARM templates spell booleans True and False.
    mustBe: 'true or false',
    test: (value: string) => /^(?:true|false|1|0)$/i.test(value),
  },
} as const;

export type SettingFormat = keyof typeof SETTING_FORMATS;

/** Turns a value that passed the `flag` format into a boolean. */
export function isFlagOn(value: string): boolean {
  return /^(?:true|1)$/i.test(value);
}

interface SettingDoc {
  /** One line for the README: what the setting does. */
  readonly description: string;
  /** A value that passes the schema, for the README. */
  readonly example: string;
}

/** A setting with no default says what happens without it (README's default column). */
interface OptionalSettingDoc extends SettingDoc {
  readonly unset: string;
  /** Never echoed in an error message (keys, connection strings, URLs that may hold a password). */
  readonly secret?: boolean;
}

const annotations = ({ description, example }: SettingDoc) => ({ description, examples: [example] });

function integer(minimum: number, maximum: number, doc: SettingDoc & { readonly default: number }) {
  return Type.Integer({ minimum, maximum, default: doc.default, ...annotations(doc) });
}

function optionalInteger(minimum: number, maximum: number, doc: OptionalSettingDoc) {
  return Type.Optional(Type.Integer({ minimum, maximum, unset: doc.unset, ...annotations(doc) }));
}

function text(format: SettingFormat | undefined, doc: SettingDoc & { readonly default: string }) {
  return Type.String({ minLength: 1, ...(format && { format }), default: doc.default, ...annotations(doc) });
}

function optionalText(format: SettingFormat | undefined, doc: OptionalSettingDoc) {
  return Type.Optional(
    Type.String({
      minLength: 1,
      ...(format && { format }),
      unset: doc.unset,
      ...(doc.secret === true && { secret: true }),
      ...annotations(doc),
    }),
  );
}

function choice<const Values extends string[]>(
  values: readonly [...Values],
  doc: SettingDoc & { readonly default: Values[number] },
) {
  return Type.Enum(values, { default: doc.default, ...annotations(doc) });
}

export const TIMER_SCHEDULE_DEFAULTS = {
  archival: '0 0 3 * * *',
  collector: '0 0 4 * * 0',
  retention: '0 0 5 * * *',
} as const;
export const DEFAULT_RUN_QUEUE_NAME = RESOURCE_NAMES.runQueue;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** In the README's order. Unknown variables are ignored: the environment holds everything else too. */
export const SettingsSchema = Type.Object({
  PORT: integer(0, 65535, {
    default: 8080,
    description: 'where the API listens (`0`: any free port)',
    example: '3000',
  }),
  HOST: text(undefined, {
    default: '127.0.0.1',
    description: 'the interface the API listens on',
    example: '0.0.0.0',
  }),
  DATA_DIR: text(undefined, {
    default: './.data',
    description: 'embedded SQLite files, the embedded archive (or Azurite data), dev key pair',
    example: '/var/lib/billing',
  }),
  LOG_LEVEL: choice(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
    description: 'pino level (JSON logs)',
    example: 'debug',
  }),

  COSMOS_ENDPOINT: optionalText('http-url', {
    unset: 'embedded SQLite',
    description: 'Cosmos DB account endpoint; turns the Cosmos adapter on',
    example: 'https://acct.documents.azure.com:443/',
  }),
  COSMOS_DATABASE: text('cosmos-id', {
    default: RESOURCE_NAMES.cosmosDatabase,
    description: 'created if absent (key auth) or must exist (Entra ID)',
    example: 'billing',
  }),
  COSMOS_CONTAINER: text('cosmos-id', {
    default: RESOURCE_NAMES.recordsContainer,
    description: 'the records; created if absent (key auth) or must exist (Entra ID)',
    example: 'records',
  }),
  COSMOS_LEDGER_CONTAINER: text('cosmos-id', {
    default: RESOURCE_NAMES.ledgerContainer,
    description: "the archive ledger's container, beside the records",
    example: 'archive-ledger',
  }),
  COSMOS_KEY: optionalText(undefined, {
    unset: 'managed identity',
    secret: true,
    description: 'account key; without it `DefaultAzureCredential` is used',
    example: '<account key>',
  }),
  COSMOS_ALLOW_INSECURE_TLS: text('flag', {
    default: 'false',
    description: "only for a local emulator's self-signed certificate",
    example: 'true',
  }),

  BLOB_ACCOUNT_URL: optionalText('http-url', {
    unset: 'embedded archive',
    description: 'the archive account, reached with `DefaultAzureCredential`',
    example: 'https://acct.blob.core.windows.net',
  }),
  BLOB_CONNECTION_STRING: optionalText('storage-connection-string', {
    unset: 'embedded archive',
    secret: true,
    description: 'the archive account by key, instead of `BLOB_ACCOUNT_URL`',
    example: 'AccountName=acct;AccountKey=...',
  }),
  BLOB_CONTAINER: text('blob-container', {
    default: RESOURCE_NAMES.archiveContainer,
    description: 'archived records (Cold tier)',
    example: 'billing-archive',
  }),
  BLOB_CONTROL_CONTAINER: text('blob-container', {
    default: RESOURCE_NAMES.controlContainer,
    description: 'run reports, watermarks, leases (Hot tier); not `BLOB_CONTAINER`',
    example: 'billing-archive-control',
  }),
  EMBEDDED_ARCHIVE: choice(['files', 'azurite'], {
    default: 'files',
    description:
      'the archive without Blob settings: `files` (gzip files and SQLite in `DATA_DIR/archive`) or `azurite` (in-process)',
    example: 'azurite',
  }),
  BLOB_LEGAL_HOLDS: text('flag', {
    default: 'false',
    description:
      "held records' blobs get a blob legal hold (the archive account needs version-level immutability)",
    example: 'true',
  }),
  AZURITE_PORT: integer(0, 65535, {
    default: 0,
    description: "embedded Azurite's port, with `EMBEDDED_ARCHIVE=azurite` (`0`: any free port)",
    example: '10000',
  }),

  REDIS_URL: optionalText('redis-url', {
    unset: 'in-process LRU',
    secret: true,
    description: '`redis://` or `rediss://`; the cache of archived reads',
    example: 'rediss://cache.eastus.redis.azure.net:10000',
  }),
  REDIS_ENTRA_OBJECT_ID: optionalText(undefined, {
    unset: 'password in `REDIS_URL`, if any',
    description:
      'Entra ID auth to Azure Managed Redis: the object id of the identity `DefaultAzureCredential` gets a token for',
    example: '00000000-0000-0000-0000-000000000000',
  }),
  CACHE_TTL: text('fixed-duration', {
    default: 'PT1H',
    description: 'cache entry lifetime',
    example: 'PT5M',
  }),
  CACHE_MAX_BYTES: integer(MiB, 64 * GiB, {
    default: 256 * MiB,
    description: 'size cap of the in-process LRU (256 MiB), without `REDIS_URL`',
    example: '1073741824',
  }),
  CACHE_DECODED_MAX_BYTES: integer(0, 16 * GiB, {
    default: 64 * MiB,
    description:
      'decoded archived records kept in each process in front of the cache (64 MiB; hits skip gunzip, hash, parse); `0` turns it off',
    example: '0',
  }),

  AUTH_JWKS_URI: optionalText('http-url', {
    unset: 'dev key pair',
    description: "Entra ID's signing keys; this, or `AUTH_JWKS_PATH`, is required with Cosmos",
    example: 'https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys',
  }),
  AUTH_JWKS_PATH: optionalText(undefined, {
    unset: 'dev key pair',
    description: 'a local JWKS file, instead of `AUTH_JWKS_URI`',
    example: 'keys/jwks.json',
  }),
  AUTH_ISSUER: optionalText(undefined, {
    unset: 'dev issuer',
    description: 'the `iss` tokens must carry; required with a JWKS',
    example: 'https://login.microsoftonline.com/{tenant}/v2.0',
  }),
  AUTH_AUDIENCE: optionalText(undefined, {
    unset: 'dev audience',
    description:
      "the `aud` tokens must carry (Entra ID v2.0 tokens: the API app registration's client id); required with a JWKS",
    example: '11111111-2222-3333-4444-555555555555',
  }),

  ARCHIVE_AFTER: text('iso-duration', {
    default: 'P3M',
    description: 'records issued longer ago than this are archived',
    example: 'P1Y',
  }),
  ARCHIVE_GRACE_PERIOD: text('iso-duration', {
    default: 'P7D',
    description: 'between copy and purge; `P0D` allowed',
    example: 'P0D',
  }),
  ARCHIVE_HISTORY_TTL: text('iso-duration', {
    default: 'P90D',
    description: "how long a purged record's ledger entry stays as its migration history",
    example: 'P1Y',
  }),
  ARCHIVE_COOL_DOWN: text('iso-duration', {
    default: 'P1D',
    description: 'records written or rehydrated more recently wait',
    example: 'P14D',
  }),
  ARCHIVE_SCHEDULE: optionalText('cron', {
    unset: 'off',
    description: 'cron of the in-process scheduler of `npm start` (archival runs)',
    example: '0 3 * * *',
  }),
  ARCHIVE_GC_SCHEDULE: text('cron', {
    default: '0 4 * * 0',
    description: 'cron of the in-process collector, when `ARCHIVE_SCHEDULE` is set',
    example: '30 4 * * *',
  }),
  ARCHIVE_TIME_BUDGET: text('fixed-duration', {
    default: 'PT9M',
    description: 'a run stops cleanly between batches after this, leaving a checkpoint',
    example: 'PT4M30S',
  }),
  ARCHIVE_MAX_RU_PER_SECOND: optionalInteger(0, 1_000_000, {
    unset: "a share of the container's RU/s",
    description: 'RU/s the archiver may spend (`0`: no limit)',
    example: '400',
  }),
  ARCHIVE_THROUGHPUT_SHARE_PERCENT: integer(1, 100, {
    default: 25,
    description:
      "without `ARCHIVE_MAX_RU_PER_SECOND`: the archiver's share of the provisioned (or autoscale maximum) RU/s",
    example: '10',
  }),
  ARCHIVE_BATCH_SIZE: integer(1, 1000, {
    default: 100,
    description: 'records per page and checkpoint',
    example: '200',
  }),
  ARCHIVE_CONCURRENCY: integer(1, 64, {
    default: 16,
    description:
      'records in flight when a run starts (the adaptive controller then moves it between 1 and 64)',
    example: '32',
  }),
  ARCHIVE_WORKER: choice(['process', 'in-process'], {
    default: 'process',
    description:
      "where `npm start` runs archival: `process` (a worker process it starts, off the API's event loop) or `in-process`",
    example: 'in-process',
  }),
  ARCHIVE_GC_SAFETY_WINDOW: text('fixed-duration', {
    default: 'P1D',
    description: 'the collector leaves a blob touched more recently alone; at least `ARCHIVE_TIME_BUDGET`',
    example: 'PT12H',
  }),
  ARCHIVE_TIMER_SCHEDULE: text('ncrontab', {
    default: TIMER_SCHEDULE_DEFAULTS.archival,
    description: 'Functions timer trigger of archival runs (NCRONTAB, with seconds)',
    example: '0 */30 * * * *',
  }),
  ARCHIVE_GC_TIMER_SCHEDULE: text('ncrontab', {
    default: TIMER_SCHEDULE_DEFAULTS.collector,
    description: 'Functions timer trigger of the collector (NCRONTAB, with seconds)',
    example: '0 30 4 * * *',
  }),
  RETENTION_PERIOD: optionalText('iso-duration', {
    unset: 'keep every record',
    description:
      'records issued longer ago than this are deleted from every tier by retention runs (held ones stay)',
    example: 'P10Y',
  }),
  RETENTION_SCHEDULE: text('cron', {
    default: '0 5 * * *',
    description:
      'cron of scheduled retention runs in `npm start`, when `ARCHIVE_SCHEDULE` and `RETENTION_PERIOD` are set',
    example: '0 6 * * 1',
  }),
  RETENTION_TIMER_SCHEDULE: text('ncrontab', {
    default: TIMER_SCHEDULE_DEFAULTS.retention,
    description: 'Functions timer trigger of retention runs, when `RETENTION_PERIOD` is set (NCRONTAB)',
    example: '0 0 6 * * 1',
  }),
  ARCHIVE_QUEUE__QUEUESERVICEURI: optionalText('http-url', {
    unset: 'runs in process',
    description:
      'under Functions, the Storage queue service admin-started runs go through (managed identity); the queue trigger reads this setting too (the host matches names case-insensitively)',
    example: 'https://acct.queue.core.windows.net',
  }),
  ARCHIVE_QUEUE: optionalText('storage-connection-string', {
    unset: 'runs in process',
    secret: true,
    description: 'that queue service by connection string, instead of `ARCHIVE_QUEUE__QUEUESERVICEURI`',
    example: 'AccountName=acct;AccountKey=...',
  }),
  ARCHIVE_QUEUE_NAME: text('blob-container', {
    default: DEFAULT_RUN_QUEUE_NAME,
    description: 'the queue of admin-started archival runs under Functions (the `archivalRunQueued` trigger)',
    example: 'archival-runs',
  }),
  REHYDRATE_AFTER_READS: integer(0, 1_000_000, {
    default: 20,
    description:
      'archived reads of one record within `REHYDRATE_READS_WINDOW` that bring it back hot (`0`: off)',
    example: '5',
  }),
  REHYDRATE_READS_WINDOW: text('fixed-duration', {
    default: 'PT1H',
    description: 'the window of `REHYDRATE_AFTER_READS`',
    example: 'PT10M',
  }),

  COST_THROUGHPUT_MODE: choice(['provisioned', 'autoscale', 'serverless'], {
    default: 'provisioned',
    description: 'how the cost report prices Cosmos throughput',
    example: 'serverless',
  }),
  COST_WORKLOAD_RU: integer(0, Number.MAX_SAFE_INTEGER, {
    default: 0,
    description: 'RU/s the workload needs (`provisioned`, `autoscale`), or RU a month (`serverless`)',
    example: '400',
  }),
  COST_WORKLOAD_PEAK_TO_MEAN: integer(1, 100, {
    default: 3,
    description:
      "the workload's peak RU/s over its mean: how the cost report's advice turns RU/s into RU a month and back",
    example: '5',
  }),
  COST_CACHE_TIER: optionalText(undefined, {
    unset: 'by `REDIS_URL`',
    description:
      'the cache tier priced, a name in the price table; unset, `azure-managed-redis-b0` with `REDIS_URL`, else `none`',
    example: 'azure-cache-standard-c1',
  }),
  COST_PRICES_PATH: optionalText(undefined, {
    unset: 'built-in table',
    description: 'a JSON file of price overrides (nested like the built-in table, dated 2025-11)',
    example: 'prices.json',
  }),

  APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText(undefined, {
    unset: 'no Azure Monitor',
    secret: true,
    description: 'traces, metrics and logs also go to Azure Monitor (Application Insights)',
    example: 'InstrumentationKey=...;IngestionEndpoint=...',
  }),
  ALERT_WEBHOOK_URL: optionalText('http-url', {
    unset: 'no webhook',
    secret: true,
    description: 'each alert change (firing, resolved) of the in-process evaluator is POSTed here',
    example: 'https://hooks.example.net/billing-alerts',
  }),
  ALERT_EVALUATION_INTERVAL: text('fixed-duration', {
    default: 'PT15S',
    description: 'how often the in-process evaluator computes the alert rules',
    example: 'PT5S',
  }),
  CONSOLE_CLIENT_ID: optionalText(undefined, {
    unset: 'no Entra ID sign-in',
    description:
      'Entra ID app (client) id of the console at `/console`: MSAL sign-in (auth code + PKCE) with `AUTH_JWKS_URI`',
    example: '00000000-0000-0000-0000-000000000000',
  }),

  AUDIT_CONTAINER: text('blob-container', {
    default: RESOURCE_NAMES.auditContainer,
    description:
      'audit trail append blobs (a blob per day and instance) with Blob Storage; put it under a time-based immutability policy',
    example: 'billing-audit',
  }),
  RATE_LIMIT_PER_PRINCIPAL: integer(0, 10_000_000, {
    default: 1200,
    description: 'requests a minute per token subject (`0`: no limit); shared through Redis with `REDIS_URL`',
    example: '600',
  }),
  RATE_LIMIT_PER_CUSTOMER: integer(0, 10_000_000, {
    default: 3000,
    description: 'requests a minute per customer, whoever asks (`0`: no limit)',
    example: '1200',
  }),
  RATE_LIMIT_SCANNING: integer(0, 10_000_000, {
    default: 30,
    description: 'requests a minute per subject to admin routes that scan (audit, holds, status, costs)',
    example: '10',
  }),
  TLS_CERT_PATH: optionalText(undefined, {
    unset: 'plain HTTP',
    description: 'PEM certificate (chain): the server speaks HTTPS, with HSTS; needs `TLS_KEY_PATH`',
    example: '/etc/billing/tls/cert.pem',
  }),
  TLS_KEY_PATH: optionalText(undefined, {
    unset: 'plain HTTP',
    description: 'PEM private key of `TLS_CERT_PATH`',
    example: '/etc/billing/tls/key.pem',
  }),
  NODE_ENV: optionalText(undefined, {
    unset: 'development',
    description: '`production` refuses non-TLS remote endpoints at start (so does Azure Functions)',
    example: 'production',
  }),
  ALLOW_INSECURE_ENDPOINTS: text('flag', {
    default: 'false',
    description: 'in production, start despite non-TLS remote endpoints (logged loudly at every start)',
    example: 'true',
  }),
  FUNCTIONS_WORKER_RUNTIME: optionalText(undefined, {
    unset: 'not under Azure Functions',
    description: 'set by the Functions host; there, Cosmos, Blob and archival queue settings are required',
    example: 'node',
  }),
});

export type Settings = Static<typeof SettingsSchema>;
export type SettingName = keyof Settings;

/** Every setting the schema knows, in the README's order. */
export const SETTING_NAMES = Object.keys(SettingsSchema.properties) as readonly SettingName[];

/** What the schema says about one setting, read back for messages and documentation. */
export interface SettingDescription {
  readonly name: SettingName;
  readonly description: string;
  readonly example: string;
  /** As the environment spells it; undefined when `unset` says what happens instead. */
  readonly default: string | undefined;
  readonly unset: string | undefined;
  readonly secret: boolean;
  /** Ends the sentence "NAME must be ...". */
  readonly mustBe: string;
}

interface SettingAnnotations {
  readonly type?: string;
  readonly format?: SettingFormat;
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly default?: string | number;
  readonly description: string;
  readonly examples: readonly string[];
  readonly unset?: string;
  readonly secret?: boolean;
}

export function describeSetting(name: SettingName): SettingDescription {
  const schema = (SettingsSchema.properties as Record<SettingName, TSchema>)[name] as SettingAnnotations;
  return {
    name,
    description: schema.description,
    example: schema.examples[0] ?? '',
    default: schema.default === undefined ? undefined : String(schema.default),
    unset: schema.unset,
    secret: schema.secret === true,
    mustBe: mustBe(schema),
  };
}

function mustBe(schema: SettingAnnotations): string {
  if (schema.format !== undefined) return SETTING_FORMATS[schema.format].mustBe;
  if (schema.enum !== undefined) return `one of ${schema.enum.join(', ')}`;
  if (schema.type === 'integer') return `an integer from ${schema.minimum ?? ''} to ${schema.maximum ?? ''}`;
  return 'a non-empty string';
}

function isCron(value: string): boolean {
  try {
    new Cron(value, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

function hasProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
