// Legal hold and pinning: system fields on the document (full or stub), never part of the record, so
// they change neither its version nor its ETag. A hold blocks deletion and retention expiry; a pinned
// record is never archived. Each change is conditional on the store etag and retried from a fresh read.
import { AppError, hasCode } from '../domain/errors.ts';
import type { RecordDocument, SystemFields } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';

const MAX_ATTEMPTS = 5;

export interface RecordControls {
  setLegalHold(key: RecordKey, reason: string, options?: OperationOptions): Promise<SystemFields>;
  clearLegalHold(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
  pin(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
  unpin(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
}

export function createRecordControls(store: RecordStore, clock: Clock): RecordControls {
  const change = async (
    key: RecordKey,
    update: (sys: SystemFields) => SystemFields,
    options?: OperationOptions,
  ): Promise<SystemFields> => {
    for (let attempt = 1; ; attempt++) {
      const stored = await store.get(key, options);
      if (stored === undefined)
        throw new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
      const sys = update(stored.document.sys);
      const document: RecordDocument = { ...stored.document, sys };
      try {
        await store.replace(document, { ifMatch: stored.etag }, options);
        return sys;
      } catch (error) {
        if (!hasCode(error, 'PRECONDITION_FAILED') || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  };
  const without = (sys: SystemFields, field: keyof SystemFields): SystemFields => {
    const { [field]: _removed, ...rest } = sys;
    return rest;
  };
  return {
    setLegalHold: (key, reason, options) =>
      change(key, (sys) => ({ ...sys, legalHold: { reason, setAt: clock.now().toISOString() } }), options),
    clearLegalHold: (key, options) => change(key, (sys) => without(sys, 'legalHold'), options),
    pin: (key, options) => change(key, (sys) => ({ ...sys, pinned: true }), options),
    unpin: (key, options) => change(key, (sys) => without(sys, 'pinned'), options),
  };
}
