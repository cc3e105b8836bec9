// Removing a record from every tier, for retention and erasure: its tombstone first (so a rebuild from
// the archive never brings it back), then its ledger entries (whatever their state), then its document
// (full or stub, conditioned on the etag the decision was made on), then its cached copy, then every
// blob of it that the plan found. A batch's plans are journalled in the control store before any of
// this, so a job cut short by a crash finishes (or takes back) exactly those records on its next run.
import { archiveFolder } from '../domain/archive-artifact.ts';
import { describeError, hasCode } from '../domain/errors.ts';
import type { RecordDocument, StubDocument } from '../domain/record-document.ts';
import { summaryOf } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import {
  documentTotals,
  negateTierTotals,
  type TierChangeSink,
  type TierDelta,
} from '../domain/tier-totals.ts';
import type { ArchiveLedger } from '../ports/archive-ledger.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { ArchivedRecordReader } from './archived-record-reader.ts';
import type { RecordTombstones } from './record-tombstones.ts';

/** Plans re-made when the document changes between the plan and its deletion. */
const MAX_REMOVAL_ATTEMPTS = 5;

export interface RecordRemovalDependencies {
  readonly store: RecordStore;
  readonly ledger: ArchiveLedger;
  readonly archive: ArchiveStore;
  readonly holds: LegalHoldStore;
  readonly control: ArchivalControlStore;
  readonly reader: Pick<ArchivedRecordReader, 'forget'>;
  readonly tombstones: RecordTombstones;
  /** The tier totals status and the cost report read: a removal takes its document and blobs off them. */
  readonly tierCounters?: TierChangeSink;
}

/** What removing one record takes, decided before anything is written. */
export interface RemovalPlan {
  readonly customerId: string;
  readonly id: string;
  /** The document's store etag the decision was made on. */
  readonly etag: string;
  readonly tier: 'hot' | 'archived';
  /** The record's archive folder (issuedAt's month), named in its tombstone; absent in older journals. */
  readonly folder?: string;
  /** Every blob of the record found: the stub's, the ledger entries', the versions beside them. */
  readonly blobPaths: readonly string[];
  /** The stub, for its cached copy. */
  readonly stub?: StubDocument;
  /** What the document adds to the tier totals (absent in plans journalled by an older version). */
  readonly totals?: TierDelta;
  /** The size of each blob the listing found, for the tier totals. */
  readonly blobSizes?: Readonly<Record<string, number>>;
}

/** What one removal did, for the job's report (which tier lost what). */
export interface RemovalCounts {
  hotDocuments: number;
  stubs: number;
  ledgerEntries: number;
  blobs: number;
  cacheEntries: number;
  tombstones: number;
}

export type RemovalOutcome = 'deleted' | 'held' | 'absent' | 'kept';

export function emptyRemovalCounts(): RemovalCounts {
  return { hotDocuments: 0, stubs: 0, ledgerEntries: 0, blobs: 0, cacheEntries: 0, tombstones: 0 };
}

/** The decision on one document: held (own hold), to remove, or to keep (it no longer qualifies). */
export async function planRemoval(
  dependencies: RecordRemovalDependencies,
  key: RecordKey,
  qualifies: (document: RecordDocument) => boolean,
  options?: OperationOptions,
): Promise<RemovalPlan | Exclude<RemovalOutcome, 'deleted'>> {
  const stored = await dependencies.store.get(key, options);
  if (stored === undefined) return 'absent';
  const { document } = stored;
  if (document.sys.legalHold !== undefined) return 'held';
  if (!qualifies(document)) return 'kept';
  const paths = new Set<string>();
  const blobSizes: Record<string, number> = {};
  if (document.tier === 'archived') paths.add(document.archive.blobPath);
  const entry = await dependencies.ledger.get(key, options);
  if (entry !== undefined && entry.entry.blobPath !== '') paths.add(entry.entry.blobPath);
  // Superseded versions sit beside the current one, under the month of issuedAt.
  const folder = archiveFolder(key, summaryOf(document).issuedAt);
  let continuation: string | undefined;
  do {
    const page = await dependencies.archive.list(
      folder,
      { pageSize: 100, ...(continuation !== undefined ? { continuation } : {}) },
      options,
    );
    for (const blob of page.items) {
      paths.add(blob.path);
      blobSizes[blob.path] = blob.size;
    }
    continuation = page.continuation;
  } while (continuation !== undefined);
  return {
    customerId: key.customerId,
    id: key.id,
    etag: stored.etag,
    tier: document.tier,
    folder,
    blobPaths: [...paths],
    ...(document.tier === 'archived' ? { stub: document } : {}),
    totals: documentTotals(document),
    blobSizes,
  };
}

/**
 * Carries a plan out. 'changed' when the document is no longer the planned one (a writer or the archiver
 * came first): its tombstone is taken back and the caller plans again.
 */
export async function carryOutRemoval(
  dependencies: RecordRemovalDependencies,
  plan: RemovalPlan,
  reason: string,
  counts: RemovalCounts,
  options?: OperationOptions,
): Promise<'deleted' | 'changed'> {
  const key = { customerId: plan.customerId, id: plan.id };
  const mark = await dependencies.tombstones.mark(key, reason, plan.folder, options);
  try {
    await dependencies.store.delete(key, { ifMatch: plan.etag }, options);
    // Only the delete that happened here takes the document off the totals (a writer's own delete counted its).
    dependencies.tierCounters?.add(negateTierTotals(plan.totals ?? {}));
  } catch (error) {
    if (!hasCode(error, 'PRECONDITION_FAILED') && !hasCode(error, 'NOT_FOUND')) throw error;
    if (hasCode(error, 'PRECONDITION_FAILED') || (await dependencies.store.get(key, options)) !== undefined) {
      await dependencies.tombstones.unmark(mark, options);
      return 'changed';
    }
  }
  counts.tombstones += 1;
  counts[plan.tier === 'archived' ? 'stubs' : 'hotDocuments'] += 1;
  await finishRemoval(dependencies, plan, counts, options);
  return 'deleted';
}

/** What follows the document's deletion; idempotent, so a journal replay runs it again safely. */
async function finishRemoval(
  dependencies: RecordRemovalDependencies,
  plan: RemovalPlan,
  counts: RemovalCounts,
  options?: OperationOptions,
): Promise<void> {
  const key = { customerId: plan.customerId, id: plan.id };
  // The ledger after the document: an archiver's purge that lost the race drops its own entry, and one
  // that came between sees no document and drops it too. Whatever state an entry has, it goes.
  for (let entry = await dependencies.ledger.get(key, options); entry !== undefined;) {
    try {
      if (await dependencies.ledger.delete(key, { ifMatch: entry.etag }, options)) counts.ledgerEntries += 1;
    } catch (error) {
      if (!hasCode(error, 'PRECONDITION_FAILED')) throw error;
    }
    entry = await dependencies.ledger.get(key, options);
  }
  if (plan.stub !== undefined) {
    await dependencies.reader.forget(plan.stub);
    counts.cacheEntries += 1;
  }
  // Nothing references these blobs any more (the document and the ledger entries are gone).
  for (const path of plan.blobPaths) {
    if (await dependencies.archive.delete(path, {}, options)) {
      counts.blobs += 1;
      dependencies.tierCounters?.add({ blobs: -1, blobBytes: -(plan.blobSizes?.[path] ?? 0) });
    }
  }
}

/** Plans and carries out the removal of one record, planning again while the document keeps changing. */
export async function removeRecord(
  dependencies: RecordRemovalDependencies,
  key: RecordKey,
  how: {
    readonly reason: string;
    readonly qualifies: (document: RecordDocument) => boolean;
    readonly journal?: RemovalJournal;
  },
  counts: RemovalCounts,
  options?: OperationOptions,
): Promise<RemovalOutcome> {
  for (let attempt = 1; ; attempt++) {
    const plan = await planRemoval(dependencies, key, how.qualifies, options);
    if (typeof plan === 'string') return plan;
    await how.journal?.add(plan, options);
    const outcome = await carryOutRemoval(dependencies, plan, how.reason, counts, options);
    if (outcome === 'deleted') return 'deleted';
    if (attempt >= MAX_REMOVAL_ATTEMPTS)
      throw new Error(`${key.customerId}/${key.id} kept changing while it was being removed; run again`);
  }
}

/**
 * The plans of the batch in progress, in one control document per job scope (`lifecycle/journal/...`):
 * each plan is added before its tombstone is written, and the batch's are emptied after its last. A job that finds it non-empty at its
 * start finishes each planned record that is gone, and takes back the tombstone of each that is still
 * there (the batch is scanned again and decides afresh).
 */
export class RemovalJournal {
  readonly #control: ArchivalControlStore;
  readonly #name: string;
  #plans: RemovalPlan[] = [];

  constructor(control: ArchivalControlStore, scope: string) {
    this.#control = control;
    this.#name = `lifecycle/journal/${scope}`;
  }

  async add(plan: RemovalPlan, options?: OperationOptions): Promise<void> {
    this.#plans.push(plan);
    await this.#control.write(this.#name, { plans: this.#plans }, {}, options);
  }

  async clear(options?: OperationOptions): Promise<void> {
    if (this.#plans.length === 0) return;
    this.#plans = [];
    await this.#control.write(this.#name, { plans: [] }, {}, options);
  }

  /** Finishes what a crashed run left: returns how many planned records it found gone and finished. */
  async recover(
    dependencies: RecordRemovalDependencies,
    counts: RemovalCounts,
    options?: OperationOptions,
  ): Promise<number> {
    const stored = await this.#control.read<{ plans: RemovalPlan[] }>(this.#name, options);
    const plans = stored?.value.plans ?? [];
    let finished = 0;
    for (const plan of plans) {
      const key = { customerId: plan.customerId, id: plan.id };
      const current = await dependencies.store.get(key, options);
      if (current === undefined) {
        await finishRemoval(dependencies, plan, counts, options);
        finished += 1;
      } else {
        // Not deleted (or changed since): a tombstone it may have got must not stand over a live record.
        await dependencies.tombstones.remove(key, options);
      }
    }
    if (plans.length > 0) await this.#control.write(this.#name, { plans: [] }, {}, options);
    return finished;
  }
}

/** Who removes, and why: each deletion's audit event carries both. */
export interface RemovalAudit {
  readonly reason: string;
  /** Writes one deletion's event (actor and reason bound) durably: the audit trail's recordNow. */
  record(key: RecordKey): Promise<void>;
}

function addRemovalCounts(context: { count(name: string, by?: number): void }, counts: RemovalCounts): void {
  for (const [name, value] of Object.entries(counts) as Array<[string, number]>) context.count(name, value);
}

/** The counts a removal job reports, beside its own. */
export const REMOVAL_COUNT_NAMES = Object.keys(emptyRemovalCounts());

/**
 * Removes a batch of scanned records (one job page): customers under hold are passed over as `held`,
 * each removal is audited once it is done, failures are counted and the batch goes on.
 */
export async function removeBatch(
  dependencies: RecordRemovalDependencies,
  items: readonly RecordKey[],
  how: {
    readonly qualifies: (document: RecordDocument) => boolean;
    readonly journal: RemovalJournal;
    readonly audit: RemovalAudit;
    readonly dryRun: boolean;
  },
  context: {
    count(name: string, by?: number): void;
    fail(reason: string): void;
    readonly signal: AbortSignal;
  },
  options?: OperationOptions,
): Promise<void> {
  const customerHeld = new Map<string, boolean>();
  for (const key of items) {
    if (context.signal.aborted) break;
    context.count('candidates');
    try {
      let held = customerHeld.get(key.customerId);
      if (held === undefined) {
        held = (await dependencies.holds.get(key.customerId, null, options)) !== undefined;
        customerHeld.set(key.customerId, held);
      }
      if (held) {
        context.count('held');
        continue;
      }
      if (how.dryRun) {
        const plan = await planRemoval(dependencies, key, how.qualifies, options);
        context.count(typeof plan === 'string' ? plan : 'deleted');
        continue;
      }
      const counts = emptyRemovalCounts();
      const outcome = await removeRecord(
        dependencies,
        key,
        { reason: how.audit.reason, qualifies: how.qualifies, journal: how.journal },
        counts,
        options,
      );
      context.count(outcome);
      addRemovalCounts(context, counts);
      if (outcome === 'deleted') await how.audit.record(key);
    } catch (error) {
      context.fail(`${key.customerId}/${key.id}: ${describeError(error)}`);
    }
  }
  await how.journal.clear(options);
}

/** Finishes what a crashed run of this job left (its journal), counting it in the job's report. */
export async function recoverJournal(
  dependencies: RecordRemovalDependencies,
  journal: RemovalJournal,
  context: { count(name: string, by?: number): void },
  options?: OperationOptions,
): Promise<void> {
  const counts = emptyRemovalCounts();
  context.count('recovered', await journal.recover(dependencies, counts, options));
  addRemovalCounts(context, counts);
}
