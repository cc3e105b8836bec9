import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import { BlobArchiveStore } from '../../src/adapters/blob/blob-archive-store.ts';
import type { BlobTimeouts } from '../../src/adapters/blob/blob-connection.ts';
import { type AppError, isAppError } from '../../src/domain/errors.ts';
import { archiveUploadRequest } from '../../src/archival/copy-step.ts';
import { buildArchiveArtifact } from '../../src/domain/archive-artifact.ts';
import { type PutBlobRequest, withoutTier } from '../../src/ports/archive-store.ts';
import { startCaptureProxy } from '../support/http-capture-proxy.ts';
import { makeRecord } from '../support/record-fixtures.ts';
import { describeArchiveStoreContract } from './archive-store.contract.ts';

const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

describeArchiveStoreContract('blob (Azurite in memory)', async () => {
  const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
  const store = await BlobArchiveStore.connect({
    connectionString: azurite.connectionString,
    containerName: 'archive',
  });
  return {
    store,
    dispose: async () => {
      await store.close();
      await azurite.stop();
    },
  };
});

describeArchiveStoreContract('blob (Azurite on disk)', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'azurite-contract-'));
  const azurite = await startEmbeddedAzurite({ folder, port: 0 });
  const store = await BlobArchiveStore.connect({
    connectionString: azurite.connectionString,
    containerName: 'archive',
  });
  return {
    store,
    dispose: async () => {
      await store.close();
      await azurite.stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
});

const blob = (path: string): PutBlobRequest => ({
  path,
  body: gzipSync(JSON.stringify({ path })),
  contentType: 'application/json',
  contentEncoding: 'gzip',
  metadata: { sha256: 'ab12', recordVersion: '1' },
  accessTier: 'Cold',
});

function definedOnly(headers: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function connectionStringFor(endpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${ACCOUNT_KEY};BlobEndpoint=${endpoint}/devstoreaccount1;`;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!isAppError(error)) throw new Error(`expected an AppError, got ${String(error)}`, { cause: error });
  return error;
}

/** A stand-in for Blob Storage: creates the container, then answers every other request with `handle`. */
async function startFakeBlob(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<{
  endpoint: string;
  server: Server;
}> {
  const server = createServer((request, response) => {
    if (request.method === 'PUT' && request.url?.includes('restype=container') === true) {
      response.writeHead(201).end();
      return;
    }
    handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('BlobArchiveStore against Azurite', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('keeps blobs across a stop and a restart of embedded Azurite on the same folder', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'azurite-restart-'));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const first = await startEmbeddedAzurite({ folder, port: 0 });
    const before = await BlobArchiveStore.connect({
      connectionString: first.connectionString,
      containerName: 'archive',
    });
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz');
    const created = await before.putIfAbsent(request);
    await before.close();
    await first.stop();

    // The same port again: stop() has released it.
    const port = Number(new URL(first.blobEndpoint).port);
    const second = await startEmbeddedAzurite({ folder, port });
    expect(second.blobEndpoint).toBe(first.blobEndpoint);
    cleanups.push(() => second.stop());
    const after = await BlobArchiveStore.connect({
      connectionString: second.connectionString,
      containerName: 'archive',
    });
    cleanups.push(() => after.close());
    const read = await after.get(request.path);
    expect(Buffer.from(read!.body).equals(Buffer.from(request.body))).toBe(true);
    expect(read?.properties).toEqual(withoutTier(created));
    expect((await after.list('2024/', { pageSize: 10 })).items.map((item) => item.path)).toEqual([
      request.path,
    ]);
    await expect(after.putIfAbsent(request)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  // Storage Blob Data Contributor grants blobs read, write, delete, add and move; not tags/read or
  // tags/write (x-ms-tags, comp=tags, x-ms-if-tags, find by tags), not immutability or legal hold.
  // Azurite with a shared key accepts all of them, so the requests themselves are inspected.
  it('sends nothing that needs more than Storage Blob Data Contributor, the archival upload included', async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    cleanups.push(() => azurite.stop());
    const proxy = await startCaptureProxy(azurite.blobEndpoint);
    cleanups.push(() => proxy.stop());
    const store = await BlobArchiveStore.connect({
      connectionString: connectionStringFor(proxy.origin),
      containerName: 'archive',
    });
    cleanups.push(() => store.close());
    const upload = archiveUploadRequest(buildArchiveArtifact(makeRecord({ customerId: 'cust-roles' })));
    const created = await store.putIfAbsent(upload);
    await expect(store.putIfAbsent(upload)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await store.get(upload.path);
    await store.getProperties(upload.path);
    const touched = await store.touch(upload.path, { ifMatch: created.etag });
    await store.list('', { pageSize: 10 });
    await store.ping();
    expect(await store.delete(upload.path, { ifMatch: touched!.etag })).toBe(true);

    const uploads = proxy.requests.filter(
      (request) => request.method === 'PUT' && request.headers['x-ms-blob-type'] === 'BlockBlob',
    );
    expect(uploads).toHaveLength(2);
    expect(uploads[0]?.headers).toMatchObject({ 'if-none-match': '*', 'x-ms-access-tier': 'Cold' });
    expect(proxy.requests.length).toBeGreaterThan(8);
    for (const request of proxy.requests) {
      const query = new URL(request.url, proxy.origin).searchParams;
      const beyondContributor = Object.keys(request.headers).filter((name) =>
        /^x-ms-(tags|if-tags|immutability-policy|legal-hold)/.test(name),
      );
      expect({ request: `${request.method} ${request.url}`, beyondContributor }).toEqual({
        request: `${request.method} ${request.url}`,
        beyondContributor: [],
      });
      expect(['tags', 'immutabilityPolicies', 'legalhold', 'blobs']).not.toContain(query.get('comp'));
    }
  });

  it('keeps the metadata names’ case through a touch, as a listing shows them', async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    cleanups.push(() => azurite.stop());
    const store = await BlobArchiveStore.connect({
      connectionString: azurite.connectionString,
      containerName: 'archive',
    });
    cleanups.push(() => store.close());
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz');
    const created = await store.putIfAbsent(request);
    // A neighbour the path prefixes: the touch must rewrite the blob itself, not the first name listed.
    const neighbour = await store.putIfAbsent(blob(`${request.path}.bak`));
    const touched = await store.touch(request.path, { ifMatch: created.etag });
    expect(touched?.etag).not.toBe(created.etag);

    // Data tools that read the archive (a stub rebuild, say) see the names as first written.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'archive',
    );
    const listed = new Map<string, Record<string, string> | undefined>();
    for await (const item of container.listBlobsFlat({ prefix: '2024/', includeMetadata: true })) {
      listed.set(item.name, item.metadata);
    }
    expect(listed.get(request.path)).toEqual({ sha256: 'ab12', recordVersion: '1' });
    expect((await store.getProperties(neighbour.path))?.etag).toBe(neighbour.etag);
  });

  it('answers UNAVAILABLE (retryable) within seconds once Azurite is stopped', async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    const store = await BlobArchiveStore.connect({
      connectionString: azurite.connectionString,
      containerName: 'archive',
    });
    cleanups.push(() => store.close());
    await store.putIfAbsent(blob('kept.json.gz'));
    await azurite.stop();

    const started = performance.now();
    const pingError = await rejection(store.ping());
    const getError = await rejection(store.get('kept.json.gz'));
    expect(performance.now() - started).toBeLessThan(5_000);
    for (const error of [pingError, getError]) {
      expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true, status: 503 });
      expect(error.message).toMatch(/ECONNREFUSED/);
    }
  });

  it('fails to connect with UNAVAILABLE when nothing listens', async () => {
    const azurite = await startEmbeddedAzurite({ folder: tmpdir(), port: 0, inMemory: true });
    await azurite.stop();
    const error = await rejection(
      BlobArchiveStore.connect({ connectionString: azurite.connectionString, containerName: 'archive' }),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });
});

describe('BlobArchiveStore error mapping', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  const fastFail: Partial<BlobTimeouts> = { maxTries: 1, operationTimeoutMs: 5_000 };

  async function storeAnswering(
    status: number,
    headers: Readonly<Record<string, string | undefined>>,
  ): Promise<BlobArchiveStore> {
    const fake = await startFakeBlob((_request, response) => {
      const code =
        status === 503 ? 'ServerBusy' : status === 429 ? 'TooManyRequests' : 'AuthorizationFailure';
      response
        .writeHead(status, {
          'content-type': 'application/xml',
          'x-ms-error-code': code,
          ...definedOnly(headers),
        })
        .end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>m</Message></Error>`);
    });
    servers.push(fake.server);
    return BlobArchiveStore.connect({
      connectionString: connectionStringFor(fake.endpoint),
      containerName: 'archive',
      timeouts: fastFail,
    });
  }

  it.each([
    { status: 503, headers: { 'retry-after': '2' }, retryable: true, retryAfterMs: 2_000 },
    { status: 429, headers: { 'retry-after': '1' }, retryable: true, retryAfterMs: 1_000 },
    { status: 500, headers: {}, retryable: true, retryAfterMs: undefined },
    { status: 403, headers: {}, retryable: false, retryAfterMs: undefined },
  ])(
    'maps HTTP $status to UNAVAILABLE (retryable: $retryable)',
    async ({ status, headers, retryable, retryAfterMs }) => {
      const store = await storeAnswering(status, headers);
      for (const call of [
        store.ping(),
        store.getProperties('a.json.gz'),
        store.putIfAbsent(blob('b.json.gz')),
      ]) {
        const error = await rejection(call);
        expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable, retryAfterMs });
        expect(error.cause).toBeDefined();
      }
    },
  );

  it('uploads create-only, straight to the tier, with a Content-MD5 the service checks', async () => {
    let seen: IncomingMessage['headers'] = {};
    const fake = await startFakeBlob((request, response) => {
      seen = request.headers;
      request.resume();
      request.on('end', () =>
        response.writeHead(201, { etag: '"0x1"', 'last-modified': new Date(0).toUTCString() }).end(),
      );
    });
    servers.push(fake.server);
    const store = await BlobArchiveStore.connect({
      connectionString: connectionStringFor(fake.endpoint),
      containerName: 'archive',
    });
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz');
    const created = await store.putIfAbsent(request);
    const md5 = createHash('md5').update(request.body).digest('base64');
    expect(seen).toMatchObject({
      'if-none-match': '*',
      'content-md5': md5,
      'x-ms-blob-content-md5': md5,
      'x-ms-blob-content-type': 'application/json',
      'x-ms-blob-content-encoding': 'gzip',
      'x-ms-access-tier': 'Cold',
      'x-ms-meta-sha256': 'ab12',
      'x-ms-meta-recordversion': '1',
    });
    expect(created).toMatchObject({
      etag: '"0x1"',
      contentMd5: md5,
      accessTier: 'Cold',
      createdOn: new Date(0),
    });
  });

  /** Answers HEAD with `stored` as the blob's recorded properties and GET with `served(ifMatch)`. */
  async function storeServing(
    stored: { body: Buffer; etag: () => string },
    served: (ifMatch: string | undefined) => { status: number; body?: Buffer },
  ): Promise<{ store: BlobArchiveStore; gets: () => number; heads: () => number }> {
    let gets = 0;
    let heads = 0;
    const fake = await startFakeBlob((request, response) => {
      const headers = {
        etag: stored.etag(),
        'content-md5': createHash('md5').update(stored.body).digest('base64'),
        'content-type': 'application/json',
        'x-ms-blob-type': 'BlockBlob',
        'x-ms-access-tier': 'Cold',
        'x-ms-creation-time': new Date(0).toUTCString(),
        'last-modified': new Date(0).toUTCString(),
      };
      if (request.method === 'HEAD') {
        heads++;
        response.writeHead(200, { ...headers, 'content-length': String(stored.body.byteLength) }).end();
        return;
      }
      gets++;
      const answer = served(request.headers['if-match']);
      if (answer.status !== 200) {
        response.writeHead(answer.status, { 'x-ms-error-code': 'ConditionNotMet' }).end();
        return;
      }
      response
        .writeHead(200, { ...headers, 'content-length': String(answer.body!.byteLength) })
        .end(answer.body);
    });
    servers.push(fake.server);
    const store = await BlobArchiveStore.connect({
      connectionString: connectionStringFor(fake.endpoint),
      containerName: 'archive',
    });
    return { store, gets: () => gets, heads: () => heads };
  }

  it('never serves bytes whose MD5 differs from the recorded one (ARCHIVE_INTEGRITY), after reading again', async () => {
    const good = Buffer.from('the archived bytes');
    const { store, gets } = await storeServing({ body: good, etag: () => '"0x1"' }, () => ({
      status: 200,
      body: Buffer.from('the damaged bytes!'),
    }));
    expect(await rejection(store.get('a.json.gz'))).toMatchObject({
      code: 'ARCHIVE_INTEGRITY',
      retryable: false,
    });
    expect(gets()).toBe(3);
  });

  it('reads a blob with one request, its properties taken from the answer that carried the bytes', async () => {
    const body = Buffer.from('the archived bytes');
    const { store, gets, heads } = await storeServing({ body, etag: () => '"0x7"' }, () => ({
      status: 200,
      body,
    }));
    const read = await store.get('a.json.gz');
    expect(Buffer.from(read!.body).toString()).toBe('the archived bytes');
    expect(read?.properties).toMatchObject({
      path: 'a.json.gz',
      size: body.byteLength,
      contentMd5: createHash('md5').update(body).digest('base64'),
      contentType: 'application/json',
      etag: '"0x7"',
    });
    expect(read?.properties).not.toHaveProperty('accessTier');
    expect([gets(), heads()]).toEqual([1, 0]);
  });

  it('gives up with UNAVAILABLE at its deadline when Blob never answers', async () => {
    const fake = await startFakeBlob(() => undefined);
    servers.push(fake.server);
    const store = await BlobArchiveStore.connect({
      connectionString: connectionStringFor(fake.endpoint),
      containerName: 'archive',
      timeouts: { operationTimeoutMs: 300 },
    });
    const started = performance.now();
    const error = await rejection(store.get('hung.json.gz'));
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(error.message).toMatch(/within 300 ms/);
  });

  it('rejects with the caller’s reason when the caller aborts a call in flight', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const fake = await startFakeBlob(() => arrived());
    servers.push(fake.server);
    const store = await BlobArchiveStore.connect({
      connectionString: connectionStringFor(fake.endpoint),
      containerName: 'archive',
    });
    const controller = new AbortController();
    const pending = store.getProperties('slow.json.gz', { abortSignal: controller.signal });
    await requestArrived;
    const reason = new Error('request cancelled by its caller');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('aborts calls in flight on close and refuses new ones', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const fake = await startFakeBlob(() => arrived());
    servers.push(fake.server);
    const store = await BlobArchiveStore.connect({
      connectionString: connectionStringFor(fake.endpoint),
      containerName: 'archive',
    });
    const pending = store.ping();
    await requestArrived;
    await store.close();
    expect(await rejection(pending)).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    expect(await rejection(store.get('a'))).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
  });
});
