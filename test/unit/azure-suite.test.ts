// `npm run test:azure` is opt-in, and can only be skipped by not running it: without its settings it
// fails naming them; `npm test` never picks its files up.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import defaultConfig from '../../vitest.config.ts';

const root = resolve(import.meta.dirname, '../..');

describe('npm run test:azure', () => {
  it('is not part of npm test', () => {
    const include = defaultConfig.test?.include ?? [];
    expect(include.every((pattern) => pattern.endsWith('.test.ts'))).toBe(true);
  });

  it('fails, naming the settings it needs, when they are absent', () => {
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const run = spawnSync(process.execPath, [vitest, 'run', '--config', 'vitest.azure.config.ts'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NO_COLOR: '1' },
    });
    expect(run.status).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain(
      'npm run test:azure needs COSMOS_ENDPOINT, BLOB_ACCOUNT_URL, AZURE_TEST_LEDGER_CONTAINER',
    );
  }, 120_000);
});
