// Azurite's Blob service started in this process: the embedded archive for `npm start` and the tests.
// Azurite ships no typings for its server classes, so the few members used here are declared below.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface EmbeddedAzuriteOptions {
  /** Metadata db and extents live here (ignored in memory). */
  readonly folder: string;
  /** 0 picks a free port; the one bound is read back. */
  readonly port: number;
  /** Nothing touches the disk: for tests. */
  readonly inMemory?: boolean;
  /**
   * On disk, answer a write only once Azurite's index is saved (default true): otherwise a killed
   * process loses up to 5 s of acknowledged blobs. Benchmarks that never crash may turn it off.
   */
  readonly durableWrites?: boolean;
}

export interface EmbeddedAzurite {
  readonly blobEndpoint: string;
  readonly connectionString: string;
  stop(): Promise<void>;
}

interface LokiDatabase {
  saveDatabase(callback: (error?: Error | null) => void): void;
}

interface AzuriteBlobServer {
  readonly httpServer: Server;
  readonly metadataStore: { readonly db: LokiDatabase };
  readonly extentMetadataStore: { readonly db: LokiDatabase };
  start(): Promise<void>;
  close(): Promise<void>;
}

interface PersistenceLocation {
  readonly locationId: string;
  readonly locationPath: string;
  readonly maxConcurrency: number;
}

type BlobConfigurationConstructor = new (
  host: string,
  port: number,
  keepAliveTimeoutSeconds: number,
  metadataDbPath: string,
  extentDbPath: string,
  persistencePaths: readonly PersistenceLocation[],
  enableAccessLog: boolean,
  accessLogStream: undefined,
  enableDebugLog: boolean,
  debugLogPath: undefined,
  loose: boolean,
  skipApiVersionCheck: boolean,
  cert: string,
  key: string,
  pwd: string,
  oauth: undefined,
  disableProductStyleUrl: boolean,
  isMemoryPersistence: boolean,
  memoryStore: unknown,
) => unknown;

const require = createRequire(import.meta.url);
const { default: BlobServer } = withoutDiagnosticChannel(
  () =>
    require('azurite/dist/src/blob/BlobServer.js') as {
      default: new (configuration: unknown) => AzuriteBlobServer;
    },
);
const { default: BlobConfiguration } = require('azurite/dist/src/blob/BlobConfiguration.js') as {
  default: BlobConfigurationConstructor;
};
const { MemoryExtentChunkStore } = require('azurite/dist/src/common/persistence/MemoryExtentStore.js') as {
  MemoryExtentChunkStore: new (sizeLimitBytes?: number) => unknown;
};
const { EMULATOR_ACCOUNT_NAME, EMULATOR_ACCOUNT_KEY_STR } =
  require('azurite/dist/src/blob/utils/constants.js') as {
    EMULATOR_ACCOUNT_NAME: string;
    EMULATOR_ACCOUNT_KEY_STR: string;
  };

const HOST = '127.0.0.1';
// Azurite's own default file names, so a folder written by the azurite CLI opens here too.
const METADATA_DB_FILE = '__azurite_db_blob__.json';
const EXTENT_DB_FILE = '__azurite_db_blob_extent__.json';
const EXTENT_FOLDER = '__blobstorage__';

/**
 * Azurite's request pipeline loads its usage telemetry SDK (applicationinsights 2, which Azurite never
 * starts here). Loaded as it is, that SDK patches console, the Azure SDK's tracing and OpenTelemetry's
 * tracer provider to publish on its diagnostic channel, a cost on every span of this process. Its own
 * opt-out, read once as it loads, is set for that load only: child processes and an application's own
 * applicationinsights loaded later do not inherit it.
 */
function withoutDiagnosticChannel<T>(load: () => T): T {
  const name = 'APPLICATION_INSIGHTS_NO_DIAGNOSTIC_CHANNEL';
  const before = process.env[name];
  process.env[name] = 'true';
  try {
    return load();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

export async function startEmbeddedAzurite(options: EmbeddedAzuriteOptions): Promise<EmbeddedAzurite> {
  const inMemory = options.inMemory ?? false;
  if (!inMemory) mkdirSync(join(options.folder, EXTENT_FOLDER), { recursive: true });
  const configuration = new BlobConfiguration(
    HOST,
    options.port,
    5,
    join(options.folder, METADATA_DB_FILE),
    join(options.folder, EXTENT_DB_FILE),
    // A fresh array: Azurite's default one is a module-level object its CLI mutates.
    [{ locationId: 'Default', locationPath: join(options.folder, EXTENT_FOLDER), maxConcurrency: 10 }],
    false, // no access log: it would go to stdout
    undefined,
    false,
    undefined,
    false, // strict mode is enough: every header this project sends is supported
    true, // the SDK speaks a newer API version than this Azurite release knows
    '',
    '',
    '',
    undefined,
    true, // the account is always the first path segment, whatever the host name
    inMemory,
    // Its own chunk store: the shared default would let two in-memory instances clear each other's data.
    inMemory ? new MemoryExtentChunkStore() : undefined,
  );
  const server = new BlobServer(configuration);
  if (!inMemory && options.durableWrites !== false) saveBeforeAnswering(server);
  await server.start();
  const { port } = server.httpServer.address() as AddressInfo;
  const blobEndpoint = `http://${HOST}:${port}/${EMULATOR_ACCOUNT_NAME}`;
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${EMULATOR_ACCOUNT_NAME};` +
    `AccountKey=${EMULATOR_ACCOUNT_KEY_STR};BlobEndpoint=${blobEndpoint};`;

  let stopping: Promise<void> | undefined;
  return {
    blobEndpoint,
    connectionString,
    stop() {
      stopping ??= (async () => {
        // Azurite's close() starts the socket shutdown without waiting for it; wait, so the port is free.
        const closed = new Promise<void>((resolve) => server.httpServer.once('close', () => resolve()));
        await server.close();
        await closed;
      })();
      return stopping;
    },
  };
}

/**
 * Azurite keeps its blob index in LokiJS, saved to disk every 5 s: a crash (SIGKILL, power cut) would
 * lose blobs it had acknowledged, after the archiver purged their bodies. Hold every write's answer
 * until both indexes are saved (Loki coalesces concurrent saves and writes each file by rename).
 */
function saveBeforeAnswering(server: AzuriteBlobServer): void {
  const listeners = server.httpServer.listeners('request') as Array<
    (request: IncomingMessage, response: ServerResponse) => void
  >;
  server.httpServer.removeAllListeners('request');
  const save = (db: LokiDatabase): Promise<void> =>
    new Promise((resolve, reject) => db.saveDatabase((error) => (error ? reject(error) : resolve())));
  server.httpServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
      response.end = ((...args: unknown[]) => {
        Promise.all([save(server.metadataStore.db), save(server.extentMetadataStore.db)]).then(
          () => end(...args),
          (error: unknown) => response.destroy(error as Error),
        );
        return response;
      }) as ServerResponse['end'];
    }
    for (const listener of listeners) listener(request, response);
  });
}

const ENDPOINT_FILE = 'endpoint.json';

/**
 * One embedded Azurite per data folder: a second process (the CLI beside `npm start`) uses the one
 * already serving the folder, found through a small file it publishes; two Azurites on one folder
 * would overwrite each other's metadata.
 */
export async function shareOrStartEmbeddedAzurite(
  options: EmbeddedAzuriteOptions,
): Promise<EmbeddedAzurite & { readonly shared: boolean }> {
  const file = join(options.folder, ENDPOINT_FILE);
  const published = readPublished(file);
  if (published !== undefined && (await answers(published.blobEndpoint))) {
    return { ...published, shared: true, stop: () => Promise.resolve() };
  }
  const started = await startEmbeddedAzurite(options);
  mkdirSync(options.folder, { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({
      blobEndpoint: started.blobEndpoint,
      connectionString: started.connectionString,
      pid: process.pid,
    }),
  );
  return {
    ...started,
    shared: false,
    async stop() {
      rmSync(file, { force: true });
      await started.stop();
    },
  };
}

function readPublished(file: string): { blobEndpoint: string; connectionString: string } | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as {
      blobEndpoint?: unknown;
      connectionString?: unknown;
      pid?: unknown;
    };
    if (typeof value.blobEndpoint !== 'string' || typeof value.connectionString !== 'string')
      return undefined;
    if (typeof value.pid === 'number') process.kill(value.pid, 0); // throws when that process is gone
    return { blobEndpoint: value.blobEndpoint, connectionString: value.connectionString };
  } catch {
    return undefined;
  }
}

async function answers(blobEndpoint: string): Promise<boolean> {
  try {
    // Any HTTP answer (an auth error included) means an Azurite is listening there.
    await fetch(`${blobEndpoint}?comp=list`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}
