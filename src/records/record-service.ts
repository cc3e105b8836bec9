// The one data-access layer: every read and write of a record goes through here, whichever tier
// holds it. Writes are conditional on the store etag, so a concurrent writer (or the archiver)
// can never be overwritten silently; the API's If-Match is checked against the record version.
import { randomUUID } from 'node:crypto';
import { type BillingRecord, type ListQuery, type RecordSummary } from '../domain/billing-record.ts';
import { AppError, hasCode } from '../domain/errors.ts';
import { ifMatchSatisfied } from '../domain/etag.ts';
import { decodeCursor, encodeCursor, type CursorFilters } from '../domain/list-cursor.ts';
import { applyMergePatch } from '../domain/merge-patch.ts';
import { fullDocument, type StoredDocument, summaryOf } from '../domain/record-document.ts';
import { buildRecord, parseRecordInput, type RecordKey, toInput } from '../domain/record-rules.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { ArchivedRecordReader } from './archived-record-reader.ts';
import type { ReadSpikeDetector } from './read-spike-detector.ts';

export type StorageTier = 'hot' | 'archive' | 'cache';

export interface RecordRead {
  readonly record: BillingRecord;
  readonly tier: StorageTier;
}

export interface WritePreconditions {
  /** The raw If-Match header, checked against the record version. */
  readonly ifMatch?: string | undefined;
}

export interface RecordServiceDependencies {
  readonly store: RecordStore;
  readonly clock: Clock;
  readonly archive?: ArchivedRecordReader;
  readonly newId?: () => string;
  /** Records read often after archival are rehydrated in the background. */
  readonly readSpikes?: {
    readonly detector: ReadSpikeDetector;
    rehydrate(key: RecordKey): Promise<unknown>;
    onError?(key: RecordKey, error: unknown): void;
  };
}

export interface RecordPageResult {
  readonly items: readonly RecordSummary[];
  readonly nextCursor: string | null;
}

// A write lost to a concurrent writer or to the archiver's stub swap is retried from a fresh read;
// with an If-Match from the client, the fresh read then fails the version check (412) as it should.
const MAX_WRITE_ATTEMPTS = 5;

export class RecordService {
  readonly #store: RecordStore;
  readonly #clock: Clock;
  readonly #archive: ArchivedRecordReader | undefined;
  readonly #newId: () => string;
  readonly #readSpikes: RecordServiceDependencies['readSpikes'];
  readonly #background = new Set<Promise<unknown>>();

  constructor(dependencies: RecordServiceDependencies) {
    this.#store = dependencies.store;
    this.#clock = dependencies.clock;
    this.#archive = dependencies.archive;
    this.#newId = dependencies.newId ?? (() => `rec-${randomUUID()}`);
    this.#readSpikes = dependencies.readSpikes;
  }

  /** Resolves when the background rehydrations started so far have settled (tests, shutdown). */
  async whenIdle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  async get(key: RecordKey, options?: OperationOptions): Promise<RecordRead> {
    const stored = await this.#store.get(key, options);
    if (stored === undefined) throw notFound(key);
    // A hot record needs nothing more: the most frequent read is kept to this one await.
    if (stored.document.tier === 'hot') return { record: stored.document.record, tier: 'hot' };
    const read = await this.#readArchived(key, stored, options);
    if (read.tier !== 'hot') this.#noteArchivedRead(key);
    return read;
  }

  #noteArchivedRead(key: RecordKey): void {
    const spikes = this.#readSpikes;
    if (spikes === undefined || !spikes.detector.recordRead(key)) return;
    const work = spikes
      .rehydrate(key)
      .catch((error: unknown) => spikes.onError?.(key, error))
      .finally(() => {
        spikes.detector.forget(key);
        this.#background.delete(work);
      });
    this.#background.add(work);
  }

  /** The record behind a stub, read from the archive; the stub is read again if it moved meanwhile. */
  async #readArchived(
    key: RecordKey,
    stored: StoredDocument,
    options?: OperationOptions,
  ): Promise<RecordRead> {
    try {
      return await this.#materialise(stored, options);
    } catch (error) {
      // The stub may have been rehydrated (and its blob collected) between our two reads: read again.
      if (stored.document.tier !== 'archived') throw error;
      const again = await this.#store.get(key, options);
      if (again === undefined) throw notFound(key);
      if (again.etag === stored.etag) throw error;
      return this.#materialise(again, options);
    }
  }

  async create(customerId: string, body: unknown, options?: OperationOptions): Promise<BillingRecord> {
    const input = parseRecordInput(body, { customerId });
    const key = { customerId, id: input.id ?? this.#newId() };
    const record = buildRecord(input, key, this.#clock.now());
    await this.#store.create(fullDocument(record), options);
    return record;
  }

  /** Full replace (PUT). */
  async replace(
    key: RecordKey,
    body: unknown,
    preconditions: WritePreconditions,
    options?: OperationOptions,
  ): Promise<BillingRecord> {
    const input = parseRecordInput(body, key);
    return this.#write(key, preconditions, options, (current) =>
      buildRecord(input, key, this.#clock.now(), current),
    );
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
      const merged = applyMergePatch(toInput(current), patch);
      return buildRecord(parseRecordInput(merged, key), key, this.#clock.now(), current);
    });
  }

  async delete(key: RecordKey, preconditions: WritePreconditions, options?: OperationOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.#store.get(key, options);
      if (stored === undefined) throw notFound(key);
      checkIfMatch(preconditions, summaryOf(stored.document).version);
      if (stored.document.sys.legalHold !== undefined) {
        throw new AppError(
          'LEGAL_HOLD',
          `Record ${key.customerId}/${key.id} is under legal hold and cannot be deleted`,
        );
      }
      try {
        await this.#store.delete(key, { ifMatch: stored.etag }, options);
        return;
      } catch (error) {
        if (!isLostRace(error) || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  async list(customerId: string, query: ListQuery, options?: OperationOptions): Promise<RecordPageResult> {
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
      items: page.items.map(summaryOf),
      nextCursor: page.next === undefined ? null : encodeCursor(page.next, filters),
    };
  }

  /** Read-modify-write conditioned on the store etag; an archived record is rehydrated by the same write. */
  async #write(
    key: RecordKey,
    preconditions: WritePreconditions,
    options: OperationOptions | undefined,
    change: (current: BillingRecord) => BillingRecord,
  ): Promise<BillingRecord> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.#store.get(key, options);
      if (stored === undefined) throw notFound(key);
      checkIfMatch(preconditions, summaryOf(stored.document).version);
      let current: BillingRecord;
      try {
        ({ record: current } = await this.#materialise(stored, options));
      } catch (error) {
        // The stub may have been rehydrated or deleted (and its blob collected) since we read it: a lost
        // race, not a corrupt archive. Start over from a fresh read, as a read does.
        if (await this.#changedSince(stored, key, options, attempt)) continue;
        throw error;
      }
      const next = change(current);
      try {
        // Conditional on the etag read above: the stub (or full document) must still be the one we saw.
        // Writing to an archived record rehydrates it; the archival cool-down counts from now.
        const sys =
          stored.document.tier === 'archived'
            ? { ...stored.document.sys, rehydratedAt: next.updatedAt }
            : stored.document.sys;
        await this.#store.replace(fullDocument(next, sys), { ifMatch: stored.etag }, options);
        return next;
      } catch (error) {
        if (!isLostRace(error) || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  /** After a failed blob read: has the stub changed since (a lost race), or is the blob itself bad? */
  async #changedSince(
    stored: StoredDocument,
    key: RecordKey,
    options: OperationOptions | undefined,
    attempt: number,
  ): Promise<boolean> {
    if (stored.document.tier !== 'archived' || attempt >= MAX_WRITE_ATTEMPTS) return false;
    return (await this.#store.get(key, options))?.etag !== stored.etag;
  }

  async #materialise(stored: StoredDocument, options?: OperationOptions): Promise<RecordRead> {
    const { document } = stored;
    if (document.tier === 'hot') return { record: document.record, tier: 'hot' };
    if (this.#archive === undefined) {
      throw new AppError(
        'UNAVAILABLE',
        `Record ${document.customerId}/${document.id} is archived and no archive is configured`,
      );
    }
    const { record, source } = await this.#archive.read(document, options);
    return { record, tier: source };
  }
}

function checkIfMatch(preconditions: WritePreconditions, version: number): void {
  if (preconditions.ifMatch !== undefined && !ifMatchSatisfied(preconditions.ifMatch, version)) {
    throw new AppError('PRECONDITION_FAILED', `The record is at version ${version}; If-Match did not match`);
  }
}

function isLostRace(error: unknown): boolean {
  return hasCode(error, 'PRECONDITION_FAILED') || hasCode(error, 'NOT_FOUND');
}

function notFound(key: RecordKey): AppError {
  return new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
}
