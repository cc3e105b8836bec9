// Azurite's Queue service started in this process, in memory, on a free port: the Storage queue that
// admin-started archival runs go through under Azure Functions, for tests.
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface AzuriteQueueServer {
  readonly httpServer: Server;
  start(): Promise<void>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const { default: QueueServer } = require('azurite/dist/src/queue/QueueServer.js') as {
  default: new (configuration: unknown) => AzuriteQueueServer;
};
const { default: QueueConfiguration } = require('azurite/dist/src/queue/QueueConfiguration.js') as {
  default: new (...args: unknown[]) => unknown;
};
const { MemoryExtentChunkStore } = require('azurite/dist/src/common/persistence/MemoryExtentStore.js') as {
  MemoryExtentChunkStore: new () => unknown;
};

const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteQueue {
  readonly queueEndpoint: string;
  readonly connectionString: string;
  stop(): Promise<void>;
}

export async function startAzuriteQueue(): Promise<AzuriteQueue> {
  const folder = tmpdir();
  const configuration = new QueueConfiguration(
    '127.0.0.1',
    0,
    5,
    join(folder, 'unused-queue-db.json'),
    join(folder, 'unused-queue-extent-db.json'),
    [{ locationId: 'Default', locationPath: join(folder, 'unused-queue'), maxConcurrency: 1 }],
    false,
    undefined,
    false,
    undefined,
    false,
    true, // the SDK speaks a newer API version than this Azurite release knows
    '',
    '',
    '',
    undefined,
    true,
    true, // in memory
    new MemoryExtentChunkStore(),
  );
  const server = new QueueServer(configuration);
  await server.start();
  const { port } = server.httpServer.address() as AddressInfo;
  const queueEndpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    queueEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};QueueEndpoint=${queueEndpoint};`,
    async stop() {
      const closed = new Promise<void>((resolve) => server.httpServer.once('close', () => resolve()));
      await server.close();
      await closed;
    },
  };
}
