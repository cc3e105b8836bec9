// Rebuilding the hot store from the archive alone: for every record with a blob, the stub of its newest
// archived version (the version is in the path; sha256, size and schema in the blob's metadata; the
// summary fields from the blob's body, checked against its sha256), with its legal hold (the hold
// register) and pin (the pin register), both kept in the control store. A record whose tombstone is at
// least as recent as the blob was deleted or erased, and stays gone. A document already in the store
// with the same or a newer version (a hot store restored from a backup) is left as it is.
import pLimit from 'p-limit';
import { ARCHIVE_METADATA, decodeArchivedBody, parseArchivePath } from '../domain/archive-artifact.ts';
import { describeError, hasCode } from '../domain/errors.ts';
import {
  CURRENT_SCHEMA_VERSION,
  fromPersisted,
  fullDocument,
  type ArchivePointer,
  type StubDocument,
  summaryOf,
  versionOf,
} from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import { blobOutlivesTombstone } from '../domain/tombstone.ts';
import type { ArchiveStore, BlobProperties } from '../ports/archive-store.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { JobContext, JobDefinition } from '../jobs/job-service.ts';
import type { PinRegister } from './record-pins.ts';
import type { RecordTombstones } from './record-tombstones.ts';

export interface RebuildRequest {
  readonly dryRun?: boolean;
}

export interface RebuildDependencies {
  readonly store: RecordStore;
  readonly archive: ArchiveStore;
  readonly holds: LegalHoldStore;
  readonly pins: PinRegister;
  readonly tombstones: RecordTombstones;
  readonly pageSize?: number;
  readonly concurrency?: number;
}

export function rebuildJob(dependencies: RebuildDependencies, request: RebuildRequest): JobDefinition {
  return {
    kind: 'rebuild',
    dryRun: request.dryRun === true,
    request: { ...request },
    counts: ['blobs', 'records', 'restored', 'current', 'tombstoned', 'other'],
    work: (context) => rebuild(dependencies, context),
  };
}

async function rebuild(dependencies: RebuildDependencies, context: JobContext): Promise<void> {
  const options: OperationOptions = { priority: 'low', abortSignal: context.signal };
  const limit = pLimit(dependencies.concurrency ?? 8);
  let continuation: string | undefined;
  let group: BlobProperties[] = [];
  const newestOf = async (blobs: readonly BlobProperties[]) => {
    const newest = blobs.reduce((a, b) =>
      parseArchivePath(b.path)!.version > parseArchivePath(a.path)!.version ? b : a,
    );
    context.count('records');
    try {
      context.count(await restore(dependencies, newest, context.dryRun, options));
    } catch (error) {
      context.fail(`${newest.path}: ${describeError(error)}`);
    }
  };
  do {
    const page = await dependencies.archive.list(
      '',
      { pageSize: dependencies.pageSize ?? 500, ...(continuation !== undefined ? { continuation } : {}) },
      options,
    );
    // A record's versions of one month are neighbours in path order: only the newest is restored.
    const groups: BlobProperties[][] = [];
    for (const blob of page.items) {
      context.count('blobs');
      const parsed = parseArchivePath(blob.path);
      if (parsed === undefined) {
        context.count('other');
        continue;
      }
      const previous = group[0] === undefined ? undefined : parseArchivePath(group[0].path)!;
      if (
        previous !== undefined &&
        (previous.customerId !== parsed.customerId ||
          previous.id !== parsed.id ||
          previous.month !== parsed.month)
      ) {
        groups.push(group);
        group = [];
      }
      group.push(blob);
    }
    continuation = page.continuation;
    if (continuation === undefined && group.length > 0) groups.push(group);
    await Promise.all(groups.map((blobs) => limit(() => newestOf(blobs))));
    await context.checkpoint();
  } while (continuation !== undefined && !context.signal.aborted);
}

type RestoreOutcome = 'restored' | 'current' | 'tombstoned';

async function restore(
  dependencies: RebuildDependencies,
  blob: BlobProperties,
  dryRun: boolean,
  options: OperationOptions,
): Promise<RestoreOutcome> {
  const parsed = parseArchivePath(blob.path)!;
  const key: RecordKey = { customerId: parsed.customerId, id: parsed.id };
  const existing = await dependencies.store.get(key, options);
  if (existing !== undefined && versionOf(existing.document) >= parsed.version) return 'current';
  if (!blobOutlivesTombstone(blob.lastModified, await dependencies.tombstones.markedAt(key, options)))
    return 'tombstoned';
  const stub = await stubFrom(dependencies, blob, key, options);
  if (dryRun) return 'restored';
  try {
    if (existing === undefined) await dependencies.store.create(stub, options);
    else await dependencies.store.replace(stub, { ifMatch: existing.etag }, options);
  } catch (error) {
    // Written meanwhile (by the API, or another rebuild): the store's document is the newer truth.
    if (hasCode(error, 'ALREADY_EXISTS') || hasCode(error, 'PRECONDITION_FAILED')) return 'current';
    throw error;
  }
  return 'restored';
}

/** The stub of an archived blob: the body read and checked against the blob's sha256, as a read would. */
async function stubFrom(
  dependencies: RebuildDependencies,
  blob: BlobProperties,
  key: RecordKey,
  options: OperationOptions,
): Promise<StubDocument> {
  const pointer: ArchivePointer = {
    blobPath: blob.path,
    sha256: blob.metadata[ARCHIVE_METADATA.sha256] ?? '',
    size: Number(blob.metadata[ARCHIVE_METADATA.size] ?? 0),
    encoding: 'gzip',
    archivedAt: blob.createdOn.toISOString(),
  };
  const content = await dependencies.archive.get(blob.path, options);
  if (content === undefined) throw new Error('the blob went away while the rebuild read it');
  const declared = Number(blob.metadata[ARCHIVE_METADATA.schemaVersion]);
  const document = fromPersisted({
    ...decodeArchivedBody(content.body, pointer),
    schemaVersion: Number.isSafeInteger(declared) && declared > 0 ? declared : CURRENT_SCHEMA_VERSION,
    sys: { tier: 'hot' },
  });
  if (document.tier !== 'hot') throw new Error('the blob does not hold a record');
  const hold = await dependencies.holds.get(key.customerId, key.id, options);
  const pinned = await dependencies.pins.pinned(key, options);
  return {
    id: key.id,
    customerId: key.customerId,
    tier: 'archived',
    summary: summaryOf(fullDocument(document.record)),
    archive: pointer,
    sys: {
      ...(hold !== undefined
        ? { legalHold: { reason: hold.reason, setAt: hold.setAt, setBy: hold.setBy } }
        : {}),
      ...(pinned ? { pinned: true } : {}),
    },
  };
}
