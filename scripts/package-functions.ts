// `npm run package`: the run-from-package zip of the Functions app. Compiled JavaScript (`npm run build`),
// host.json, package.json and production dependencies only, staged in .package/app (azure.yaml's dist,
// which azd deploys) and zipped to .package/billing-archive.zip (for `az functionapp deployment` or a
// pipeline). The entry is package.json `main`, never a path written here.
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
import { finished } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import yazl from 'yazl';

const root = resolve(import.meta.dirname, '..');
const out = join(root, '.package');
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

step('1/4 compiling TypeScript to dist/ (npm run build)');
npm(['run', 'build'], root, 'fix the type errors it prints, then npm run package again');
if (!existsSync(join(root, main)))
  fail(`${main} (package.json main) was not built: check tsconfig.build.json`);

step('2/4 staging .package/app: dist/, host.json, package.json, package-lock.json');
rmSync(out, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
// The library's type declarations are for npm consumers; the Functions host runs the JavaScript only.
cpSync(join(root, 'dist'), join(stage, 'dist'), {
  recursive: true,
  filter: (source) => !source.endsWith('.d.ts'),
});
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
