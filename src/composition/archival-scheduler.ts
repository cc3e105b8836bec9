// The in-process scheduler of `npm start` (ARCHIVE_SCHEDULE, cron): runs archival, and the collector on
// its own schedule, and retention runs (RETENTION_SCHEDULE) when RETENTION_PERIOD is set. A run still going when the next tick comes is not doubled (croner's `protect`).
import { Cron } from 'croner';
import type { ArchivalService } from '../archival/archival-service.ts';
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
  retention?: { readonly schedule: string; run(): Promise<JobReport> },
): ArchivalScheduler {
  const jobs: Cron[] = [];
  let running: Promise<unknown> = Promise.resolve();
  const track = <T>(work: Promise<T>): Promise<T> => {
    running = work.catch(() => undefined);
    return work;
  };
  jobs.push(
    new Cron(schedules.archival, { protect: true, name: 'archival' }, async () => {
      try {
        const report = await track(archival.run());
        log.info(
          { runId: report.runId, status: report.status, counts: report.counts },
          'scheduled archival run finished',
        );
      } catch (error) {
        log.error({ err: error }, 'scheduled archival run failed');
      }
    }),
  );
  if (schedules.collector !== undefined) {
    jobs.push(
      new Cron(schedules.collector, { protect: true, name: 'collector' }, async () => {
        try {
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
      await running;
    },
  };
}
