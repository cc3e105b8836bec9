// `npm run package`: the run-from-package zip of the Functions app. Compiled JavaScript (tsc with
// tsconfig.build.json, as `npm run build`), host.json, package.json and production dependencies only,
// staged in .package/app (azure.yaml's dist, which azd deploys) and zipped to .package/billing-archive.zip
// (for `az functionapp deployment` or a pipeline). The entry is package.json `main`, never a path written
// here. `--out <folder>` stages and zips elsewhere; the project's own dist/ is never touched, so a package
// and `npm run build` (the library's) can run at once.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { finished } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import yazl from 'yazl';

const root = resolve(import.meta.dirname, '..');
const { values: options } = parseArgs({ options: { out: { type: 'string', default: '.package' } } });
const out = resolve(root, options.out);
const stage = join(out, 'app');
const zipPath = join(out, 'billing-archive.zip');
/** Files at the package root besides dist/ and node_modules/. */
const ROOT_FILES = ['host.json', 'package.json', 'package-lock.json'];
// A fixed time for every entry: the same sources and lock file give the same zip, byte for byte.
const ENTRY_TIME = new Date('2000-01-01T00:00:00Z');

function step(message: string): void {
  process.stderr.write(`package: ${message}\n`);
}

function fail(message: string): never {
  process.stderr.write(`package: ${message}\n`);
  process.exit(1);
}

/** Runs an npm command with its own output shown (its progress); fails with what to do next. */
function npm(args: readonly string[], cwd: string, next: string): void {
  const npmCli = process.env.npm_execpath;
  const [command, commandArgs] =
    npmCli !== undefined && npmCli.endsWith('.js')
      ? [process.execPath, [npmCli, ...args]]
      : ['npm', [...args]];
  const result = spawnSync(command, commandArgs, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) fail(`npm ${args.join(' ')} failed in ${relative(root, cwd) || '.'}: ${next}`);
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((file) => statSync(join(folder, file)).isFile())
    .sort();
}

const { main } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string };
if (main === undefined || !main.startsWith('dist/') || !main.endsWith('.js')) {
  fail(`package.json main must name the compiled Functions entry under dist/ (got ${String(main)})`);
}

step(
  `1/4 compiling TypeScript to ${relative(root, join(stage, 'dist'))} (tsconfig.build.json, as npm run build)`,
);
rmSync(out, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
// Compiled straight into the stage: the library's type declarations are for npm consumers; the
// Functions host runs the JavaScript only.
const tsc = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    ...['-p', join(root, 'tsconfig.build.json'), '--outDir', join(stage, 'dist'), '--declaration', 'false'],
  ],
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
);
if (tsc.status !== 0) fail('tsc failed: fix the type errors it printed, then npm run package again');
if (!existsSync(join(stage, main)))
  fail(`${main} (package.json main) was not built: check tsconfig.build.json`);

step(`2/4 staging ${relative(root, stage)}: dist/, host.json, package.json, package-lock.json`);
for (const file of ROOT_FILES) cpSync(join(root, file), join(stage, file));

step('3/4 installing production dependencies only (npm ci --omit=dev)');
npm(
  ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
  stage,
  "check the npm registry is reachable (or the npm cache holds the lock file's packages), then npm run package again",
);

const files = filesUnder(stage);
step(`4/4 zipping ${files.length} files to ${relative(root, zipPath)}`);
const zip = new yazl.ZipFile();
const bar = new cliProgress.SingleBar(
  { format: 'package: [{bar}] {value}/{total} files', stream: process.stderr },
  cliProgress.Presets.shades_classic,
);
bar.start(files.length, 0);
for (const file of files) {
  zip.addFile(join(stage, file), file.split(sep).join('/'), { mtime: ENTRY_TIME, mode: 0o100644 });
  bar.increment();
}
zip.end();
await finished(zip.outputStream.pipe(createWriteStream(zipPath)));
bar.stop();

const megabytes = (statSync(zipPath).size / 1024 / 1024).toFixed(1);
step(
  `done: ${relative(root, zipPath)} (${megabytes} MB, ${files.length} files, entry ${main}); azd deploys ${relative(root, stage)}`,
);
