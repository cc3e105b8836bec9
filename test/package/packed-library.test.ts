// The package as a consumer gets it: `npm run build`, `npm pack`, a clean project in a temp folder that
// installs the tarball (offline from the npm cache), and small plain-JavaScript programs on the Node
// versions the package claims: Node 22 with the embedded stores, and Node 20 and 22 over ready Cosmos DB
// and Blob clients (emulators), Node 20 refusing the embedded stores with a message that says why.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedAzurite, startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';

// Asynchronous: the emulators run in this process and must answer while a program runs.
const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const programs = import.meta.dirname;
/** The system Node 20 (Functions' other supported runtime); the suite's own Node is 22. */
const NODE_20 = process.env.NODE_20_PATH ?? '/usr/bin/node';

const work = mkdtempSync(join(tmpdir(), 'billing-archive-consumer-'));
const consumer = join(work, 'consumer');
let azurite: EmbeddedAzurite;
let cosmos: CosmosEmulator;

async function runProgram(node: string, program: string, env: Record<string, string> = {}) {
  const { stdout } = await run(node, [join(consumer, program)], {
    cwd: consumer,
    env: { PATH: process.env.PATH ?? '', DATA_DIR: mkdtempSync(join(work, 'data-')), ...env },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

describe('the packed library in a clean consumer project', () => {
  beforeAll(async () => {
    await run('npm', ['run', 'build'], { cwd: root });
    await run('npm', ['pack', '--pack-destination', work], { cwd: root });
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${work}`);
    // A folder outside the project: nothing resolves from the project's own node_modules.
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, 'package.json'),
      '{ "name": "consumer", "private": true, "type": "module" }\n',
    );
    // The programs run from the consumer's folder, so 'billing-archive' resolves to the installed tarball.
    for (const program of readdirSync(programs).filter((name) => name.endsWith('.mjs')))
      copyFileSync(join(programs, program), join(consumer, program));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball)], {
      cwd: consumer,
    });
    azurite = await startEmbeddedAzurite({ folder: work, port: 0, inMemory: true });
    cosmos = await startCosmosEmulator();
  }, 900_000);

  afterAll(async () => {
    await cosmos?.stop();
    await azurite?.stop();
    // The consumer's node_modules is hundreds of packages: removing it takes minutes on a loaded machine.
    rmSync(work, { recursive: true, force: true });
  }, 600_000);

  it('ships compiled JavaScript and declarations only, with an exports map', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json'], { cwd: root });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map(
      (f) => f.path,
    );
    expect(files).toContain('dist/library/index.js');
    expect(files).toContain('dist/library/index.d.ts');
    expect(files).toContain('dist/functions/main.js');
    expect(files.filter((path) => path.startsWith('src/') || path.startsWith('test/'))).toEqual([]);
    expect(files.filter((path) => path.endsWith('.map'))).toEqual([]);
    const installed = JSON.parse(
      readFileSync(join(consumer, 'node_modules', 'billing-archive', 'package.json'), 'utf8'),
    ) as { exports: Record<string, unknown>; engines: { node: string } };
    expect(installed.exports['.']).toEqual({
      types: './dist/library/index.d.ts',
      default: './dist/library/index.js',
    });
    expect(installed.engines.node).toBe('>=20.16');
  });

  it('on Node 22: creates, reads, archives with asOf ahead and reads back identical (SQLite + files)', async () => {
    const result = await runProgram(process.execPath, 'consumer-embedded.mjs');
    expect(result).toMatchObject({ node: process.version, before: 'hot', after: 'archive' });
    expect(result.counts).toMatchObject({ copied: 1, purged: 1 });
  }, 120_000);

  it.each([
    ['Node 22', process.execPath],
    ['Node 20', NODE_20],
  ])(
    'on %s: does the same over the Cosmos DB and Blob clients the consumer opened',
    async (_name, node) => {
      const result = await runProgram(node, 'consumer-clients.mjs', {
        COSMOS_ENDPOINT: cosmos.endpoint,
        COSMOS_KEY: cosmos.key,
        BLOB_CONNECTION_STRING: azurite.connectionString,
      });
      expect(result).toMatchObject({ before: 'hot', after: 'archive' });
      expect(result.counts).toMatchObject({ copied: 1, purged: 1 });
      if (node === NODE_20) expect(String(result.node)).toMatch(/^v20\./);
    },
    120_000,
  );

  it('on Node 20: loads, and refuses the embedded stores saying they need Node 22.5+', async () => {
    const result = await runProgram(NODE_20, 'consumer-node20.mjs');
    expect(String(result.node)).toMatch(/^v20\./);
    expect(result.embedded).toBe('refused');
  }, 60_000);
});
