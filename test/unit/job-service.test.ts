// The job machinery (retention, erasure, rehydration, rebuild, recount): a job's checkpoints report
// progress, and between them the event loop turns even when the work never waits on I/O.
import { describe, expect, it } from 'vitest';
import { JobService } from '../../src/jobs/job-service.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import { silentLogger } from '../fakes/silent-logger.ts';
import { countEventLoopTurns, strictlyIncreasing } from '../support/event-loop-turns.ts';

describe('JobService.run', () => {
  it('reports every checkpoint, with a turn of the event loop between each two', async () => {
    const clock = new ManualClock('2026-12-03T12:00:00.000Z');
    const jobs = new JobService({ control: new MemoryControlStore(clock), clock, log: silentLogger });
    const loop = countEventLoopTurns();
    const seen: Array<{ turns: number; examined: number }> = [];
    try {
      const report = await jobs.run(
        {
          kind: 'test',
          dryRun: false,
          request: {},
          counts: ['examined'],
          async work(context) {
            // Pages that never wait on I/O, as over the embedded stores.
            for (let page = 0; page < 5; page++) {
              context.count('examined', 10);
              await context.checkpoint();
            }
          },
        },
        {
          onProgress: (progress) => seen.push({ turns: loop.turns, examined: progress.counts.examined ?? 0 }),
        },
      );
      expect(report.status).toBe('succeeded');
    } finally {
      loop.stop();
    }
    expect(seen.map(({ examined }) => examined)).toEqual([10, 20, 30, 40, 50]);
    expect(seen.map(({ turns }) => turns)).toSatisfy(strictlyIncreasing);
  });
});
