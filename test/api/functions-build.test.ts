// The deployable Functions entry: `tsc -p tsconfig.build.json` compiles src/ to JavaScript, and plain
// Node loads the compiled entry (type stripping off, so nothing .ts can sneak in) and registers every
// trigger with the host (a stand-in for the host's side: test/support/functions-host-stub.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROUTE_TABLE } from '../../src/api/api-application.ts';
import {
  expectEveryTrigger,
  registeredFunctions,
  writeFunctionsCoreStub,
} from '../support/functions-host-stub.ts';

const root = resolve(import.meta.dirname, '../..');
/** The Node worker's flags as infra/main.bicep sets them (the app setting languageWorkers__node__arguments). */
const workerFlags = (
  /^\s*languageWorkers__node__arguments: '([^']*)'$/m.exec(
    readFileSync(join(root, 'infra', 'main.bicep'), 'utf8'),
  )?.[1] ?? ''
)
  .split(' ')
  .filter((flag) => flag !== '');
mkdirSync(join(root, '.data'), { recursive: true });
const work = mkdtempSync(join(root, '.data', 'functions-build-'));

describe('the compiled Functions entry', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('builds to JavaScript that plain Node loads, registering every route, timer and queue trigger', () => {
    const outDir = join(work, 'dist');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], {
      cwd: root,
      stdio: 'pipe',
    });
    const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
    expect(packageJson.main).toBe('dist/functions/main.js');
    const entry = join(outDir, 'functions', 'main.js');

    writeFunctionsCoreStub(join(work, 'core'));
    const output = execFileSync(
      process.execPath,
      [
        '--no-experimental-strip-types',
        ...workerFlags,
        '--input-type=module',
        '--eval',
        `await import(${JSON.stringify(entry)})`,
      ],
      {
        cwd: work,
        encoding: 'utf8',
        // As under the host: Functions mode without store settings, so nothing may open at load.
        env: { PATH: process.env.PATH, NODE_PATH: join(work, 'core'), FUNCTIONS_WORKER_RUNTIME: 'node' },
      },
    );

    const started = output.split('\n').find((line) => line.includes('functions entry loaded'));
    // Under the flags the Bicep gives the worker, and saying so in its first line.
    expect(workerFlags).toEqual(['--experimental-async-context-frame']);
    expect(JSON.parse(started ?? '{}')).toMatchObject({
      node: process.version,
      execArgv: expect.arrayContaining(workerFlags) as unknown,
    });
    const registered = registeredFunctions(output);
    expectEveryTrigger(registered);
    expect(registered).toHaveLength(ROUTE_TABLE.routes.length + 3);
  }, 300_000);
});
