// The archive in memory, for simulation tests: the Blob adapter's semantics (create-only, MD5 computed,
// fresh etag per write, conditional delete and touch, paged listing in path order) and the service's
// input rules.
import { createHash } from 'node:crypto';
import { AppError } from '../../src/domain/errors.ts';
import {
  type ArchiveStore,
  type BlobContent,
  type BlobListPage,
  type BlobProperties,
  type PutBlobRequest,
  withoutTier,
} from '../../src/ports/archive-store.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { OperationOptions } from '../../src/ports/operation-options.ts';

export interface MemoryArchiveStoreOptions {
  /** Stamps `createdOn` and `lastModified`; the wall clock by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

interface StoredBlob {
  readonly body: Uint8Array;
  readonly properties: BlobProperties;
}

/** Azure lists at most 5000 blobs per page. */
const MAX_PAGE_SIZE = 5_000;
// Blob Storage's rules, checked here so a simulation fails where production would.
const METADATA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class MemoryArchiveStore implements ArchiveStore {
  readonly #blobs = new Map<string, StoredBlob>();
  readonly #held = new Set<string>();
  /** Blob legal hold markers, as an account with version-level immutability has them. */
  readonly legalHolds = {
    setLegalHold: (path: string, held: boolean, options?: OperationOptions): Promise<void> =>
      this.#run(options, () => {
        if (!this.#blobs.has(path)) throw new AppError('NOT_FOUND', `Blob ${path} does not exist`);
        if (held) this.#held.add(path);
        else this.#held.delete(path);
      }),
  };

  /** The paths whose blobs carry a legal hold marker, in order. */
  heldPaths(): string[] {
    return [...this.#held].sort();
  }
  readonly #clock: Pick<Clock, 'now'>;
  #etagSequence = 0;
  #closed = false;

  constructor(options: MemoryArchiveStoreOptions = {}) {
    this.#clock = options.clock ?? { now: () => new Date() };
  }

  putIfAbsent(request: PutBlobRequest, options?: OperationOptions): Promise<BlobProperties> {
    return this.#run(options, () => {
      checkMetadata(request.metadata);
      if (this.#blobs.has(request.path))
        throw new AppError('ALREADY_EXISTS', `Blob ${request.path} already exists`);
      const body = new Uint8Array(request.body);
      const now = this.#clock.now();
      const properties: BlobProperties = {
        path: request.path,
        size: body.byteLength,
        contentMd5: createHash('md5').update(body).digest('base64'),
        contentType: request.contentType,
        contentEncoding: request.contentEncoding,
        metadata: lowerCaseKeys(request.metadata),
        accessTier: request.accessTier,
        etag: this.#nextEtag(),
        createdOn: now,
        lastModified: now,
      };
      this.#blobs.set(request.path, { body, properties });
      return properties;
    });
  }

  get(path: string, options?: OperationOptions): Promise<BlobContent | undefined> {
    return this.#run(options, () => {
      const blob = this.#blobs.get(path);
      // A copy: a caller that mutates what it read must not change the archive.
      return blob === undefined
        ? undefined
        : { body: new Uint8Array(blob.body), properties: withoutTier(blob.properties) };
    });
  }

  getProperties(path: string, options?: OperationOptions): Promise<BlobProperties | undefined> {
    return this.#run(options, () => this.#blobs.get(path)?.properties);
  }

  delete(
    path: string,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean> {
    return this.#run(options, () => {
      const blob = this.#blobs.get(path);
      if (blob === undefined) return false;
      if (condition.ifMatch !== undefined && condition.ifMatch !== blob.properties.etag) {
        throw new AppError('PRECONDITION_FAILED', `Blob ${path} has changed`);
      }
      // Azure refuses to delete a blob under legal hold (409 BlobImmutableDueToLegalHold).
      if (this.#held.has(path)) throw new AppError('PRECONDITION_FAILED', `Blob ${path} is under legal hold`);
      return this.#blobs.delete(path);
    });
  }

  touch(
    path: string,
    condition: { readonly ifMatch: string },
    options?: OperationOptions,
  ): Promise<BlobProperties | undefined> {
    return this.#run(options, () => {
      const blob = this.#blobs.get(path);
      if (blob === undefined) return undefined;
      if (condition.ifMatch !== blob.properties.etag) {
        throw new AppError('PRECONDITION_FAILED', `Blob ${path} has changed`);
      }
      const properties = { ...blob.properties, etag: this.#nextEtag(), lastModified: this.#clock.now() };
      this.#blobs.set(path, { ...blob, properties });
      return properties;
    });
  }

  list(
    prefix: string,
    page: { readonly continuation?: string; readonly pageSize: number },
    options?: OperationOptions,
  ): Promise<BlobListPage> {
    return this.#run(options, () => {
      if (!Number.isInteger(page.pageSize) || page.pageSize < 1) {
        throw new AppError('INTERNAL', `A list page size must be a positive integer, not ${page.pageSize}`);
      }
      const size = Math.min(page.pageSize, MAX_PAGE_SIZE);
      // The token is the last path returned, so blobs added or removed between pages cause no repeats.
      const after = page.continuation === undefined ? undefined : Buffer.from(page.continuation, 'base64url');
      const matching = [...this.#blobs.keys()]
        .filter(
          (path) =>
            path.startsWith(prefix) && (after === undefined || Buffer.compare(Buffer.from(path), after) > 0),
        )
        .sort(byUtf8);
      const items = matching.slice(0, size).map((path) => this.#blobs.get(path)!.properties);
      const last = items.at(-1);
      return {
        items,
        continuation:
          matching.length > size && last !== undefined
            ? Buffer.from(last.path).toString('base64url')
            : undefined,
      };
    });
  }

  ping(options?: OperationOptions): Promise<void> {
    return this.#run(options, () => undefined);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** For simulation assertions: every path held, in path order. */
  paths(): string[] {
    return [...this.#blobs.keys()].sort(byUtf8);
  }

  #nextEtag(): string {
    return `"0x${(++this.#etagSequence).toString(16).toUpperCase().padStart(15, '0')}"`;
  }

  #run<T>(options: OperationOptions | undefined, work: () => T): Promise<T> {
    if (options?.abortSignal?.aborted === true) return Promise.reject(options.abortSignal.reason as Error);
    if (this.#closed) {
      return Promise.reject(
        new AppError('UNAVAILABLE', 'The memory archive store is closed', { retryable: false }),
      );
    }
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** Blob Storage lists in the order of the names' UTF-8 bytes. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Metadata names are case-insensitive in Blob Storage and come back lower case from its adapter too. */
function lowerCaseKeys(metadata: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key.toLowerCase(), value]));
}

function checkMetadata(metadata: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(metadata)) {
    if (!METADATA_NAME.test(name)) {
      throw new AppError('INTERNAL', `Blob metadata name ${JSON.stringify(name)} is not a C# identifier`);
    }
  }
}
