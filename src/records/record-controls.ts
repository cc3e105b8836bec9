// Legal hold and pinning: system fields on the document (full or stub), never part of the record, so
// they change neither its version nor its ETag. A hold blocks changes, deletion and retention expiry; a
// pinned record is never archived. Each change goes through the one conditional-update path.
import type { SystemFields } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import { type ConditionalUpdateDependencies, updateRecord } from './conditional-update.ts';

export interface RecordControls {
  setLegalHold(key: RecordKey, reason: string, options?: OperationOptions): Promise<SystemFields>;
  clearLegalHold(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
  pin(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
  unpin(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
}

export function createRecordControls(
  dependencies: ConditionalUpdateDependencies & { readonly clock: Clock },
): RecordControls {
  const change = (
    key: RecordKey,
    update: (sys: SystemFields) => SystemFields,
    options?: OperationOptions,
  ): Promise<SystemFields> =>
    updateRecord(
      dependencies,
      key,
      ({ stored }) => {
        const sys = update(stored.document.sys);
        return { replace: { ...stored.document, sys }, result: sys };
      },
      options,
    );
  const without = (sys: SystemFields, field: keyof SystemFields): SystemFields => {
    const { [field]: _removed, ...rest } = sys;
    return rest;
  };
  return {
    setLegalHold: (key, reason, options) =>
      change(
        key,
        (sys) => ({ ...sys, legalHold: { reason, setAt: dependencies.clock.now().toISOString() } }),
        options,
      ),
    clearLegalHold: (key, options) => change(key, (sys) => without(sys, 'legalHold'), options),
    pin: (key, options) => change(key, (sys) => ({ ...sys, pinned: true }), options),
    unpin: (key, options) => change(key, (sys) => without(sys, 'pinned'), options),
  };
}
