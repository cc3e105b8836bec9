// The rollback of archival: every archived record (or one customer's) brought back hot, each through
// the one conditional rehydration, as a job. It pages through the stubs in scan order with keyset
// positions, so failures are passed over (counted, reasons kept) instead of blocking the next page,
// and it is resumable by construction: a rehydrated record is no longer a stub, so running the job
// again after a crash or a cancellation finds exactly what is left.
import pLimit from 'p-limit';
import { describeError } from '../domain/errors.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore, ScanPosition } from '../ports/record-store.ts';
import type { JobContext, JobDefinition } from '../jobs/job-service.ts';
import type { RehydrationResult } from './rehydration.ts';

export interface BulkRehydrationRequest {
  readonly customerId?: string;
  readonly dryRun?: boolean;
}

export interface BulkRehydrationDependencies {
  readonly store: RecordStore;
  rehydrate(key: RecordKey, options?: OperationOptions): Promise<RehydrationResult>;
  /** Stubs per page (and per checkpoint), and rehydrations in flight at once. */
  readonly pageSize?: number;
  readonly concurrency?: number;
}

export function bulkRehydrationJob(
  dependencies: BulkRehydrationDependencies,
  request: BulkRehydrationRequest,
): JobDefinition {
  return {
    kind: 'rehydration',
    dryRun: request.dryRun === true,
    request: { ...request },
    counts: ['candidates', 'rehydrated', 'alreadyHot'],
    work: (context) => rehydrateAll(dependencies, request, context),
  };
}

async function rehydrateAll(
  dependencies: BulkRehydrationDependencies,
  request: BulkRehydrationRequest,
  context: JobContext,
): Promise<void> {
  const limit = pLimit(dependencies.concurrency ?? 8);
  const options: OperationOptions = { priority: 'low', abortSignal: context.signal };
  let after: ScanPosition | undefined;
  do {
    const page = await dependencies.store.scan(
      {
        tier: 'archived',
        limit: dependencies.pageSize ?? 100,
        ...(request.customerId !== undefined ? { customerId: request.customerId } : {}),
        ...(after !== undefined ? { after } : {}),
      },
      options,
    );
    context.count('candidates', page.items.length);
    if (!context.dryRun) {
      await Promise.all(
        page.items.map((item) =>
          limit(async () => {
            if (context.signal.aborted) return;
            try {
              const result = await dependencies.rehydrate(item, options);
              context.count(result === 'rehydrated' ? 'rehydrated' : 'alreadyHot');
            } catch (error) {
              if (!context.signal.aborted)
                context.fail(`${item.customerId}/${item.id}: ${describeError(error)}`);
            }
          }),
        ),
      );
    }
    after = page.next;
    await context.checkpoint();
  } while (after !== undefined && !context.signal.aborted);
}
