// The Functions entry point reads its timer schedules from the configuration at indexing; a bad
// configuration does not stop the indexing, and every invocation then fails naming the setting.
import type { InvocationContext, TimerFunctionOptions } from '@azure/functions';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const host = vi.hoisted(() => ({ timers: new Map<string, TimerFunctionOptions>() }));

vi.mock('@azure/functions', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@azure/functions')>();
  return {
    ...actual,
    app: {
      http: () => undefined,
      timer: (name: string, options: TimerFunctionOptions) => host.timers.set(name, options),
      storageQueue: () => undefined,
      hook: { appTerminate: () => undefined },
    },
  };
});

async function loadEntryPoint(env: Record<string, string>): Promise<Map<string, TimerFunctionOptions>> {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  host.timers.clear();
  vi.resetModules();
  await import('../../src/functions/main.ts');
  return host.timers;
}

describe('the timer schedules of src/functions/main.ts', () => {
  beforeEach(() => {
    // The embedded stores and the defaults, whatever the developer's shell has set.
    for (const name of [
      'COSMOS_ENDPOINT',
      'BLOB_CONNECTION_STRING',
      'BLOB_ACCOUNT_URL',
      'FUNCTIONS_WORKER_RUNTIME',
    ])
      vi.stubEnv(name, '');
    for (const name of ['PORT', 'ARCHIVE_TIMER_SCHEDULE', 'ARCHIVE_GC_TIMER_SCHEDULE']) vi.stubEnv(name, '');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('come from ARCHIVE_TIMER_SCHEDULE and ARCHIVE_GC_TIMER_SCHEDULE', async () => {
    const timers = await loadEntryPoint({
      ARCHIVE_TIMER_SCHEDULE: '0 */15 * * * *',
      ARCHIVE_GC_TIMER_SCHEDULE: '0 0 5 * * 6',
    });
    expect(timers.get('archivalRun')?.schedule).toBe('0 */15 * * * *');
    expect(timers.get('archiveCollector')?.schedule).toBe('0 0 5 * * 6');
  });

  it('fall back to the defaults when the configuration is bad, and each invocation names the bad setting', async () => {
    const timers = await loadEntryPoint({ PORT: 'eighty', ARCHIVE_TIMER_SCHEDULE: '0 3 * * *' });
    expect(timers.get('archivalRun')?.schedule).toBe('0 0 3 * * *');
    expect(timers.get('archiveCollector')?.schedule).toBe('0 0 4 * * 0');
    const context = { log: () => undefined } as unknown as InvocationContext;
    await expect(timers.get('archivalRun')!.handler({ isPastDue: false } as never, context)).rejects.toThrow(
      /PORT must be an integer.*\n.*ARCHIVE_TIMER_SCHEDULE must be an NCRONTAB expression/,
    );
  });
});
