// Bringing the hold markers of a customer's archived blobs in line with its holds, as a job: a customer
// with millions of archived records is a long scan, so setting or releasing the hold answers at once
// and this runs behind a job id. Each blob is marked from the holds read for its page (the customer's
// or the record's own), so the marks are idempotent and the latest state wins: running the job again
// (after a crash, a cancellation or failures) converges to the same marks, and a hold set then
// released converges to "not held" whichever job's page comes last.
import { describeError } from '../domain/errors.ts';
import type { JobContext, JobDefinition } from '../jobs/job-service.ts';
import type { ArchiveLegalHolds } from '../ports/archive-store.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore, ScanPosition } from '../ports/record-store.ts';

export interface HoldMarkingDependencies {
  readonly holds: Pick<LegalHoldStore, 'get'>;
  readonly store: Pick<RecordStore, 'scan'>;
  readonly archiveHolds: ArchiveLegalHolds;
  /** Stubs per page (and per checkpoint). */
  readonly pageSize?: number;
}

export interface HoldMarkingRequest {
  readonly customerId: string;
  /** What started it: the hold set or released (shown in the job's report). */
  readonly change: 'set' | 'clear';
  readonly by: string;
}

export function customerHoldMarkingJob(
  dependencies: HoldMarkingDependencies,
  request: HoldMarkingRequest,
): JobDefinition {
  return {
    kind: 'legal-hold-marking',
    dryRun: false,
    request: { ...request },
    counts: ['candidates', 'held', 'released'],
    work: (context) => markAll(dependencies, request.customerId, context),
  };
}

async function markAll(
  dependencies: HoldMarkingDependencies,
  customerId: string,
  context: JobContext,
): Promise<void> {
  const options: OperationOptions = { priority: 'low', abortSignal: context.signal };
  let after: ScanPosition | undefined;
  do {
    const page = await dependencies.store.scan(
      {
        tier: 'archived',
        customerId,
        limit: dependencies.pageSize ?? 200,
        ...(after !== undefined ? { after } : {}),
      },
      options,
    );
    // Read per page, not once: a release that lands while this job runs is what its later pages mark.
    const customerHeld = (await dependencies.holds.get(customerId, null, options)) !== undefined;
    for (const item of page.items) {
      if (context.signal.aborted) return;
      if (item.sys.archive === undefined) continue;
      context.count('candidates');
      const held = customerHeld || item.sys.legalHold !== undefined;
      try {
        await dependencies.archiveHolds.setLegalHold(item.sys.archive.blobPath, held, options);
        context.count(held ? 'held' : 'released');
      } catch (error) {
        context.fail(`${item.customerId}/${item.id}: ${describeError(error)}`);
      }
    }
    after = page.next;
    await context.checkpoint();
  } while (after !== undefined && !context.signal.aborted);
}
