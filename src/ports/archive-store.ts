// The archive: immutable, create-only blobs (Azure Blob Storage, Cold tier, in production).
import type { AccessTier } from '../domain/access-tier.ts';
import type { OperationOptions } from './operation-options.ts';

// The tier is a domain notion (the price table charges per tier); re-exported for the adapters.
export type { AccessTier };

export interface PutBlobRequest {
  /** e.g. `2024/05/cust-42/inv-1/v3.json.gz` */
  readonly path: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly contentEncoding?: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly accessTier: AccessTier;
}

export interface BlobProperties {
  readonly path: string;
  /** Stored bytes (after any content encoding). */
  readonly size: number;
  /** base64 MD5 of the stored bytes, as the service computed and checked it. */
  readonly contentMd5: string;
  readonly contentType: string;
  readonly contentEncoding: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly accessTier: AccessTier | undefined;
  readonly etag: string;
  readonly createdOn: Date;
  /** Changes with every write to the blob, metadata included (one-second resolution in Blob Storage). */
  readonly lastModified: Date;
}

/** What one read of a blob's body answers about it: everything but the access tier (Get Blob omits it). */
export type ReadBlobProperties = Omit<BlobProperties, 'accessTier'>;

/** The properties a read answers, from the full ones (for adapters and tests that hold both). */
export function withoutTier(properties: BlobProperties): ReadBlobProperties {
  const { accessTier: _, ...read } = properties;
  return read;
}

export interface BlobContent {
  readonly body: Uint8Array;
  readonly properties: ReadBlobProperties;
}

export interface BlobListPage {
  readonly items: readonly BlobProperties[];
  readonly continuation: string | undefined;
}

/**
 * A legal hold marker on a blob: on Azure a blob legal hold, where the account has version-level
 * immutability (Azurite has none). A held blob cannot be deleted or overwritten until it is cleared.
 */
export interface ArchiveLegalHolds {
  setLegalHold(path: string, held: boolean, options?: OperationOptions): Promise<void>;
}

export interface ArchiveStore {
  /** Present where the archive can mark a blob as under legal hold. */
  readonly legalHolds?: ArchiveLegalHolds;
  /** Create-only upload with Content-MD5: ALREADY_EXISTS when the path exists; never overwrites. */
  putIfAbsent(request: PutBlobRequest, options?: OperationOptions): Promise<BlobProperties>;
  /**
   * Undefined when absent. The body is the stored bytes, not decoded, checked against the stored MD5;
   * one request, since archived reads are on the API's hot path.
   */
  get(path: string, options?: OperationOptions): Promise<BlobContent | undefined>;
  getProperties(path: string, options?: OperationOptions): Promise<BlobProperties | undefined>;
  /** Conditional delete; false when absent, PRECONDITION_FAILED when `ifMatch` is stale. */
  delete(
    path: string,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean>;
  /**
   * Rewrites the blob's metadata (unchanged) so its etag and lastModified change; undefined when absent,
   * PRECONDITION_FAILED when ifMatch is stale. The archiver touches a blob it re-uses, so a collector's
   * delete conditioned on the etag it saw fails: of the two, one always loses cleanly.
   */
  touch(
    path: string,
    condition: { readonly ifMatch: string },
    options?: OperationOptions,
  ): Promise<BlobProperties | undefined>;
  /** One page of blobs under a prefix, in path order. */
  list(
    prefix: string,
    page: { readonly continuation?: string; readonly pageSize: number },
    options?: OperationOptions,
  ): Promise<BlobListPage>;
  /** Throws UNAVAILABLE when the archive cannot serve. */
  ping(options?: OperationOptions): Promise<void>;
  close(): Promise<void>;
}
