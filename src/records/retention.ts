// Retention: records issued longer ago than RETENTION_PERIOD are removed from every tier (record-removal.ts),
// except those under their own or their customer's legal hold (counted as `held`). Incremental: each tier
// is scanned through the issuedAt index from a watermark (the keyset position the last run reached) up to
// the cutoff, so a run reads only records that expired since; held records behind the watermark are looked
// at again by a sweep every 30 days (or on request), which finds those whose hold was released.
import { AppError } from '../domain/errors.ts';
import { type IsoDuration, subtractDuration } from '../domain/iso-duration.ts';
import { summaryOf } from '../domain/record-document.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { ScanPosition } from '../ports/record-store.ts';
import type { JobContext, JobDefinition } from '../jobs/job-service.ts';
import {
  REMOVAL_COUNT_NAMES,
  type RecordRemovalDependencies,
  type RemovalAudit,
  RemovalJournal,
  recoverJournal,
  removeBatch,
} from './record-removal.ts';

export interface RetentionRequest {
  readonly asOf?: string;
  readonly dryRun?: boolean;
  /** Scan every expired record, not only those past the watermark (finds records whose hold was released). */
  readonly sweep?: boolean;
}

export interface RetentionDependencies extends RecordRemovalDependencies {
  readonly clock: Clock;
  /** Undefined: retention is off (RETENTION_PERIOD empty), and a run refuses to start. */
  readonly period: IsoDuration | undefined;
  readonly pageSize?: number;
}

interface RetentionWatermark {
  readonly positions: { readonly hot?: ScanPosition; readonly archived?: ScanPosition };
  readonly sweptAt: string;
}

const WATERMARK = 'retention/watermark';
const SWEEP_EVERY_MS = 30 * 24 * 3600_000;

export function retentionJob(
  dependencies: RetentionDependencies,
  request: RetentionRequest,
  audit: (reason: string) => RemovalAudit,
): JobDefinition {
  const period = dependencies.period;
  if (period === undefined)
    throw new AppError(
      'RETENTION_DISABLED',
      'RETENTION_PERIOD is empty: every record is kept; set it to run retention',
    );
  return {
    kind: 'retention',
    dryRun: request.dryRun === true,
    request: { ...request },
    counts: ['candidates', 'deleted', 'held', 'kept', 'absent', ...REMOVAL_COUNT_NAMES],
    work: async (context) => {
      const asOf = request.asOf !== undefined ? new Date(request.asOf) : dependencies.clock.now();
      const cutoff = subtractDuration(asOf, period).toISOString();
      const reason = `retention: issued before ${cutoff} (RETENTION_PERIOD ${period.text})`;
      await expire(dependencies, request, context, cutoff, audit(reason));
    },
  };
}

async function expire(
  dependencies: RetentionDependencies,
  request: RetentionRequest,
  context: JobContext,
  cutoff: string,
  audit: RemovalAudit,
): Promise<void> {
  const options: OperationOptions = { priority: 'low', abortSignal: context.signal };
  const journal = new RemovalJournal(dependencies.control, 'retention');
  if (!context.dryRun) await recoverJournal(dependencies, journal, context, options);
  const stored = await dependencies.control.read<RetentionWatermark>(WATERMARK, options);
  const now = dependencies.clock.now();
  // Runs as of another instant (tests, pilots) scan everything and leave the watermark alone.
  const keepsWatermark = request.asOf === undefined && !context.dryRun;
  const sweep =
    request.sweep === true ||
    request.asOf !== undefined ||
    stored === undefined ||
    now.getTime() - Date.parse(stored.value.sweptAt) >= SWEEP_EVERY_MS;
  const positions = { ...(sweep ? {} : stored?.value.positions) };
  const qualifies = (document: Parameters<typeof summaryOf>[0]) => summaryOf(document).issuedAt < cutoff;
  for (const tier of ['hot', 'archived'] as const) {
    let after = positions[tier];
    for (;;) {
      const page = await dependencies.store.scan(
        { tier, issuedBefore: cutoff, limit: dependencies.pageSize ?? 100, ...(after ? { after } : {}) },
        options,
      );
      await removeBatch(
        dependencies,
        page.items,
        { qualifies, journal, audit, dryRun: context.dryRun },
        context,
        options,
      );
      if (context.signal.aborted) return;
      const last = page.items.at(-1);
      if (last !== undefined) {
        after = { issuedAt: last.issuedAt, customerId: last.customerId, id: last.id };
        positions[tier] = after;
      }
      if (keepsWatermark) {
        const sweptAt = sweep ? now.toISOString() : (stored?.value.sweptAt ?? now.toISOString());
        await dependencies.control.write<RetentionWatermark>(WATERMARK, { positions, sweptAt }, {}, options);
      }
      await context.checkpoint();
      if (page.next === undefined) break;
      after = page.next;
    }
  }
}
