// What an archived record is in Blob Storage: the canonical JSON (the exact bytes the API serves),
// gzip-compressed, at a path derived from the record, described by metadata that makes the archive
// self-describing (the stubs can be rebuilt from it).
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { BillingRecord } from './billing-record.ts';
import { AppError } from './errors.ts';
import { CURRENT_SCHEMA_VERSION, type ArchivePointer, serializeAnyRecord } from './record-document.ts';
import type { RecordKey } from './record-rules.ts';

export const ARCHIVE_CONTENT_TYPE = 'application/json';
export const ARCHIVE_CONTENT_ENCODING = 'gzip';

/**
 * Metadata keys on every archived blob (Azure metadata names are C# identifiers: lower case, no dashes).
 * With the path (`{yyyy}/{mm}/{customerId}/{recordId}/v{version}`) they make the archive self-describing;
 * blob index tags are not used, as writing them needs more than Storage Blob Data Contributor.
 */
export const ARCHIVE_METADATA = {
  sha256: 'sha256',
  recordVersion: 'recordversion',
  schemaVersion: 'schemaversion',
  customerId: 'customerid',
  recordId: 'recordid',
  size: 'size',
} as const;

export interface ArchiveArtifact {
  readonly path: string;
  /** The gzip bytes that are uploaded. */
  readonly body: Uint8Array;
  /** sha256 (hex) of the canonical JSON: the integrity check of every archived read. */
  readonly sha256: string;
  /** base64 MD5 of `body`, sent as Content-MD5 so the service verifies the upload. */
  readonly contentMd5: string;
  /** Bytes of the canonical JSON, before compression. */
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/** `{yyyy}/{mm}/{customerId}/{recordId}/v{version}.json.gz`, by the month of issuedAt. */
export function archivePath(key: RecordKey, issuedAt: string, version: number): string {
  return `${archiveFolder(key, issuedAt)}v${version}.json.gz`;
}

/** The folder of a record's versions (they sit side by side under the month of issuedAt). */
export function archiveFolder(key: RecordKey, issuedAt: string): string {
  return `${issuedAt.slice(0, 4)}/${issuedAt.slice(5, 7)}/${key.customerId}/${key.id}/`;
}

/** Parses an archive path back into its parts; undefined for paths outside the layout. */
export function parseArchivePath(path: string): (RecordKey & { month: string; version: number }) | undefined {
  const match =
    /^(\d{4})\/(\d{2})\/([A-Za-z0-9._:-]{1,128})\/([A-Za-z0-9._:-]{1,128})\/v(\d+)\.json\.gz$/.exec(path);
  if (match === null) return undefined;
  return {
    month: `${match[1]}-${match[2]}`,
    customerId: match[3]!,
    id: match[4]!,
    version: Number(match[5]),
  };
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function md5Base64(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

export function buildArchiveArtifact(record: BillingRecord): ArchiveArtifact {
  // A foreign profile's record is archived as its owner's bytes (canonical only if the profile asks).
  const json = serializeAnyRecord(record);
  const raw = Buffer.from(json, 'utf8');
  // Level 6 is zlib's default: deterministic for the same input, so a re-copy yields the same bytes.
  const body = gzipSync(raw, { level: 6 });
  const sha256 = sha256Hex(raw);
  const path = archivePath(record, record.issuedAt, record.version);
  return {
    path,
    body,
    sha256,
    contentMd5: md5Base64(body),
    size: raw.byteLength,
    metadata: {
      [ARCHIVE_METADATA.sha256]: sha256,
      [ARCHIVE_METADATA.recordVersion]: String(record.version),
      [ARCHIVE_METADATA.schemaVersion]: String(CURRENT_SCHEMA_VERSION),
      [ARCHIVE_METADATA.customerId]: record.customerId,
      [ARCHIVE_METADATA.recordId]: record.id,
      [ARCHIVE_METADATA.size]: String(raw.byteLength),
    },
  };
}

/**
 * Decodes an archived blob and checks it against the stub's pointer: the hash of the canonical JSON
 * must match, or the bytes are never served (ARCHIVE_INTEGRITY). Returns the raw persisted JSON.
 */
export function decodeArchivedBody(body: Uint8Array, pointer: ArchivePointer): Record<string, unknown> {
  const raw = verifiedArchivedJson(body, pointer);
  try {
    return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new AppError('ARCHIVE_INTEGRITY', `The archived blob ${pointer.blobPath} is not JSON`, {
      cause: error,
    });
  }
}

/** An archived blob's JSON bytes, unparsed, once their hash matches the stub's (else ARCHIVE_INTEGRITY). */
export function verifiedArchivedJson(body: Uint8Array, pointer: ArchivePointer): Buffer {
  let raw: Buffer;
  try {
    raw =
      pointer.encoding === 'gzip' ? gunzipSync(body, { chunkSize: outputChunk(pointer) }) : Buffer.from(body);
  } catch (error) {
    throw new AppError('ARCHIVE_INTEGRITY', `The archived blob ${pointer.blobPath} is not valid gzip`, {
      cause: error,
    });
  }
  const actual = sha256Hex(raw);
  if (actual !== pointer.sha256) {
    throw new AppError(
      'ARCHIVE_INTEGRITY',
      `The archived blob ${pointer.blobPath} has sha256 ${actual}; the stub expects ${pointer.sha256}`,
    );
  }
  return raw;
}

/**
 * One output buffer the size the stub records (plus one byte, so zlib sees the end before it is full):
 * a large record decompresses into one allocation instead of 16 KB chunks concatenated.
 */
function outputChunk(pointer: ArchivePointer): number {
  const size = Number.isSafeInteger(pointer.size) ? pointer.size + 1 : 0;
  return Math.min(Math.max(size, 64), MAX_OUTPUT_CHUNK);
}

/** Above any record the API accepts (1 MiB): a stub's size is a hint, never a reason to allocate more. */
const MAX_OUTPUT_CHUNK = 4 * 1024 * 1024;
