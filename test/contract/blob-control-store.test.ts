import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { text } from 'node:stream/consumers';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedAzurite, startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import { BlobControlStore } from '../../src/adapters/blob/blob-control-store.ts';
import type { ErrorCode } from '../../src/domain/errors.ts';
import type { Lease } from '../../src/ports/archival-control-store.ts';
import { describeControlStoreContract } from './archival-control-store.contract.ts';

describeControlStoreContract(
  'blob (Azurite in memory)',
  async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    const store = await BlobControlStore.connect({
      connectionString: azurite.connectionString,
      containerName: 'billing-archive-control',
    });
    return {
      store,
      dispose: async () => {
        await store.close();
        await azurite.stop();
      },
    };
  },
  { ownsClock: false },
);

describe('BlobControlStore against Azurite', () => {
  const containerName = 'billing-archive-control';
  let azurite: EmbeddedAzurite;
  let store: BlobControlStore;
  let container: ContainerClient;

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    store = await BlobControlStore.connect({ connectionString: azurite.connectionString, containerName });
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      containerName,
    );
  });
  afterAll(async () => {
    await store?.close();
    await azurite?.stop();
  });

  async function stored(name: string): Promise<{ body: string; accessTier?: string; contentType?: string }> {
    const blob = container.getBlockBlobClient(name);
    const properties = await blob.getProperties();
    const download = await blob.download();
    return {
      body: await text(download.readableStreamBody!),
      ...(properties.accessTier !== undefined ? { accessTier: properties.accessTier } : {}),
      ...(properties.contentType !== undefined ? { contentType: properties.contentType } : {}),
    };
  }

  it('creates its own container and keeps documents there as JSON block blobs in the Hot tier', async () => {
    expect(await container.exists()).toBe(true);
    const value = { watermark: '2024-05-31', counts: { copied: 2 } };
    const etag = await store.write('slices/2024-05', value, {});
    expect(await stored('slices/2024-05')).toEqual({
      body: JSON.stringify(value),
      accessTier: 'Hot',
      contentType: 'application/json',
    });
    expect(etag).toBe((await container.getBlockBlobClient('slices/2024-05').getProperties()).etag);
  });

  it('creates a leased document absent before as the JSON null, in the Hot tier', async () => {
    const lease = await store.acquireLease('slices/2024-06', 15);
    expect(await stored('slices/2024-06')).toEqual({
      body: 'null',
      accessTier: 'Hot',
      contentType: 'application/json',
    });
    const properties = await container.getBlockBlobClient('slices/2024-06').getProperties();
    expect(properties).toMatchObject({ leaseState: 'leased', leaseDuration: 'fixed' });
    await store.releaseLease(lease!);
    expect(await container.getBlockBlobClient('slices/2024-06').getProperties()).toMatchObject({
      leaseState: 'available',
    });
  });

  it('lists every page of a prefix', async () => {
    const paged = await BlobControlStore.connect({
      connectionString: azurite.connectionString,
      containerName,
      listPageSize: 2,
    });
    const names = ['runs/r-5', 'runs/r-1', 'runs/r-3', 'runs/r-2', 'runs/r-4'];
    for (const name of names) await paged.write(name, { name }, {});
    expect(await paged.list('runs/')).toEqual([...names].sort());
    await paged.close();
  });

  it('refuses a list page size the service would not take', async () => {
    for (const listPageSize of [0, 5_001, 2.5]) {
      await expect(
        BlobControlStore.connect({ connectionString: azurite.connectionString, containerName, listPageSize }),
      ).rejects.toMatchObject({ code: 'INTERNAL' });
    }
  });

  it('keeps a second worker (another store on the same container) off a leased document', async () => {
    const other = await BlobControlStore.connect({
      connectionString: azurite.connectionString,
      containerName,
    });
    const lease = (await store.acquireLease('slices/2024-07', 15))!;
    expect(await other.acquireLease('slices/2024-07', 15)).toBeUndefined();
    await expect(other.write('slices/2024-07', 'theirs', {})).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    await expect(other.write('slices/2024-07', 'theirs', { lease: { ...lease } })).resolves.toMatch(/^".+"$/);
    await store.releaseLease(lease);
    const theirs = await other.acquireLease('slices/2024-07', 15);
    expect(theirs).toBeDefined();
    await other.releaseLease(theirs!);
    await other.close();
  });

  it('answers INTERNAL for a document that is not JSON', async () => {
    await container.getBlockBlobClient('slices/garbage').upload('{not json', 9);
    await expect(store.read('slices/garbage')).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});

describe('BlobControlStore when Blob is down or the store is closed', () => {
  it('answers UNAVAILABLE (retryable) within seconds once Azurite is stopped', async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    const store = await BlobControlStore.connect({
      connectionString: azurite.connectionString,
      containerName: 'control',
    });
    await azurite.stop();
    const started = performance.now();
    const calls: Array<() => Promise<unknown>> = [
      () => store.read('a'),
      () => store.write('a', 1, {}),
      () => store.list(''),
      () => store.acquireLease('a', 15),
      () => store.renewLease({ name: 'a', leaseId: '00000000-0000-0000-0000-000000000000' }),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    }
    expect(performance.now() - started).toBeLessThan(10_000);
    await store.close();
  });

  it('refuses calls once closed', async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    const store = await BlobControlStore.connect({
      connectionString: azurite.connectionString,
      containerName: 'control',
    });
    await store.close();
    await expect(store.read('a')).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    await expect(store.acquireLease('a', 15)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retryable: false,
    });
    await azurite.stop();
  });
});

const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/**
 * A stand-in for Blob Storage, for answers Azurite never gives (or gives in another order than Azure):
 * creates the container, then answers every other request with `answer`, recording what it was sent.
 */
async function startFakeBlob(
  answer: (request: SeenRequest) => { status: number; code?: string; headers?: Record<string, string> },
): Promise<{ server: Server; connectionString: string; seen: SeenRequest[] }> {
  const seen: SeenRequest[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'PUT' && request.url?.includes('restype=container') === true) {
        response.writeHead(201).end();
        return;
      }
      const recorded = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(recorded);
      const { status, code, headers = {} } = answer(recorded);
      if (code === undefined) {
        response.writeHead(status, headers).end();
        return;
      }
      response
        .writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, ...headers })
        .end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/devstoreaccount1`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${ACCOUNT_KEY};BlobEndpoint=${endpoint};`;
  return { server, connectionString, seen };
}

describe('BlobControlStore against answers Azurite does not give', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  async function storeAnswering(
    answer: Parameters<typeof startFakeBlob>[0],
  ): Promise<{ store: BlobControlStore; seen: SeenRequest[] }> {
    const fake = await startFakeBlob(answer);
    servers.push(fake.server);
    const store = await BlobControlStore.connect({
      connectionString: fake.connectionString,
      containerName: 'control',
      timeouts: { maxTries: 1 },
    });
    return { store, seen: fake.seen };
  }

  it('creates an absent document create-only before leasing it, and loses cleanly to a worker that leased it first', async () => {
    let leaseRequests = 0;
    const { store, seen } = await storeAnswering((request) => {
      if (request.url.includes('comp=lease')) {
        leaseRequests++;
        return leaseRequests === 1
          ? { status: 404, code: 'BlobNotFound' }
          : { status: 409, code: 'LeaseAlreadyPresent' };
      }
      // Another worker created the document between our lease attempt and our create.
      return { status: 409, code: 'BlobAlreadyExists' };
    });
    expect(await store.acquireLease('slices/2024-05', 15)).toBeUndefined();
    expect(seen.map((request) => request.method)).toEqual(['PUT', 'PUT', 'PUT']);
    expect(seen[1]?.headers).toMatchObject({
      'if-none-match': '*',
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-access-tier': 'Hot',
      'x-ms-blob-content-type': 'application/json',
    });
    expect(seen[1]?.body).toBe('null');
    // Both lease attempts proposed the same id, so a retried acquire whose answer was lost gets its lease back.
    expect(seen[2]?.headers['x-ms-proposed-lease-id']).toBe(seen[0]?.headers['x-ms-proposed-lease-id']);
  });

  it('sends the conditions and the lease id with a write, to the Hot tier', async () => {
    const { store, seen } = await storeAnswering(() => ({ status: 201, headers: { etag: '"0x1"' } }));
    const lease: Lease = { name: 'slices/2024-05', leaseId: '11111111-2222-3333-4444-555555555555' };
    expect(await store.write('slices/2024-05', { a: 1 }, { ifMatch: '"0x0"', lease })).toBe('"0x1"');
    expect(seen[0]?.headers).toMatchObject({
      'if-match': '"0x0"',
      'x-ms-lease-id': lease.leaseId,
      'x-ms-access-tier': 'Hot',
      'x-ms-blob-content-type': 'application/json',
    });
    expect(seen[0]?.body).toBe('{"a":1}');
  });

  const ifNoneMatch = { ifNoneMatch: '*' } as const;
  const lease: Lease = { name: 'doc', leaseId: '11111111-2222-3333-4444-555555555555' };
  it.each<{
    status: number;
    code: string;
    condition: Parameters<BlobControlStore['write']>[2];
    expected: ErrorCode;
  }>([
    // Azure may check the lease before If-None-Match; a lease on the blob proves it exists all the same.
    { status: 412, code: 'LeaseIdMissing', condition: ifNoneMatch, expected: 'ALREADY_EXISTS' },
    {
      status: 412,
      code: 'LeaseIdMismatchWithBlobOperation',
      condition: { ...ifNoneMatch, lease },
      expected: 'ALREADY_EXISTS',
    },
    { status: 412, code: 'ConditionNotMet', condition: ifNoneMatch, expected: 'ALREADY_EXISTS' },
    {
      status: 412,
      code: 'LeaseNotPresentWithBlobOperation',
      condition: { ...ifNoneMatch, lease },
      expected: 'PRECONDITION_FAILED',
    },
    { status: 412, code: 'LeaseIdMissing', condition: {}, expected: 'PRECONDITION_FAILED' },
    // If-Match on an absent blob: answered 404 by some service versions, 412 by others.
    { status: 404, code: 'BlobNotFound', condition: { ifMatch: '"0x1"' }, expected: 'PRECONDITION_FAILED' },
    { status: 404, code: 'ContainerNotFound', condition: {}, expected: 'UNAVAILABLE' },
    { status: 409, code: 'BlobArchived', condition: {}, expected: 'INTERNAL' },
  ])('maps a write answered $status $code to $expected', async ({ status, code, condition, expected }) => {
    const { store } = await storeAnswering(() => ({ status, code }));
    await expect(store.write('doc', 1, condition)).rejects.toMatchObject({ code: expected });
  });

  it('answers a renewal refused with 409 as a lost lease, and other failures as errors', async () => {
    let answer: { status: number; code: string } = { status: 409, code: 'LeaseIsBrokenAndCannotBeRenewed' };
    const { store } = await storeAnswering(() => answer);
    expect(await store.renewLease(lease)).toBe(false);
    answer = { status: 503, code: 'ServerBusy' };
    await expect(store.renewLease(lease)).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    await expect(store.releaseLease(lease)).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });
});
