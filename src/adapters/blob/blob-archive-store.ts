// The archive in Azure Blob Storage (Azurite locally): create-only block blobs uploaded straight to
// their tier with a service-checked Content-MD5. Every SDK error is mapped to an AppError here. Every
// request stays within Storage Blob Data Contributor (no index tags, no immutability policy) except the
// opt-in blob legal holds (`legalHolds`, BLOB_LEGAL_HOLDS): whether that role may set one is documented
// both ways; `npm run test:azure` with the IaC's roles is the check.
import { createHash } from 'node:crypto';
import type {
  BlobDownloadResponseParsed,
  BlobItem,
  BlockBlobClient,
  BlockBlobUploadOptions,
} from '@azure/storage-blob';
import { AppError } from '../../domain/errors.ts';
import type {
  AccessTier,
  ArchiveLegalHolds,
  ArchiveStore,
  BlobContent,
  BlobListPage,
  BlobProperties,
  PutBlobRequest,
  ReadBlobProperties,
} from '../../ports/archive-store.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { BlobConnection, type BlobConnectOptions, quoteEtag } from './blob-connection.ts';
import { hasStatus } from './blob-errors.ts';

export type BlobArchiveStoreConnectOptions = BlobConnectOptions & {
  /**
   * The account has version-level immutability: held records' blobs get a blob legal hold. Azurite has
   * none, so this stays off there (the capability is tested with the in-memory archive).
   */
  readonly legalHolds?: boolean;
};

/** Azure lists at most 5000 blobs per page. */
const MAX_PAGE_SIZE = 5_000;
const ACCESS_TIERS: ReadonlySet<string> = new Set<AccessTier>(['Hot', 'Cool', 'Cold', 'Archive']);
/** Downloads of a blob whose bytes do not match its stored MD5 before it is reported damaged. */
const GET_ATTEMPTS = 3;

export class BlobArchiveStore implements ArchiveStore {
  readonly #connection: BlobConnection;
  readonly legalHolds?: ArchiveLegalHolds;

  private constructor(connection: BlobConnection, legalHolds: boolean) {
    this.#connection = connection;
    if (legalHolds) {
      this.legalHolds = {
        setLegalHold: (path, held, options) =>
          this.#connection.call(`set the legal hold of ${path}`, options, async (abortSignal) => {
            await this.#blob(path).setLegalHold(held, { abortSignal });
          }),
      };
    }
  }

  /** Connects and creates the container when absent; UNAVAILABLE when the account cannot be reached. */
  static async connect(options: BlobArchiveStoreConnectOptions): Promise<BlobArchiveStore> {
    return new BlobArchiveStore(
      await BlobConnection.open(options, 'The Blob archive store'),
      options.legalHolds === true,
    );
  }

  putIfAbsent(request: PutBlobRequest, options?: OperationOptions): Promise<BlobProperties> {
    return this.#connection.call(`upload ${request.path}`, options, async (abortSignal) => {
      const md5 = createHash('md5').update(request.body).digest();
      try {
        const response = await this.#blob(request.path).upload(
          request.body,
          request.body.byteLength,
          uploadOptions(request, md5, abortSignal),
        );
        const lastModified = response.lastModified ?? response.date;
        if (response.etag === undefined || lastModified === undefined) {
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
          createdOn: lastModified,
          lastModified,
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
    return this.#connection.call(`download ${path}`, options, async (abortSignal) => {
      // One Get Blob: its headers describe the very bytes it returns (a retried stream is pinned to
      // the first answer's etag by the SDK), so no separate properties read is needed.
      let mismatch = '';
      for (let attempt = 1; attempt <= GET_ATTEMPTS; attempt++) {
        let body: Uint8Array;
        let properties: ReadBlobProperties;
        try {
          const response = await this.#blob(path).download(0, undefined, {
            abortSignal,
            maxRetryRequests: this.#connection.timeouts.maxTries,
          });
          properties = fromDownload(path, response);
          body = await readAll(response.readableStreamBody, abortSignal);
        } catch (error) {
          if (hasStatus(error, 404)) return undefined;
          throw error;
        }
        // The SDK does not check the MD5 on download: read again, in case the damage was in transit.
        const md5 = createHash('md5').update(body).digest('base64');
        if (md5 === properties.contentMd5) return { body, properties };
        mismatch = `Blob ${path} has MD5 ${md5}; the service recorded ${properties.contentMd5}`;
      }
      // Never serve bytes that fail the check.
      throw new AppError('ARCHIVE_INTEGRITY', mismatch);
    });
  }

  getProperties(path: string, options?: OperationOptions): Promise<BlobProperties | undefined> {
    return this.#connection.call(`read properties of ${path}`, options, (abortSignal) =>
      this.#properties(path, abortSignal),
    );
  }

  delete(
    path: string,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean> {
    return this.#connection.call(`delete ${path}`, options, async (abortSignal) => {
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

  touch(
    path: string,
    condition: { readonly ifMatch: string },
    options?: OperationOptions,
  ): Promise<BlobProperties | undefined> {
    return this.#connection.call(`touch ${path}`, options, async (abortSignal) => {
      // Set Blob Metadata replaces all of it, so it is read first from a listing: a listing keeps the
      // names' case as sent, where Node lower-cases them in the response headers of a point read.
      const listed = await this.#listed(path, abortSignal);
      if (listed === undefined) return undefined;
      // Already another version: the write below would fail on its condition anyway.
      if (quoteEtag(listed.properties.etag) !== quoteEtag(condition.ifMatch)) {
        throw new AppError('PRECONDITION_FAILED', `Blob ${path} has changed`);
      }
      try {
        // Conditioned on the etag the metadata was read under, so it is rewritten unchanged or not at all.
        const response = await this.#blob(path).setMetadata(listed.metadata ?? {}, {
          abortSignal,
          conditions: { ifMatch: quoteEtag(condition.ifMatch) },
        });
        if (response.etag === undefined || response.lastModified === undefined) {
          throw new AppError(
            'INTERNAL',
            `Blob Storage answered the touch of ${path} without an etag or date`,
          );
        }
        return {
          ...fromListItem(listed),
          etag: quoteEtag(response.etag),
          lastModified: response.lastModified,
        };
      } catch (error) {
        if (hasStatus(error, 404)) return undefined;
        if (!hasStatus(error, 412)) throw error;
        // If-Match on a blob deleted since the listing also fails with 412; the port answers undefined.
        if ((await this.#properties(path, abortSignal)) === undefined) return undefined;
        throw new AppError('PRECONDITION_FAILED', `Blob ${path} has changed`, { cause: error });
      }
    });
  }

  list(
    prefix: string,
    page: { readonly continuation?: string; readonly pageSize: number },
    options?: OperationOptions,
  ): Promise<BlobListPage> {
    return this.#connection.call(`list ${prefix}`, options, async (abortSignal) => {
      const pages = this.#connection.container
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
    return this.#connection.call('check the archive container', options, async (abortSignal) => {
      await this.#connection.container.getProperties({ abortSignal });
    });
  }

  close(): Promise<void> {
    this.#connection.close();
    return Promise.resolve();
  }

  #blob(path: string): BlockBlobClient {
    return this.#connection.container.getBlockBlobClient(path);
  }

  /** The blob as a listing shows it (metadata names in the case they were sent); undefined when absent. */
  async #listed(path: string, abortSignal: AbortSignal): Promise<BlobItem | undefined> {
    // A name sorts before every longer name it prefixes, so the blob itself, if present, comes first.
    const pages = this.#connection.container
      .listBlobsFlat({ prefix: path, includeMetadata: true, abortSignal })
      .byPage({ maxPageSize: 1 });
    const result = await pages.next();
    const first = result.done === true ? undefined : result.value.segment.blobItems[0];
    return first?.name === path ? first : undefined;
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
        lastModified: response.lastModified ?? new Date(0),
      };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
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
    // Straight to the requested tier (Cold in production); Azurite 3.35 accepts and reports Cold too.
    tier: request.accessTier,
  };
  return options;
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
    lastModified: properties.lastModified,
  };
}

function fromDownload(path: string, response: BlobDownloadResponseParsed): ReadBlobProperties {
  // A whole-blob download answers the stored Content-MD5 in Content-MD5 (a range read would not).
  const lastModified = response.lastModified ?? new Date(0);
  return {
    path,
    size: response.contentLength ?? 0,
    contentMd5: base64(response.contentMD5 ?? response.blobContentMD5) ?? '',
    contentType: response.contentType ?? '',
    contentEncoding: response.contentEncoding,
    metadata: lowerCaseKeys(response.metadata ?? {}),
    etag: quoteEtag(response.etag ?? ''),
    createdOn: response.createdOn ?? lastModified,
    lastModified,
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
