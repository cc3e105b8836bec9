// The one way a record's document changes: read it, let the change decide from what it sees, write
// conditioned on the store etag just read, and on a lost race start over from a fresh read. Writes
// through the API, rehydration, legal hold and pin all go through here, so they share one rule set:
// which codes retry, how often, which clock, and that an archived copy in the caches is forgotten
// once its stub is gone.
import type { BillingRecord } from '../domain/billing-record.ts';
import { AppError, hasCode } from '../domain/errors.ts';
import type { RecordDocument, StoredDocument, StubDocument } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import { changeOfTotals, type TierChangeSink } from '../domain/tier-totals.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { ArchivedRecordReader } from './archived-record-reader.ts';

/** Attempts before a change that keeps losing races gives up with the last conflict. */
export const MAX_UPDATE_ATTEMPTS = 5;

/** What the change sees: the stored document and, when it asked for it, the record behind a stub. */
export interface CurrentDocument {
  readonly stored: StoredDocument;
  /** The full record, read from the archive for a stub; present only when `needsRecord` was set. */
  readonly record: BillingRecord | undefined;
}

/** The change's decision: write this document, delete the record, or leave it as it is. */
export type UpdateDecision<T> =
  | { readonly replace: RecordDocument; readonly result: T }
  | { readonly delete: true; readonly result: T }
  | { readonly unchanged: true; readonly result: T };

export interface ConditionalUpdateDependencies {
  readonly store: RecordStore;
  /** Reads the record behind a stub (when the change needs it) and forgets cached copies of replaced stubs. */
  readonly reader?: ArchivedRecordReader;
  /** The tier totals: each change adds what it moved between tiers. */
  readonly tierCounters?: TierChangeSink;
}

export interface UpdateOptions extends OperationOptions {
  /** The change needs the full record, read from the archive when the document is a stub. */
  readonly needsRecord?: boolean;
}

export async function updateRecord<T>(
  dependencies: ConditionalUpdateDependencies,
  key: RecordKey,
  change: (current: CurrentDocument) => UpdateDecision<T>,
  options: UpdateOptions = {},
): Promise<T> {
  const { needsRecord = false, ...callOptions } = options;
  const { store } = dependencies;
  for (let attempt = 1; ; attempt++) {
    const stored = await store.get(key, callOptions);
    if (stored === undefined) throw notFound(key);
    let record: BillingRecord | undefined;
    if (needsRecord) {
      try {
        record = await recordOf(dependencies, stored.document, callOptions);
      } catch (error) {
        // The stub may have been rehydrated or deleted (and its blob collected) since we read it: a lost
        // race, not a corrupt archive. Start over from a fresh read.
        if (attempt < MAX_UPDATE_ATTEMPTS && (await changedSince(store, key, stored, callOptions))) continue;
        throw error;
      }
    }
    const decision = change({ stored, record });
    if ('unchanged' in decision) return decision.result;
    try {
      // Conditional on the etag read above: the document must still be the one the change decided on.
      if ('delete' in decision) await store.delete(key, { ifMatch: stored.etag }, callOptions);
      else await store.replace(decision.replace, { ifMatch: stored.etag }, callOptions);
    } catch (error) {
      if (isLostRace(error) && attempt < MAX_UPDATE_ATTEMPTS) continue;
      throw error;
    }
    const replaced = stored.document;
    dependencies.tierCounters?.add(
      changeOfTotals(replaced, 'delete' in decision ? undefined : decision.replace),
    );
    if (replaced.tier === 'archived' && ('delete' in decision || decision.replace.tier === 'hot'))
      await forgetCached(dependencies, replaced);
    return decision.result;
  }
}

/** Another writer (or the archiver) changed or removed the document between our read and our write. */
export function isLostRace(error: unknown): boolean {
  return hasCode(error, 'PRECONDITION_FAILED') || hasCode(error, 'NOT_FOUND');
}

export function notFound(key: RecordKey): AppError {
  return new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
}

async function recordOf(
  dependencies: ConditionalUpdateDependencies,
  document: RecordDocument,
  options: OperationOptions,
): Promise<BillingRecord> {
  if (document.tier === 'hot') return document.record;
  if (dependencies.reader === undefined) throw noArchive(document);
  return (await dependencies.reader.read(document, options)).record;
}

export function noArchive(document: RecordDocument): AppError {
  return new AppError(
    'UNAVAILABLE',
    `Record ${document.customerId}/${document.id} is archived and no archive is configured`,
  );
}

async function changedSince(
  store: RecordStore,
  key: RecordKey,
  stored: StoredDocument,
  options: OperationOptions,
): Promise<boolean> {
  if (stored.document.tier !== 'archived') return false;
  return (await store.get(key, options))?.etag !== stored.etag;
}

/** The stub is gone: its cached copy can never be served again (keys carry the version), so free it. */
async function forgetCached(dependencies: ConditionalUpdateDependencies, stub: StubDocument): Promise<void> {
  await dependencies.reader?.forget(stub).catch(() => undefined);
}
