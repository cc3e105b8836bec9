// Bringing an archived record back to the hot store: the full document replaces the stub, conditioned
// on the stub's etag, with the same version (nothing about the record changes, so neither does its
// ETag). The blob stays until the collector finds it unreferenced; the cool-down counts from now.
import type { BillingRecord } from '../domain/billing-record.ts';
import { AppError, hasCode } from '../domain/errors.ts';
import { fullDocument } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { ArchivedRecordReader } from '../records/archived-record-reader.ts';

export type RehydrationResult = 'rehydrated' | 'already-hot';

const MAX_ATTEMPTS = 5;

export async function rehydrate(
  dependencies: { readonly store: RecordStore; readonly reader: ArchivedRecordReader; readonly clock: Clock },
  key: RecordKey,
  options?: OperationOptions,
): Promise<RehydrationResult> {
  for (let attempt = 1; ; attempt++) {
    const stored = await dependencies.store.get(key, options);
    if (stored === undefined)
      throw new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
    const { document } = stored;
    if (document.tier === 'hot') return 'already-hot';
    let record: BillingRecord;
    try {
      ({ record } = await dependencies.reader.read(document, options));
    } catch (error) {
      // Rehydrated or deleted by someone else and its blob collected since we read the stub: start over.
      if (attempt >= MAX_ATTEMPTS || (await dependencies.store.get(key, options))?.etag === stored.etag)
        throw error;
      continue;
    }
    const sys = { ...document.sys, rehydratedAt: dependencies.clock.now().toISOString() };
    try {
      // Invariant 1: the stub is replaced only if it is still the one whose blob we just verified.
      await dependencies.store.replace(fullDocument(record, sys), { ifMatch: stored.etag }, options);
      await dependencies.reader.forget(document);
      return 'rehydrated';
    } catch (error) {
      if (!hasCode(error, 'PRECONDITION_FAILED') || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}
