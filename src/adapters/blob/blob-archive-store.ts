// The archive in Azure Blob Storage (Azurite locally): create-only block blobs uploaded straight to
// their tier with a service-checked Content-MD5. Every SDK error is mapped to an AppError here.
import { createHash } from 'node:crypto';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import {
  BlobServiceClient,
  type BlobItem,
  type BlockBlobClient,
  type BlockBlobUploadOptions,
  type ContainerClient,
  RestError,
  StorageRetryPolicyType,
} from '@azure/storage-blob';
import { AppError } from '../../domain/errors.ts';
import type {
  AccessTier,
  ArchiveStore,
  BlobContent,
  BlobListPage,
  BlobProperties,
  PutBlobRequest,
} from '../../ports/archive-store.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';

export interface BlobTimeouts {
  /** Tries per request, the first included (the SDK retries 500, 503 and network errors). */
  readonly maxTries: number;
  /** Delay before the second retry; exponential after that, capped by `maxRetryDelayMs`. */
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** Client-side deadline for one port call, retries and body included. */
  readonly operationTimeoutMs: number;
}

// Short and bounded: a down archive fails in about a second, a hung one within the deadline, and
// the caller's own retry policy (domain/retry-policy.ts) decides what happens next.
export const DEFAULT_BLOB_TIMEOUTS: BlobTimeouts = {
  maxTries: 3,
  retryDelayMs: 200,
  maxRetryDelayMs: 2_000,
  operationTimeoutMs: 20_000,
};

interface CommonConnectOptions {
  readonly containerName: string;
  readonly timeouts?: Partial<BlobTimeouts>;
}

export type BlobArchiveStoreConnectOptions =
  | (CommonConnectOptions & { readonly connectionString: string })
  | (CommonConnectOptions & { readonly accountUrl: string; readonly credential?: TokenCredential });

/** Azure lists at most 5000 blobs per page. */
const MAX_PAGE_SIZE = 5_000;
const ACCESS_TIERS: ReadonlySet<string> = new Set<AccessTier>(['Hot', 'Cool', 'Cold', 'Archive']);
/** Attempts for get() when the blob is replaced between reading its properties and its body. */
const GET_ATTEMPTS = 3;

export class BlobArchiveStore implements ArchiveStore {
  readonly #container: ContainerClient;
  readonly #timeouts: BlobTimeouts;
  /** Aborts whatever is in flight when the store closes, so shutdown never waits on a hung request. */
  readonly #closing = new AbortController();

  private constructor(container: ContainerClient, timeouts: BlobTimeouts) {
    this.#container = container;
    this.#timeouts = timeouts;
  }

  /** Connects and creates the container when absent; UNAVAILABLE when the account cannot be reached. */
  static async connect(options: BlobArchiveStoreConnectOptions): Promise<BlobArchiveStore> {
    const timeouts = { ...DEFAULT_BLOB_TIMEOUTS, ...options.timeouts };
    const pipeline = {
      retryOptions: {
        retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
        maxTries: timeouts.maxTries,
        retryDelayInMs: timeouts.retryDelayMs,
        maxRetryDelayInMs: timeouts.maxRetryDelayMs,
        // Sent as the server-side `timeout` for each try; the client-side deadline is operationTimeoutMs.
        tryTimeoutInMs: Math.max(1_000, timeouts.operationTimeoutMs),
      },
    };
    const service =
      'connectionString' in options
        ? BlobServiceClient.fromConnectionString(options.connectionString, pipeline)
        : new BlobServiceClient(
            options.accountUrl,
            options.credential ?? new DefaultAzureCredential(),
            pipeline,
          );
    const store = new BlobArchiveStore(service.getContainerClient(options.containerName), timeouts);
    await store.#call(`create container ${options.containerName}`, undefined, async (abortSignal) => {
      try {
        await store.#container.createIfNotExists({ abortSignal });
      } catch (error) {
        // An identity with data-plane rights only may not create containers; an existing one is enough.
        if (!hasStatus(error, 403) || !(await store.#container.exists({ abortSignal }))) throw error;
      }
    });
    return store;
  }

  putIfAbsent(request: PutBlobRequest, options?: OperationOptions): Promise<BlobProperties> {
    return this.#call(`upload ${request.path}`, options, async (abortSignal) => {
      const md5 = createHash('md5').update(request.body).digest();
      try {
        const response = await this.#blob(request.path).upload(
          request.body,
          request.body.byteLength,
          uploadOptions(request, md5, abortSignal),
        );
        const createdOn = response.lastModified ?? response.date;
        if (response.etag === undefined || createdOn === undefined) {
          throw new AppError(
            'INTERNAL',
            `Blob Storage answered the upload of ${request.path} without an etag or date`,
          );
        }
        // A new blob's properties are what was sent; the service checked the MD5 and echoes it back.
        return {
          path: request.path,
          size: request.body.byteLength,
          contentMd5: base64(response.contentMD5) ?? md5.toString('base64'),
          contentType: request.contentType,
          contentEncoding: request.contentEncoding,
          metadata: lowerCaseKeys(request.metadata),
          accessTier: request.accessTier,
          etag: quoteEtag(response.etag),
          createdOn,
        };
      } catch (error) {
        if (hasStatus(error, 409, 'BlobAlreadyExists') || hasStatus(error, 412)) {
          throw new AppError('ALREADY_EXISTS', `Blob ${request.path} already exists`, { cause: error });
        }
        throw error;
      }
    });
  }

  get(path: string, options?: OperationOptions): Promise<BlobContent | undefined> {
    return this.#call(`download ${path}`, options, async (abortSignal) => {
      // Get Blob does not return the access tier, so properties come first and the body is read
      // conditioned on their etag: both halves describe the same blob, or we read again.
      let mismatch: string | undefined;
      for (let attempt = 1; attempt <= GET_ATTEMPTS; attempt++) {
        const properties = await this.#properties(path, abortSignal);
        if (properties === undefined) return undefined;
        let body: Uint8Array;
        try {
          const response = await this.#blob(path).download(0, undefined, {
            abortSignal,
            conditions: { ifMatch: properties.etag },
            maxRetryRequests: this.#timeouts.maxTries,
          });
          body = await readAll(response.readableStreamBody, abortSignal);
        } catch (error) {
          if (hasStatus(error, 404)) return undefined;
          if (hasStatus(error, 412)) continue;
          throw error;
        }
        // The SDK does not check the MD5 on download: read again, in case the damage was in transit.
        const md5 = createHash('md5').update(body).digest('base64');
        if (md5 === properties.contentMd5) return { body, properties };
        mismatch = `Blob ${path} has MD5 ${md5}; the service recorded ${properties.contentMd5}`;
      }
      // Never serve bytes that fail the check; a blob that changed under every read is only busy.
      if (mismatch !== undefined) throw new AppError('ARCHIVE_INTEGRITY', mismatch);
      throw new AppError('UNAVAILABLE', `Blob ${path} kept changing while it was read`);
    });
  }

  getProperties(path: string, options?: OperationOptions): Promise<BlobProperties | undefined> {
    return this.#call(`read properties of ${path}`, options, (abortSignal) =>
      this.#properties(path, abortSignal),
    );
  }

  getTags(path: string, options?: OperationOptions): Promise<Readonly<Record<string, string>> | undefined> {
    return this.#call(`read tags of ${path}`, options, async (abortSignal) => {
      try {
        return { ...(await this.#blob(path).getTags({ abortSignal })).tags };
      } catch (error) {
        if (hasStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  delete(
    path: string,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean> {
    return this.#call(`delete ${path}`, options, async (abortSignal) => {
      try {
        await this.#blob(path).delete({
          abortSignal,
          ...(condition.ifMatch !== undefined
            ? { conditions: { ifMatch: quoteEtag(condition.ifMatch) } }
            : {}),
        });
        return true;
      } catch (error) {
        if (hasStatus(error, 404)) return false;
        if (!hasStatus(error, 412)) throw error;
        // If-Match on a missing blob also fails with 412 (RFC 9110); the port answers false for absent.
        if ((await this.#properties(path, abortSignal)) === undefined) return false;
        throw new AppError('PRECONDITION_FAILED', `Blob ${path} has changed`, { cause: error });
      }
    });
  }

  list(
    prefix: string,
    page: { readonly continuation?: string; readonly pageSize: number },
    options?: OperationOptions,
  ): Promise<BlobListPage> {
    return this.#call(`list ${prefix}`, options, async (abortSignal) => {
      const pages = this.#container
        .listBlobsFlat({ prefix, includeMetadata: true, abortSignal })
        .byPage({ maxPageSize: checkPageSize(page.pageSize), ...optionalContinuation(page.continuation) });
      const result = await pages.next();
      if (result.done === true) return { items: [], continuation: undefined };
      const response = result.value;
      const token = response.continuationToken;
      return {
        items: response.segment.blobItems.map(fromListItem),
        continuation: token === undefined || token === '' ? undefined : token,
      };
    });
  }

  ping(options?: OperationOptions): Promise<void> {
    return this.#call('check the archive container', options, async (abortSignal) => {
      await this.#container.getProperties({ abortSignal });
    });
  }

  close(): Promise<void> {
    this.#closing.abort(
      new AppError('UNAVAILABLE', 'The Blob archive store is closed', { retryable: false }),
    );
    return Promise.resolve();
  }

  #blob(path: string): BlockBlobClient {
    return this.#container.getBlockBlobClient(path);
  }

  async #properties(path: string, abortSignal: AbortSignal): Promise<BlobProperties | undefined> {
    try {
      const response = await this.#blob(path).getProperties({ abortSignal });
      return {
        path,
        size: response.contentLength ?? 0,
        contentMd5: base64(response.contentMD5) ?? '',
        contentType: response.contentType ?? '',
        contentEncoding: response.contentEncoding,
        metadata: lowerCaseKeys(response.metadata ?? {}),
        accessTier: toAccessTier(response.accessTier),
        etag: quoteEtag(response.etag ?? ''),
        createdOn: response.createdOn ?? response.lastModified ?? new Date(0),
      };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Runs one port call under the caller's signal, the store's deadline and its close; maps every failure. */
  async #call<T>(
    what: string,
    options: OperationOptions | undefined,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    const deadline = AbortSignal.timeout(this.#timeouts.operationTimeoutMs);
    const caller = options?.abortSignal;
    const signal = AbortSignal.any(
      caller === undefined ? [deadline, this.#closing.signal] : [caller, deadline, this.#closing.signal],
    );
    try {
      return await work(signal);
    } catch (error) {
      // The caller's own cancellation is theirs to handle, with the reason they gave.
      if (caller?.aborted === true) throw caller.reason;
      if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
      if (deadline.aborted) {
        throw new AppError(
          'UNAVAILABLE',
          `Blob Storage did not ${what} within ${this.#timeouts.operationTimeoutMs} ms`,
          {
            cause: error,
          },
        );
      }
      throw toAppError(error, what);
    }
  }
}

/**
 * Content-MD5 (transactional) makes the service check the bytes it received; blobContentMD5 is what it
 * stores. 12.32's upload() forwards `transactionalContentMD5` under the "Customized" checksum mode but
 * its type leaves it out, hence the widened type; a test pins the headers sent.
 */
function uploadOptions(
  request: PutBlobRequest,
  md5: Buffer,
  abortSignal: AbortSignal,
): BlockBlobUploadOptions {
  const options: BlockBlobUploadOptions & { transactionalContentMD5: Uint8Array } = {
    abortSignal,
    // Create-only: the service refuses the upload if anything exists at the path.
    conditions: { ifNoneMatch: '*' },
    contentChecksumAlgorithm: 'Customized',
    transactionalContentMD5: md5,
    blobHTTPHeaders: {
      blobContentType: request.contentType,
      ...(request.contentEncoding !== undefined ? { blobContentEncoding: request.contentEncoding } : {}),
      blobContentMD5: md5,
    },
    metadata: { ...request.metadata },
    tags: { ...request.tags },
    // Straight to the requested tier (Cold in production); Azurite 3.35 accepts and reports Cold too.
    tier: request.accessTier,
  };
  return options;
}

function toAppError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  if (isRestError(error)) {
    const status = error.statusCode;
    const detail = `Blob Storage could not ${what}: ${status ?? error.code ?? 'network error'} ${error.message.split('\n')[0] ?? ''}`;
    // No status: the request never got an answer (refused, reset, DNS, timeout).
    if (status === undefined || [408, 429, 500, 502, 503, 504].includes(status)) {
      const retryAfterMs = retryAfter(error);
      return new AppError('UNAVAILABLE', detail, {
        cause: error,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    // Bad credentials, missing rights or a missing container: the archive cannot serve, and retrying will not help.
    if (status === 401 || status === 403 || (status === 404 && error.code === 'ContainerNotFound')) {
      return new AppError('UNAVAILABLE', detail, { cause: error, retryable: false });
    }
    return new AppError('INTERNAL', detail, { cause: error });
  }
  if (isNetworkError(error)) {
    return new AppError('UNAVAILABLE', `Blob Storage could not ${what}: ${error.message}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('INTERNAL', `Blob Storage could not ${what}: ${message}`, { cause: error });
}

function isRestError(error: unknown): error is RestError {
  // By name as well: a second copy of core-rest-pipeline in node_modules defeats instanceof.
  return error instanceof RestError || (error instanceof Error && error.name === 'RestError');
}

/** A Node socket error while a body streams in, after the SDK handed the response over. */
function isNetworkError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  return (
    error instanceof Error && typeof code === 'string' && /^(E[A-Z]+|ERR_STREAM_PREMATURE_CLOSE)$/.test(code)
  );
}

function hasStatus(error: unknown, status: number, code?: string): boolean {
  return isRestError(error) && error.statusCode === status && (code === undefined || error.code === code);
}

/** `retry-after` is seconds or an HTTP date. */
function retryAfter(error: RestError): number | undefined {
  const header = error.response?.headers.get('retry-after');
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function checkPageSize(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new AppError('INTERNAL', `A list page size must be a positive integer, not ${pageSize}`);
  }
  return Math.min(pageSize, MAX_PAGE_SIZE);
}

function optionalContinuation(continuation: string | undefined): { continuationToken?: string } {
  return continuation === undefined ? {} : { continuationToken: continuation };
}

function fromListItem(item: BlobItem): BlobProperties {
  const properties = item.properties;
  return {
    path: item.name,
    size: properties.contentLength ?? 0,
    contentMd5: base64(properties.contentMD5) ?? '',
    contentType: properties.contentType ?? '',
    contentEncoding: properties.contentEncoding,
    metadata: lowerCaseKeys(item.metadata ?? {}),
    accessTier: toAccessTier(properties.accessTier),
    etag: quoteEtag(properties.etag),
    createdOn: properties.createdOn ?? properties.lastModified,
  };
}

async function readAll(stream: NodeJS.ReadableStream | undefined, signal: AbortSignal): Promise<Uint8Array> {
  if (stream === undefined) return new Uint8Array();
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    signal.throwIfAborted();
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  const buffer = Buffer.concat(chunks);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function base64(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('base64');
}

/** Properties carry `"0x…"` but list items carry `0x…`; the port always speaks the quoted form. */
function quoteEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}

/**
 * Metadata names are case-insensitive in Blob Storage, and Node lower-cases them in response
 * headers (properties, download) while listings keep the case sent; the port answers lower case.
 */
function lowerCaseKeys(metadata: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key.toLowerCase(), value]));
}

function toAccessTier(tier: string | undefined): AccessTier | undefined {
  return tier !== undefined && ACCESS_TIERS.has(tier) ? (tier as AccessTier) : undefined;
}
