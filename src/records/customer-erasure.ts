// Erasure of a customer: every record of the customer removed from every tier (record-removal.ts), with
// the blobs of superseded versions and the cached copies, refused while anything of the customer is
// held. Its hot documents and stubs are found by the two customer scans; records whose document is
// already gone but whose ledger entries remain (a copy abandoned mid-way) are found through the ledger.
// Every removed record leaves a tombstone, so a rebuild from the archive never brings it back.
import { AppError } from '../domain/errors.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { ScanPosition } from '../ports/record-store.ts';
import type { LedgerPosition } from '../ports/archive-ledger.ts';
import type { JobContext, JobDefinition } from '../jobs/job-service.ts';
import {
  REMOVAL_COUNT_NAMES,
  type RecordRemovalDependencies,
  type RemovalAudit,
  RemovalJournal,
  recoverJournal,
  removeBatch,
} from './record-removal.ts';

export interface ErasureRequest {
  readonly customerId: string;
  readonly dryRun?: boolean;
}

export interface ErasureDependencies extends RecordRemovalDependencies {
  readonly pageSize?: number;
}

/** LEGAL_HOLD when the customer, or any record of it, is held: nothing is erased then. */
export async function refuseHeldCustomer(
  dependencies: ErasureDependencies,
  customerId: string,
  options?: OperationOptions,
): Promise<void> {
  if ((await dependencies.holds.get(customerId, null, options)) !== undefined)
    throw new AppError('LEGAL_HOLD', `Customer ${customerId} is under legal hold: it cannot be erased`);
  const recordHold = (await dependencies.holds.list(options)).find(
    (hold) => hold.customerId === customerId && hold.recordId !== null,
  );
  if (recordHold !== undefined)
    throw new AppError(
      'LEGAL_HOLD',
      `Record ${customerId}/${recordHold.recordId} is under legal hold: customer ${customerId} cannot be erased`,
    );
}

export function erasureJob(
  dependencies: ErasureDependencies,
  request: ErasureRequest,
  audit: RemovalAudit,
): JobDefinition {
  return {
    kind: 'erasure',
    dryRun: request.dryRun === true,
    request: { ...request },
    counts: ['candidates', 'deleted', 'held', 'absent', ...REMOVAL_COUNT_NAMES],
    work: (context) => erase(dependencies, request, audit, context),
  };
}

async function erase(
  dependencies: ErasureDependencies,
  request: ErasureRequest,
  audit: RemovalAudit,
  context: JobContext,
): Promise<void> {
  const { customerId } = request;
  const options: OperationOptions = { priority: 'low', abortSignal: context.signal };
  // Checked again here: a hold set between the request and the job stops it before anything goes.
  await refuseHeldCustomer(dependencies, customerId, options);
  const journal = new RemovalJournal(dependencies.control, `erasure-${customerId}`);
  if (!context.dryRun) await recoverJournal(dependencies, journal, context, options);
  const how = { qualifies: () => true, journal, audit, dryRun: context.dryRun };
  const limit = dependencies.pageSize ?? 100;
  for (const tier of ['hot', 'archived'] as const) {
    let after: ScanPosition | undefined;
    do {
      const page = await dependencies.store.scan(
        { tier, customerId, limit, ...(after !== undefined ? { after } : {}) },
        options,
      );
      await removeBatch(dependencies, page.items, how, context, options);
      await context.checkpoint();
      after = page.next;
    } while (after !== undefined && !context.signal.aborted);
  }
  // Ledger entries without a document (an archiver's copy of a record deleted meanwhile): their blobs.
  let position: LedgerPosition | undefined;
  do {
    const page = await dependencies.ledger.query(
      { customerId, limit, ...(position !== undefined ? { after: position } : {}) },
      options,
    );
    for (const { entry, etag } of page.items) {
      if ((await dependencies.store.get(entry, options)) !== undefined) continue;
      context.count('orphanLedgerEntries');
      if (context.dryRun) continue;
      if (entry.blobPath !== '' && (await dependencies.archive.delete(entry.blobPath, {}, options)))
        context.count('blobs');
      if (await dependencies.ledger.delete(entry, { ifMatch: etag }, options).catch(() => false))
        context.count('ledgerEntries');
    }
    await context.checkpoint();
    position = page.next;
  } while (position !== undefined && !context.signal.aborted);
}
