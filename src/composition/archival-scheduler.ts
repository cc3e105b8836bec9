// The in-process scheduler of `npm start` (ARCHIVE_SCHEDULE, cron): runs archival, and the collector on
// its own schedule, and retention runs (RETENTION_SCHEDULE) when RETENTION_PERIOD is set. A run still going when the next tick comes is not doubled (croner's `protect`).
import { Cron } from 'croner';
import type { ArchivalService } from '../archival/archival-service.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { auditOperation, SYSTEM_ACTOR } from '../audit/operation-audit.ts';
import type { Clock } from '../ports/clock.ts';
import type { JobReport } from '../jobs/job-service.ts';
import type { Logger } from '../ports/logger.ts';

export interface ArchivalScheduler {
  /** When the next archival run starts. */
  nextRun(): Date | null;
  stop(): Promise<void>;
}

export function startArchivalScheduler(
  archival: ArchivalService,
  schedules: { readonly archival: string; readonly collector: string | undefined },
  log: Logger,
  /** Each tick's run is the system's act, audited before it starts (not run when the trail refuses it). */
  audit: { readonly trail: Pick<AuditTrail, 'recordNow'>; readonly clock: Clock },
  retention?: { readonly schedule: string; run(): Promise<JobReport> },
): ArchivalScheduler {
  const auditTick = (action: 'archival.run' | 'archive.gc', name: string, schedule: string) =>
    auditOperation(audit.trail, audit.clock.now(), SYSTEM_ACTOR, action, {
      reason: `schedule ${name} (${schedule})`,
    });
  const jobs: Cron[] = [];
  // Stopping cancels a scheduled run in flight: it stops after its batch, leaving its checkpoint.
  const stopping = new AbortController();
  let running: Promise<unknown> = Promise.resolve();
  const track = <T>(work: Promise<T>): Promise<T> => {
    running = work.catch(() => undefined);
    return work;
  };
  jobs.push(
    new Cron(schedules.archival, { protect: true, name: 'archival' }, async () => {
      try {
        await auditTick('archival.run', 'ARCHIVE_SCHEDULE', schedules.archival);
        const report = await track(archival.run({ abortSignal: stopping.signal }));
        log.info(
          { runId: report.runId, status: report.status, counts: report.counts },
          'scheduled archival run finished',
        );
      } catch (error) {
        log.error({ err: error }, 'scheduled archival run failed');
      }
    }),
  );
  const collector = schedules.collector;
  if (collector !== undefined) {
    jobs.push(
      new Cron(collector, { protect: true, name: 'collector' }, async () => {
        try {
          await auditTick('archive.gc', 'ARCHIVE_GC_SCHEDULE', collector);
          log.info({ counts: await track(archival.collect()) }, 'scheduled collection finished');
        } catch (error) {
          log.error({ err: error }, 'scheduled collection failed');
        }
      }),
    );
  }
  if (retention !== undefined) {
    jobs.push(
      new Cron(retention.schedule, { protect: true, name: 'retention' }, async () => {
        try {
          const report = await track(retention.run());
          log.info(
            { jobId: report.jobId, status: report.status, counts: report.counts },
            'scheduled retention run finished',
          );
        } catch (error) {
          log.error({ err: error }, 'scheduled retention run failed');
        }
      }),
    );
  }
  return {
    nextRun: () => jobs[0]?.nextRun() ?? null,
    async stop() {
      for (const job of jobs) job.stop();
      stopping.abort();
      await running;
    },
  };
}
