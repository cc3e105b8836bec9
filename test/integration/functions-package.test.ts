// `npm run package` builds the run-from-package zip; unpacked into an empty folder outside the repository
// (so nothing resolves from the repository's node_modules), its entry, package.json `main`, loads on plain
// Node with the production settings infra/main.bicep gives the app, pointed at local emulators, and
// registers every trigger. Loading opens no store, so the emulators need not run here.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { bicepAppSettingNames, deployedEnvironment, LOCAL_ENDPOINTS } from '../support/deployed-settings.ts';
import {
  expectEveryTrigger,
  registeredFunctions,
  writeFunctionsCoreStub,
} from '../support/functions-host-stub.ts';

const root = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'functions-package-'));
const unpacked = join(work, 'wwwroot');

/** Unzips every entry of `zipPath` under `folder`; returns the entry names. */
async function unzip(zipPath: string, folder: string): Promise<string[]> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
  const names: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      names.push(entry.fileName);
      const target = join(folder, entry.fileName);
      mkdirSync(dirname(target), { recursive: true });
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target));
    }
  } finally {
    zip.close();
  }
  return names;
}

describe('npm run package', () => {
  // Tens of thousands of files: removing them takes minutes on a loaded machine.
  afterAll(() => rmSync(work, { recursive: true, force: true }), 600_000);

  it('zips compiled JavaScript, host.json and production dependencies only; the entry registers every trigger', async () => {
    const npmCli = process.env.npm_execpath;
    const packaged = spawnSync(
      npmCli?.endsWith('.js') === true ? process.execPath : 'npm',
      // Its own output folder: the developer's .package and dist/ stay as they are.
      [
        ...(npmCli?.endsWith('.js') === true ? [npmCli] : []),
        'run',
        'package',
        '--',
        '--out',
        join(work, 'out'),
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(packaged.status, packaged.stderr).toBe(0);

    const { main } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
    mkdirSync(unpacked);
    const names = await unzip(join(work, 'out', 'billing-archive.zip'), unpacked);
    expect(names).toEqual(expect.arrayContaining(['host.json', 'package.json', main]));
    const outsideDependencies = names.filter((name) => !name.startsWith('node_modules/'));
    expect(
      outsideDependencies.filter((name) => !/^(?:dist\/.*\.js(?:\.map)?|dist\/.*\.json)$/.test(name)),
    ).toEqual(['host.json', 'package-lock.json', 'package.json']);
    // Dev tools are never shipped (each is a devDependency that no production package depends on).
    for (const tool of [
      'vitest',
      'typescript',
      'eslint',
      'prettier',
      'madge',
      '@vercel/cosmosdb-server',
      'yazl',
    ]) {
      expect(existsSync(join(unpacked, 'node_modules', tool)), tool).toBe(false);
    }
    // The shared JSON the adapters and the Bicep both read is part of the build.
    expect(names).toEqual(
      expect.arrayContaining([
        'dist/adapters/cosmos/cosmos-containers.json',
        'dist/config/resource-names.json',
      ]),
    );

    const core = join(work, 'core');
    writeFunctionsCoreStub(core);
    const probe = join(work, 'probe.mjs');
    // As the host does: the app folder is the working directory; config checked as the app reads it, then the entry.
    writeFileSync(
      probe,
      `const { loadConfig } = await import(${JSON.stringify(join(unpacked, 'dist/config/app-config.js'))});
const config = loadConfig(process.env, process.cwd());
process.stdout.write('CONFIG ' + JSON.stringify({ hot: config.hotStore.kind, archive: config.archive.kind, cache: config.cache.kind, queue: config.functions.runQueue?.kind, production: config.security.production }) + '\\n');
await import(${JSON.stringify(join(unpacked, main))});
`,
    );
    const output = execFileSync(process.execPath, ['--no-experimental-strip-types', probe], {
      cwd: unpacked,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_PATH: core, ...deployedEnvironment(LOCAL_ENDPOINTS) },
    });

    const config = output.split('\n').find((line) => line.startsWith('CONFIG '));
    expect(JSON.parse(config?.slice('CONFIG '.length) ?? '{}')).toEqual({
      hot: 'cosmos',
      archive: 'blob',
      cache: 'redis',
      queue: 'service-uri',
      production: true,
    });
    const registered = registeredFunctions(output);
    const byName = expectEveryTrigger(registered);
    // The Bicep turns triggers off by name (the schedule off during the rollout): each name must exist.
    const disabled = bicepAppSettingNames().flatMap(
      (name) => /^AzureWebJobs\.(\w+)\.Disabled$/.exec(name)?.[1] ?? [],
    );
    expect(disabled.length).toBeGreaterThan(0);
    for (const name of disabled) expect(byName.get(name), name).toBe('timerTrigger');
  }, 1_200_000);
});
