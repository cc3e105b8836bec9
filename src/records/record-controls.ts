// Legal hold and pinning: system fields on the document (full or stub), never part of the record, so
// they change neither its version nor its ETag. A hold blocks changes, deletion and retention expiry; a
// pinned record is never archived. Each change goes through the one conditional-update path. A record
// hold is also registered (with who set it) where holds are listed, and an archived record's blob
// carries a hold marker where the archive supports one.
import {
  type LegalHold,
  type RecordDocument,
  type SystemFields,
  versionOf,
} from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { ArchiveLegalHolds } from '../ports/archive-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import { type ConditionalUpdateDependencies, notFound, updateRecord } from './conditional-update.ts';
import type { PinRegister } from './record-pins.ts';

export interface HoldRequest {
  readonly reason: string;
  /** The `sub` of whoever sets it. */
  readonly setBy: string;
}

/** Where a record lives and what holds it there: what an operator looks up before acting on it. */
export interface RecordControlState {
  readonly customerId: string;
  readonly recordId: string;
  readonly tier: 'hot' | 'archived';
  readonly version: number;
  /** The record's own hold. */
  readonly legalHold: LegalHold | null;
  /** The customer's hold, which covers this record too. */
  readonly customerLegalHold: LegalHold | null;
  readonly pinned: boolean;
  readonly rehydratedAt: string | null;
  /** Where an archived record's bytes are. */
  readonly archive: { readonly blobPath: string; readonly archivedAt: string; readonly size: number } | null;
}

export interface RecordControls {
  inspect(key: RecordKey, options?: OperationOptions): Promise<RecordControlState>;
  setLegalHold(key: RecordKey, hold: HoldRequest, options?: OperationOptions): Promise<SystemFields>;
  clearLegalHold(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
  pin(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
  unpin(key: RecordKey, options?: OperationOptions): Promise<SystemFields>;
}

export interface RecordControlsDependencies extends ConditionalUpdateDependencies {
  readonly clock: Clock;
  /** The register of holds (listing, customer holds); none: holds live on the documents only. */
  readonly holds?: LegalHoldStore;
  /** The archive's blob hold markers, where it has them. */
  readonly archiveHolds?: ArchiveLegalHolds;
  /** The register of pins a rebuild of the hot store restores them from. */
  readonly pins?: PinRegister;
}

export function createRecordControls(dependencies: RecordControlsDependencies): RecordControls {
  const change = async (
    key: RecordKey,
    update: (sys: SystemFields) => SystemFields,
    options?: OperationOptions,
  ): Promise<{ sys: SystemFields; document: RecordDocument }> =>
    updateRecord(
      dependencies,
      key,
      ({ stored }) => {
        const sys = update(stored.document.sys);
        const document = { ...stored.document, sys };
        return { replace: document, result: { sys, document } };
      },
      options,
    );
  const without = (sys: SystemFields, field: keyof SystemFields): SystemFields => {
    const { [field]: _removed, ...rest } = sys;
    return rest;
  };
  const markBlob = async (document: RecordDocument, held: boolean, options?: OperationOptions) => {
    if (document.tier !== 'archived' || dependencies.archiveHolds === undefined) return;
    await dependencies.archiveHolds.setLegalHold(document.archive.blobPath, held, options);
  };
  return {
    async inspect(key, options) {
      const [stored, customerHold] = await Promise.all([
        dependencies.store.get(key, options),
        dependencies.holds?.get(key.customerId, null, options),
      ]);
      if (stored === undefined) throw notFound(key);
      const { document } = stored;
      return {
        customerId: document.customerId,
        recordId: document.id,
        tier: document.tier,
        version: versionOf(document),
        legalHold: document.sys.legalHold ?? null,
        customerLegalHold:
          customerHold === undefined
            ? null
            : { reason: customerHold.reason, setAt: customerHold.setAt, setBy: customerHold.setBy },
        pinned: document.sys.pinned === true,
        rehydratedAt: document.sys.rehydratedAt ?? null,
        archive:
          document.tier === 'archived'
            ? {
                blobPath: document.archive.blobPath,
                archivedAt: document.archive.archivedAt,
                size: document.archive.size,
              }
            : null,
      };
    },
    async setLegalHold(key, hold, options) {
      const setAt = dependencies.clock.now().toISOString();
      const { sys, document } = await change(
        key,
        (current) => ({ ...current, legalHold: { reason: hold.reason, setAt, setBy: hold.setBy } }),
        options,
      );
      await dependencies.holds?.put(
        { customerId: key.customerId, recordId: key.id, reason: hold.reason, setBy: hold.setBy, setAt },
        options,
      );
      await markBlob(document, true, options);
      return sys;
    },
    async clearLegalHold(key, options) {
      const { sys, document } = await change(key, (current) => without(current, 'legalHold'), options);
      await dependencies.holds?.remove(key.customerId, key.id, options);
      // The customer's hold still covers the blob.
      const customerHeld = (await dependencies.holds?.get(key.customerId, null, options)) !== undefined;
      if (!customerHeld) await markBlob(document, false, options);
      return sys;
    },
    async pin(key, options) {
      const { sys } = await change(key, (current) => ({ ...current, pinned: true }), options);
      await dependencies.pins?.set(key, true, options);
      return sys;
    },
    async unpin(key, options) {
      const { sys } = await change(key, (current) => without(current, 'pinned'), options);
      await dependencies.pins?.set(key, false, options);
      return sys;
    },
  };
}
