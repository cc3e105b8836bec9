// `archive run --time-budget`: the budget of one run by hand, checked as ARCHIVE_TIME_BUDGET is. A run
// that uses it up stops between batches and says how to go on; a bad duration is refused, nothing run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { makeDocument } from '../support/record-fixtures.ts';
import { runScript } from '../support/server-process.ts';

const dataDir = join(mkdtempSync(join(tmpdir(), 'billing-cli-run-')), 'data');
const env = { DATA_DIR: dataDir, ARCHIVE_GRACE_PERIOD: 'P0D', ARCHIVE_BATCH_SIZE: '1' };
const RECORDS = 3;

beforeAll(async () => {
  const store = new SqliteRecordStore({ path: join(dataDir, 'hot-store.sqlite') });
  await store.createMany(
    Array.from({ length: RECORDS }, (_, index) =>
      makeDocument({
        customerId: 'cust-budget',
        id: `rec-${index}`,
        issuedAt: '2020-01-15T00:00:00.000Z',
        createdAt: '2020-01-15T00:00:00.000Z',
        updatedAt: '2020-01-15T00:00:00.000Z',
      }),
    ),
  );
  await store.close();
});
afterAll(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));

describe('archive run --time-budget', () => {
  it('refuses a duration that is not one, naming the setting, and archives nothing', async () => {
    const run = await runScript('src/cli/archive.ts', ['run', '--time-budget', 'two hours'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ARCHIVE_TIME_BUDGET');
    const status = await runScript('src/cli/archive.ts', ['status'], env);
    // hot, copied, archived, stuck, failed: all still hot.
    expect(status.stdout.replace(/[^\d\n]+/g, ' ')).toContain(`${RECORDS} 0 0 0 0`);
  });

  it('stops a run when its budget is used, and says how to go on', async () => {
    const run = await runScript('src/cli/archive.ts', ['run', '--time-budget', 'PT0S'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('partial');
    expect(run.stdout).toContain('Stopped early: time budget of 0 ms used');
    expect(run.stdout).toContain('Run the same command again to go on from the checkpoint');

    const rest = await runScript('src/cli/archive.ts', ['run', '--time-budget', 'PT1H'], env);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stdout).toContain('succeeded');
    expect(rest.stdout).not.toContain('Stopped early');
  });
});
