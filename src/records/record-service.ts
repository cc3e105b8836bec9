// The one data-access layer: every read and every change of a record goes through here, whichever
// tier holds it. Changes take the one conditional-update path (conditional-update.ts), so a concurrent
// writer (or the archiver) can never be overwritten silently; the API's If-Match is checked against
// the record version.
import { archiveFolder } from '../domain/archive-artifact.ts';
import { randomUUID } from 'node:crypto';
import { type BillingRecord, type ListQuery, type RecordSummary } from '../domain/billing-record.ts';
import { AppError, hasCode } from '../domain/errors.ts';
import { ifMatchSatisfied } from '../domain/etag.ts';
import { decodeCursor, encodeCursor, type CursorFilters } from '../domain/list-cursor.ts';
import { applyMergePatch } from '../domain/merge-patch.ts';
import {
  fullDocument,
  presentRecord,
  presentSummary,
  type RecordDocument,
  type StoredDocument,
  type StoredRecordJson,
  summaryOf,
  type SystemFields,
} from '../domain/record-document.ts';
import { buildRecord, parseRecordInput, type RecordKey, toInput } from '../domain/record-rules.ts';
import { BILLING_PROFILE } from '../domain/billing-profile.ts';
import {
  buildOwnerRecord,
  isBillingProfile,
  isOwnerRecord,
  type RecordProfile,
} from '../domain/record-profile.ts';
import {
  addTierTotals,
  documentTotals,
  type TierChangeSink,
  type TierTotals,
} from '../domain/tier-totals.ts';
import type { ArchiveLegalHolds } from '../ports/archive-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { CreateManyResult, RecordStore, TierCounts } from '../ports/record-store.ts';
import type { ArchivedReadOptions, ArchivedRecordReader } from './archived-record-reader.ts';
import {
  type ConditionalUpdateDependencies,
  type CurrentDocument,
  noArchive,
  notFound,
  updateRecord,
} from './conditional-update.ts';
import {
  createRecordControls,
  type HoldRequest,
  type RecordControls,
  type RecordControlState,
} from './record-controls.ts';
import type { PinRegister } from './record-pins.ts';
import type { RecordTombstones, TombstoneMark } from './record-tombstones.ts';
import { rehydrateRecord, type RehydrationResult } from './rehydration.ts';
import type { ReadSpikeDetector } from './read-spike-detector.ts';
import { inSpan } from '../telemetry/spans.ts';

export type StorageTier = 'hot' | 'archive' | 'cache';

export interface RecordRead {
  readonly record: BillingRecord;
  readonly tier: StorageTier;
}

/**
 * A read as the API answers it: the record, or (a hot record its store keeps as its API JSON) that JSON
 * and the record's version, never parsed.
 */
export type RecordApiRead =
  | (RecordRead & { readonly json?: undefined })
  | {
      readonly json: Uint8Array;
      readonly version: number;
      readonly tier: 'hot';
      readonly record?: undefined;
    };

/** What an export writes for a record: the JSON a GET serves as bytes when the archive holds them so, else the record. */
export type RecordJsonRead =
  | { readonly json: Buffer; readonly record?: undefined }
  | { readonly record: BillingRecord; readonly json?: undefined };

export interface WritePreconditions {
  /** The raw If-Match header, checked against the record version. */
  readonly ifMatch?: string | undefined;
}

export interface RecordServiceDependencies {
  readonly store: RecordStore;
  readonly clock: Clock;
  /** What the records are; the billing record of API.md (with its validation rules) when absent. */
  readonly profile?: RecordProfile;
  readonly archive?: ArchivedRecordReader;
  readonly newId?: () => string;
  /** Customer holds and the register of record holds; none: only a record's own hold is consulted. */
  readonly holds?: LegalHoldStore;
  /** The archive's blob hold markers, where it has them. */
  readonly archiveHolds?: ArchiveLegalHolds;
  /** The tier totals: every create, change and delete adds what it moved. */
  readonly tierCounters?: TierChangeSink;
  /** Tombstones for deleted records, where there is an archive a rebuild could bring them back from. */
  readonly tombstones?: RecordTombstones;
  /** The pin register that outlives the hot store. */
  readonly pins?: PinRegister;
  /** Records read often after archival are rehydrated in the background. */
  readonly readSpikes?: {
    readonly detector: ReadSpikeDetector;
    onRehydrated?(key: RecordKey, result: RehydrationResult): void;
    onError?(key: RecordKey, error: unknown): void;
  };
}

export interface RecordPageResult {
  readonly items: readonly RecordSummary[];
  readonly nextCursor: string | null;
}

export class RecordService implements RecordControls {
  readonly #store: RecordStore;
  readonly #clock: Clock;
  readonly #profile: RecordProfile;
  readonly #archive: ArchivedRecordReader | undefined;
  readonly #newId: () => string;
  readonly #readSpikes: RecordServiceDependencies['readSpikes'];
  readonly #controls: RecordControls;
  readonly #holds: LegalHoldStore | undefined;
  readonly #tierCounters: TierChangeSink | undefined;
  readonly #tombstones: RecordTombstones | undefined;
  readonly #background = new Set<Promise<unknown>>();

  constructor(dependencies: RecordServiceDependencies) {
    this.#store = dependencies.store;
    this.#clock = dependencies.clock;
    this.#profile = dependencies.profile ?? BILLING_PROFILE;
    this.#archive = dependencies.archive;
    this.#newId = dependencies.newId ?? (() => `rec-${randomUUID()}`);
    this.#readSpikes = dependencies.readSpikes;
    this.#holds = dependencies.holds;
    this.#tierCounters = dependencies.tierCounters;
    this.#tombstones = dependencies.tombstones;
    this.#controls = createRecordControls({
      ...this.#updateDependencies(),
      clock: this.#clock,
      ...(dependencies.holds !== undefined ? { holds: dependencies.holds } : {}),
      ...(dependencies.archiveHolds !== undefined ? { archiveHolds: dependencies.archiveHolds } : {}),
      ...(dependencies.pins !== undefined ? { pins: dependencies.pins } : {}),
    });
  }

  /** Resolves when the background rehydrations started so far have settled (tests, shutdown). */
  async whenIdle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** A `bulk` read (an export) fills no cache and does not count toward rehydration on reads. */
  async get(key: RecordKey, options?: ArchivedReadOptions): Promise<RecordRead> {
    const stored = await this.#storeRead(() => this.#store.get(key, options), key);
    if (stored === undefined) throw notFound(key);
    return this.#recordOf(key, stored, options);
  }

  /**
   * `get` for the API's GET: where the store keeps a hot record's API JSON (`RecordStore.getJson`), that
   * text as it is, with no parse and no serialisation (a quarter of a hot GET's CPU); anything else as `get`.
   */
  async getForApi(key: RecordKey): Promise<RecordApiRead> {
    const store = this.#store;
    if (store.getJson === undefined) return this.get(key);
    const stored = await this.#storeRead(() => store.getJson!(key), key);
    if (stored === undefined) throw notFound(key);
    if ('json' in stored) return { json: stored.json, version: stored.version, tier: 'hot' };
    return this.#recordOf(key, stored, undefined);
  }

  /** The store's read of one record, in its span (the tier it found). Not async: no await of its own. */
  #storeRead<T extends StoredDocument | StoredRecordJson>(
    read: () => Promise<T | undefined>,
    key: RecordKey,
  ): Promise<T | undefined> {
    return inSpan('record-store.get', { 'billing.record_id': key.id }, async (span) => {
      const found = await read();
      span.setAttribute(
        'billing.tier',
        found === undefined ? 'absent' : 'json' in found ? 'hot' : found.document.tier,
      );
      return found;
    });
  }

  /** A hot record needs nothing more: the most frequent read is kept to the store's one await. */
  #recordOf(
    key: RecordKey,
    stored: StoredDocument,
    options: ArchivedReadOptions | undefined,
  ): RecordRead | Promise<RecordRead> {
    if (stored.document.tier === 'hot') return { record: presentRecord(stored.document.record), tier: 'hot' };
    return this.#getArchived(key, stored, options);
  }

  async #getArchived(
    key: RecordKey,
    stored: StoredDocument,
    options: ArchivedReadOptions | undefined,
  ): Promise<RecordRead> {
    const read = await this.#readArchived(key, stored, options, (again) => this.#materialise(again, options));
    if (read.tier !== 'hot' && options?.bulk !== true) this.#noteArchivedRead(key);
    return { record: presentRecord(read.record), tier: read.tier };
  }

  /**
   * A bulk read for an export: `get` with `bulk`, except that an archived record whose blob holds the JSON
   * a GET serves is answered as those bytes (checked against the stub, never parsed).
   */
  async getJson(key: RecordKey, options?: OperationOptions): Promise<RecordJsonRead> {
    const bulk = { ...options, bulk: true };
    const stored = await this.#store.get(key, bulk);
    if (stored === undefined) throw notFound(key);
    return this.#readArchived(key, stored, bulk, async ({ document }) => {
      if (document.tier === 'hot') return { record: presentRecord(document.record) };
      if (this.#archive === undefined) throw noArchive(document);
      const read = await this.#archive.readJson(document, bulk);
      return read.json !== undefined ? { json: read.json } : { record: presentRecord(read.record) };
    });
  }

  #noteArchivedRead(key: RecordKey): void {
    const spikes = this.#readSpikes;
    if (spikes === undefined) return;
    // Counting may ask the shared cache: it runs in the background, so the read does not wait for it.
    const work = spikes.detector
      .recordRead(key)
      .then(async (crossed) => {
        if (!crossed) return;
        try {
          // Awaited apart: `onRehydrated?.(key, await ...)` would skip the rehydration with no listener.
          const result = await this.rehydrate(key);
          spikes.onRehydrated?.(key, result);
        } finally {
          spikes.detector.forget(key);
        }
      })
      .catch((error: unknown) => spikes.onError?.(key, error))
      .finally(() => this.#background.delete(work));
    this.#background.add(work);
  }

  /** The record behind a stub, read from the archive; the stub is read again if it moved meanwhile. */
  async #readArchived<T>(
    key: RecordKey,
    stored: StoredDocument,
    options: ArchivedReadOptions | undefined,
    materialise: (stored: StoredDocument) => Promise<T>,
  ): Promise<T> {
    try {
      return await materialise(stored);
    } catch (error) {
      // The stub may have been rehydrated (and its blob collected) between our two reads: read again.
      if (stored.document.tier !== 'archived') throw error;
      const again = await this.#store.get(key, options);
      if (again === undefined) throw notFound(key);
      if (again.etag === stored.etag) throw error;
      return materialise(again);
    }
  }

  async create(customerId: string, body: unknown, options?: OperationOptions): Promise<BillingRecord> {
    const record = this.#build(body, { customerId });
    const document = fullDocument(record);
    await this.#store.create(document, options);
    this.#tierCounters?.add(documentTotals(document));
    return presentRecord(record);
  }

  /**
   * Stores a complete record as it is (version and timestamps kept), create-only: for loaders of
   * existing data (the demo), never the API. False when a record with this key is already there.
   */
  async importRecord(record: BillingRecord, options?: OperationOptions): Promise<boolean> {
    try {
      const document = fullDocument(record);
      await this.#store.create(document, options);
      this.#tierCounters?.add(documentTotals(document));
      return true;
    } catch (error) {
      if (hasCode(error, 'ALREADY_EXISTS')) return false;
      throw error;
    }
  }

  /** importRecord for a batch: one commit where the store allows it (the demo's bulk load). */
  async importRecords(
    records: readonly BillingRecord[],
    options?: OperationOptions,
  ): Promise<CreateManyResult> {
    const documents = records.map((record) => fullDocument(record));
    const result = await this.#store.createMany(documents, options);
    if (this.#tierCounters !== undefined && result.created > 0) {
      // The store tells how many were new, not which: their bytes are the batch's mean times that.
      const all = documents.reduce<TierTotals>(
        (sum, document) => addTierTotals(sum, documentTotals(document)),
        addTierTotals({}, {}),
      );
      const share = result.created / documents.length;
      this.#tierCounters.add({ hotRecords: result.created, hotBytes: Math.round(all.hotBytes * share) });
    }
    return result;
  }

  /** Full replace (PUT). */
  async replace(
    key: RecordKey,
    body: unknown,
    preconditions: WritePreconditions,
    options?: OperationOptions,
  ): Promise<BillingRecord> {
    if (isBillingProfile(this.#profile)) {
      const input = parseRecordInput(body, key);
      return this.#write(key, preconditions, options, (current) =>
        buildRecord(input, key, this.#clock.now(), current),
      );
    }
    return this.#write(key, preconditions, options, (current) => this.#build(body, key, current));
  }

  /** JSON Merge Patch (PATCH) applied to the client-writable part of the record. */
  async patch(
    key: RecordKey,
    patch: unknown,
    preconditions: WritePreconditions,
    options?: OperationOptions,
  ): Promise<BillingRecord> {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new AppError('VALIDATION_FAILED', 'A merge patch must be a JSON object', {
        errors: [{ field: '/', message: 'must be an object' }],
      });
    }
    return this.#write(key, preconditions, options, (current) => {
      if (isOwnerRecord(current))
        return this.#build(applyMergePatch(current.ownerDocument, patch), key, current);
      const merged = applyMergePatch(toInput(current), patch);
      return buildRecord(parseRecordInput(merged, key), key, this.#clock.now(), current);
    });
  }

  async delete(key: RecordKey, preconditions: WritePreconditions, options?: OperationOptions): Promise<void> {
    await this.#refuseCustomerHold(key, 'deleted', options);
    // The tombstone goes first (a rebuild from the archive must not bring the record back), once the
    // request is known to be allowed; it is taken back if the delete does not happen after all.
    let mark: TombstoneMark | undefined;
    if (this.#tombstones !== undefined) {
      const current = await this.#store.get(key, options);
      if (current === undefined) throw notFound(key);
      checkWritable(key, current.document, preconditions, 'deleted');
      const folder = archiveFolder(key, summaryOf(current.document).issuedAt);
      mark = await this.#tombstones.mark(key, 'record.delete', folder, options);
    }
    try {
      await updateRecord(
        this.#updateDependencies(),
        key,
        ({ stored }) => {
          checkWritable(key, stored.document, preconditions, 'deleted');
          return { delete: true, result: undefined };
        },
        options,
      );
    } catch (error) {
      if (mark !== undefined) await this.#tombstones?.unmark(mark, options).catch(() => undefined);
      throw error;
    }
  }

  /** Brings an archived record back to the hot store (same version and ETag); a hot one is left alone. */
  rehydrate(key: RecordKey, options?: OperationOptions): Promise<RehydrationResult> {
    return rehydrateRecord({ ...this.#updateDependencies(), clock: this.#clock }, key, options);
  }

  /** The record's tier, version, holds and pin (what an operator looks up before acting). */
  inspect(key: RecordKey, options?: OperationOptions): Promise<RecordControlState> {
    return this.#controls.inspect(key, options);
  }

  setLegalHold(key: RecordKey, hold: HoldRequest, options?: OperationOptions): Promise<SystemFields> {
    return this.#controls.setLegalHold(key, hold, options);
  }

  clearLegalHold(key: RecordKey, options?: OperationOptions): Promise<SystemFields> {
    return this.#controls.clearLegalHold(key, options);
  }

  pin(key: RecordKey, options?: OperationOptions): Promise<SystemFields> {
    return this.#controls.pin(key, options);
  }

  unpin(key: RecordKey, options?: OperationOptions): Promise<SystemFields> {
    return this.#controls.unpin(key, options);
  }

  /** How many documents each tier holds (progress totals of bulk work). */
  countByTier(options?: OperationOptions): Promise<TierCounts> {
    return this.#store.countByTier(options);
  }

  async list(customerId: string, query: ListQuery, options?: OperationOptions): Promise<RecordPageResult> {
    if (
      !isBillingProfile(this.#profile) &&
      (query.status !== undefined || query.invoiceNumber !== undefined)
    ) {
      throw new AppError('VALIDATION_FAILED', `Profile ${this.#profile.name} lists by age only`, {
        errors: [
          {
            field: query.status !== undefined ? '/status' : '/invoiceNumber',
            message: 'is a billing filter',
          },
        ],
      });
    }
    const filters: CursorFilters = {
      customerId,
      issuedFrom: query.issuedFrom === undefined ? undefined : new Date(query.issuedFrom).toISOString(),
      issuedTo: query.issuedTo === undefined ? undefined : new Date(query.issuedTo).toISOString(),
      status: query.status,
      invoiceNumber: query.invoiceNumber,
    };
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, filters);
    const page = await this.#store.list(
      {
        customerId,
        limit: query.limit ?? 25,
        ...(filters.issuedFrom !== undefined ? { issuedFrom: filters.issuedFrom } : {}),
        ...(filters.issuedTo !== undefined ? { issuedTo: filters.issuedTo } : {}),
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.invoiceNumber !== undefined ? { invoiceNumber: query.invoiceNumber } : {}),
        ...(after !== undefined ? { after } : {}),
      },
      options,
    );
    return {
      items: page.items.map((item) => presentSummary(item.summary)),
      nextCursor: page.next === undefined ? null : encodeCursor(page.next, filters),
    };
  }

  /**
   * A customer's hold covers every record of the customer, present and future. Checked before the
   * change: a hold set while a change is in flight orders after it.
   */
  async #refuseCustomerHold(key: RecordKey, verb: 'changed' | 'deleted', options?: OperationOptions) {
    if (this.#holds === undefined) return;
    if ((await this.#holds.get(key.customerId, null, options)) !== undefined) {
      throw new AppError(
        'LEGAL_HOLD',
        `Customer ${key.customerId} is under legal hold: record ${key.id} cannot be ${verb}`,
      );
    }
  }

  /** Read-modify-write through the one conditional path; an archived record is rehydrated by the same write. */
  async #write(
    key: RecordKey,
    preconditions: WritePreconditions,
    options: OperationOptions | undefined,
    change: (current: BillingRecord) => BillingRecord,
  ): Promise<BillingRecord> {
    await this.#refuseCustomerHold(key, 'changed', options);
    return updateRecord(
      this.#updateDependencies(),
      key,
      ({ stored, record }: CurrentDocument) => {
        checkWritable(key, stored.document, preconditions, 'changed');
        const next = change(record!);
        // Writing to an archived record rehydrates it; the archival cool-down counts from now.
        const sys =
          stored.document.tier === 'archived'
            ? { ...stored.document.sys, rehydratedAt: next.updatedAt }
            : stored.document.sys;
        return { replace: fullDocument(next, sys), result: presentRecord(next) };
      },
      { ...options, needsRecord: true },
    );
  }

  /**
   * A caller's body → the record to store, by the profile's rules: the billing record's validation and
   * money rules, or (another profile) the owner's document with the engine's few checks.
   */
  #build(body: unknown, key: { customerId: string; id?: string }, current?: BillingRecord): BillingRecord {
    const now = this.#clock.now();
    if (isBillingProfile(this.#profile)) {
      const input = parseRecordInput(body, key);
      return buildRecord(input, { customerId: key.customerId, id: input.id ?? this.#newId() }, now, current);
    }
    const ownId = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
    const id = key.id ?? (typeof ownId === 'string' ? ownId : this.#newId());
    // An owner record travels through the engine as a BillingRecord (record-profile.ts says why).
    return buildOwnerRecord(
      this.#profile,
      body,
      { customerId: key.customerId, id },
      now,
      current,
    ) as unknown as BillingRecord;
  }

  #updateDependencies(): ConditionalUpdateDependencies {
    return {
      store: this.#store,
      ...(this.#archive !== undefined ? { reader: this.#archive } : {}),
      ...(this.#tierCounters !== undefined ? { tierCounters: this.#tierCounters } : {}),
    };
  }

  async #materialise(stored: StoredDocument, options?: ArchivedReadOptions): Promise<RecordRead> {
    const { document } = stored;
    if (document.tier === 'hot') return { record: document.record, tier: 'hot' };
    if (this.#archive === undefined) throw noArchive(document);
    const { record, source } = await this.#archive.read(document, options);
    return { record, tier: source };
  }
}

/** A client's change must name the current version (when it names one) and find no legal hold. */
function checkWritable(
  key: RecordKey,
  document: RecordDocument,
  preconditions: WritePreconditions,
  verb: 'changed' | 'deleted',
): void {
  const version = summaryOf(document).version;
  if (preconditions.ifMatch !== undefined && !ifMatchSatisfied(preconditions.ifMatch, version)) {
    throw new AppError('PRECONDITION_FAILED', `The record is at version ${version}; If-Match did not match`);
  }
  if (document.sys.legalHold !== undefined) {
    throw new AppError(
      'LEGAL_HOLD',
      `Record ${key.customerId}/${key.id} is under legal hold and cannot be ${verb}`,
    );
  }
}
