// The archiver's control documents in a Blob container of their own: small JSON block blobs, written on
// their etag, and Blob leases that keep two workers off one slice. Every SDK error is mapped here.
import { assertLeaseDuration } from '../../domain/lease-rules.ts';
import { text } from 'node:stream/consumers';
import { BlobLeaseClient, type BlockBlobClient, type BlockBlobUploadOptions } from '@azure/storage-blob';
import { AppError } from '../../domain/errors.ts';
import type { ArchivalControlStore, ControlDocument, Lease } from '../../ports/archival-control-store.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { BlobConnection, type BlobConnectOptions, quoteEtag } from './blob-connection.ts';
import { errorCode, hasStatus } from './blob-errors.ts';

export type BlobControlStoreConnectOptions = BlobConnectOptions & {
  /** Names per list request: 5000, the service's maximum, unless a test wants to see paging. */
  readonly listPageSize?: number;
};

interface WriteCondition {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: '*';
  readonly lease?: Lease;
}

const MAX_PAGE_SIZE = 5_000;
/** What acquireLease creates when the document is absent: a lease needs a blob to hold. */
const EMPTY_DOCUMENT = 'null';
/** Refusals of a write that prove the blob exists: under If-None-Match: * they answer ALREADY_EXISTS. */
const EXISTS_CODES: ReadonlySet<string> = new Set([
  'BlobAlreadyExists',
  'ConditionNotMet',
  'LeaseIdMissing',
  'LeaseIdMismatchWithBlobOperation',
]);
const LEASE_REFUSAL_CODES: ReadonlySet<string> = new Set([
  'LeaseIdMissing',
  'LeaseIdMismatchWithBlobOperation',
  'LeaseNotPresentWithBlobOperation',
]);
/** Another holder has the lease (or is breaking it): acquireLease answers undefined. */
const HELD_BY_ANOTHER_CODES: ReadonlySet<string> = new Set([
  'LeaseAlreadyPresent',
  'LeaseIsBreakingAndCannotBeAcquired',
]);

export class BlobControlStore implements ArchivalControlStore {
  readonly #connection: BlobConnection;
  readonly #listPageSize: number;

  private constructor(connection: BlobConnection, listPageSize: number) {
    this.#connection = connection;
    this.#listPageSize = listPageSize;
  }

  /** Connects and creates the container when absent; UNAVAILABLE when the account cannot be reached. */
  static async connect(options: BlobControlStoreConnectOptions): Promise<BlobControlStore> {
    const listPageSize = options.listPageSize ?? MAX_PAGE_SIZE;
    if (!Number.isInteger(listPageSize) || listPageSize < 1 || listPageSize > MAX_PAGE_SIZE) {
      throw new AppError('INTERNAL', `A list page size must be 1 to ${MAX_PAGE_SIZE}, not ${listPageSize}`);
    }
    return new BlobControlStore(await BlobConnection.open(options, 'The Blob control store'), listPageSize);
  }

  read<T>(name: string, options?: OperationOptions): Promise<ControlDocument<T> | undefined> {
    return this.#connection.call(`read ${name}`, options, async (abortSignal) => {
      try {
        // One Get Blob: the body and its etag describe the same version.
        const response = await this.#blob(name).download(0, undefined, {
          abortSignal,
          maxRetryRequests: this.#connection.timeouts.maxTries,
        });
        const json = response.readableStreamBody === undefined ? '' : await text(response.readableStreamBody);
        return { value: parse<T>(name, json), etag: quoteEtag(response.etag ?? '') };
      } catch (error) {
        if (hasStatus(error, 404, 'BlobNotFound')) return undefined;
        throw error;
      }
    });
  }

  write<T>(name: string, value: T, condition: WriteCondition, options?: OperationOptions): Promise<string> {
    return this.#connection.call(`write ${name}`, options, async (abortSignal) => {
      const json = JSON.stringify(value) as string | undefined;
      if (json === undefined) throw new AppError('INTERNAL', `Control document ${name} is not JSON`);
      try {
        const response = await this.#blob(name).upload(
          json,
          Buffer.byteLength(json),
          uploadOptions(abortSignal, {
            ...(condition.ifMatch !== undefined ? { ifMatch: quoteEtag(condition.ifMatch) } : {}),
            ...(condition.ifNoneMatch !== undefined ? { ifNoneMatch: condition.ifNoneMatch } : {}),
            ...(condition.lease !== undefined ? { leaseId: condition.lease.leaseId } : {}),
          }),
        );
        if (response.etag === undefined) {
          throw new AppError('INTERNAL', `Blob Storage answered the write of ${name} without an etag`);
        }
        return quoteEtag(response.etag);
      } catch (error) {
        throw refusedWrite(error, name, condition) ?? error;
      }
    });
  }

  list(prefix: string, options?: OperationOptions): Promise<string[]> {
    return this.#connection.call(`list ${prefix}`, options, async (abortSignal) => {
      const names: string[] = [];
      const pages = this.#connection.container
        .listBlobsFlat({ prefix, abortSignal })
        .byPage({ maxPageSize: this.#listPageSize });
      for await (const page of pages) names.push(...page.segment.blobItems.map((item) => item.name));
      return names;
    });
  }

  acquireLease(
    name: string,
    durationSeconds: number,
    options?: OperationOptions,
  ): Promise<Lease | undefined> {
    return this.#connection.call(`lease ${name}`, options, async (abortSignal) => {
      assertLeaseDuration(durationSeconds);
      const blob = this.#blob(name);
      // One proposed lease id for every try: when an answer is lost, the SDK's retry gets the same lease back.
      const client = new BlobLeaseClient(blob);
      for (let attempt = 1; ; attempt++) {
        try {
          await client.acquireLease(durationSeconds, { abortSignal });
          return { name, leaseId: client.leaseId };
        } catch (error) {
          if (hasStatus(error, 409) && HELD_BY_ANOTHER_CODES.has(errorCode(error) ?? '')) return undefined;
          if (!hasStatus(error, 404, 'BlobNotFound') || attempt > 1) throw error;
        }
        await this.#createEmpty(blob, abortSignal);
      }
    });
  }

  renewLease(lease: Lease, options?: OperationOptions): Promise<boolean> {
    return this.#connection.call(`renew the lease on ${lease.name}`, options, async (abortSignal) => {
      try {
        await new BlobLeaseClient(this.#blob(lease.name), lease.leaseId).renewLease({ abortSignal });
        return true;
      } catch (error) {
        if (lostLease(error)) return false;
        throw error;
      }
    });
  }

  releaseLease(lease: Lease, options?: OperationOptions): Promise<void> {
    return this.#connection.call(`release the lease on ${lease.name}`, options, async (abortSignal) => {
      try {
        await new BlobLeaseClient(this.#blob(lease.name), lease.leaseId).releaseLease({ abortSignal });
      } catch (error) {
        if (!lostLease(error)) throw error;
      }
    });
  }

  close(): Promise<void> {
    this.#connection.close();
    return Promise.resolve();
  }

  #blob(name: string): BlockBlobClient {
    return this.#connection.container.getBlockBlobClient(name);
  }

  /** Create-only, so two workers leasing a new name never overwrite a document the other wrote first. */
  async #createEmpty(blob: BlockBlobClient, abortSignal: AbortSignal): Promise<void> {
    try {
      await blob.upload(
        EMPTY_DOCUMENT,
        Buffer.byteLength(EMPTY_DOCUMENT),
        uploadOptions(abortSignal, { ifNoneMatch: '*' }),
      );
    } catch (error) {
      // Someone created it first (and may lease it already): either way there is a blob to lease.
      if (!hasStatus(error, 409) && !hasStatus(error, 412)) throw error;
    }
  }
}

function uploadOptions(
  abortSignal: AbortSignal,
  conditions: NonNullable<BlockBlobUploadOptions['conditions']>,
): BlockBlobUploadOptions {
  return {
    abortSignal,
    conditions,
    blobHTTPHeaders: { blobContentType: 'application/json' },
    // Hot, whatever the account's default: these are rewritten often, and the Cold tier charges early
    // deletion (90 days) for every blob overwritten sooner.
    tier: 'Hot',
  };
}

/** A write the service refused on its conditions, as the port's error; undefined for any other failure. */
function refusedWrite(error: unknown, name: string, condition: WriteCondition): AppError | undefined {
  // 404: If-Match on an absent blob, where the service answers that rather than 412.
  const refused =
    hasStatus(error, 409, 'BlobAlreadyExists') ||
    hasStatus(error, 412) ||
    hasStatus(error, 404, 'BlobNotFound');
  if (!refused) return undefined;
  const code = errorCode(error) ?? '';
  // Checked first, as the memory adapter does: under If-None-Match: * any refusal that proves the blob exists.
  if (condition.ifNoneMatch === '*' && EXISTS_CODES.has(code)) {
    return new AppError('ALREADY_EXISTS', `Control document ${name} exists`, { cause: error });
  }
  const detail = LEASE_REFUSAL_CODES.has(code)
    ? 'is leased by another worker, or the lease given is no longer held'
    : 'has changed';
  return new AppError('PRECONDITION_FAILED', `Control document ${name} ${detail}`, { cause: error });
}

/** Released, expired and taken by another, or broken; or the document itself is gone. */
function lostLease(error: unknown): boolean {
  return hasStatus(error, 409) || hasStatus(error, 404, 'BlobNotFound');
}

function parse<T>(name: string, json: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (error) {
    throw new AppError('INTERNAL', `Control document ${name} is not JSON`, { cause: error });
  }
}
