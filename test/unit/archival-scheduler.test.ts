// The in-process scheduler runs the archival use case on its cron, and stops cleanly.
import { afterEach, describe, expect, it } from 'vitest';
import { startArchivalScheduler } from '../../src/composition/archival-scheduler.ts';
import { createTestApplication, type TestApplication } from '../support/api-harness.ts';
import { silentLogger } from '../support/archival-harness.ts';

let test: TestApplication | undefined;
afterEach(async () => {
  await test?.store.close();
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('archival scheduler', () => {
  it('starts archival runs on its schedule and reports the next one', async () => {
    test = await createTestApplication();
    const app = test;
    // Every second (croner takes a seconds field): the test waits for the first run, it does not time it.
    const scheduler = startArchivalScheduler(
      app.archival,
      { archival: '* * * * * *', collector: undefined },
      silentLogger,
      { trail: app.wired.audit, clock: app.clock },
    );
    expect(scheduler.nextRun()).toBeInstanceOf(Date);
    await waitFor(async () => (await app.archival.listRuns()).length > 0, 10_000);
    await scheduler.stop();
    const [run] = await app.archival.listRuns();
    expect(run?.status).toBe('succeeded');
    expect(scheduler.nextRun()).toBeNull();
    // Each scheduled run is the system principal's act, in the audit trail.
    const [event] = (await app.wired.audit.query({ action: 'archival.run', limit: 1 })).items;
    expect(event).toMatchObject({
      actor: { sub: 'system:scheduler', roles: ['system'] },
      status: 202,
      reason: 'schedule ARCHIVE_SCHEDULE (* * * * * *)',
    });
  });
});
