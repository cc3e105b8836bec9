// Starts the service as `npm start` does (node src/cli/start.ts) in a child process, waits for its
// banner line rather than sleeping, and stops it with a signal. Every child is tracked, so a test
// file's afterAll can kill whatever a failed test left running.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface ServerProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** stdout and stderr interleaved, as a terminal would show them. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output, now or when it arrives. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends the signal and resolves with the exit code once the output is complete (SIGKILL after 15 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = resolve(import.meta.dirname, '../..');
const PACKAGE_SCRIPTS = (
  JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

/**
 * Node's flags as the npm script that runs `script` passes them (package.json): `npm start`'s for
 * src/cli/start.ts (node:sqlite's warning off, AsyncLocalStorage on async context frames), and so on.
 */
function nodeFlagsOf(script: string): string[] {
  const command = Object.values(PACKAGE_SCRIPTS).find((candidate) => candidate.split(' ').includes(script));
  if (command === undefined) throw new Error(`No npm script runs ${script}: which Node flags would it get?`);
  return command.split(' ').filter((word) => word.startsWith('--'));
}
/** Settings from the developer's shell must not leak into a test's server (a COSMOS_ENDPOINT, say). */
const CONFIG_VARIABLE =
  /^(PORT|HOST|DATA_DIR|LOG_LEVEL|COSMOS_.*|BLOB_.*|AZURITE_PORT|REDIS_URL|CACHE_.*|AUTH_.*|ARCHIVE_.*|ALERT_.*|APPLICATIONINSIGHTS_.*)$/;
const STOP_TIMEOUT_MS = 15_000;

const running = new Set<ChildProcess>();

function spawnScript(script: string, args: readonly string[], env: Record<string, string>): ChildProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !CONFIG_VARIABLE.test(name)),
  );
  const child = spawn(process.execPath, [...nodeFlagsOf(script), resolve(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...inherited, PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** SIGKILLs every child these helpers started that is still running: call it in afterAll. */
export async function killStartedProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    }),
  );
}

export async function startServerProcess(
  env: Record<string, string>,
  options: { script?: string; args?: string[]; timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const child = spawnScript(options.script ?? 'src/cli/start.ts', options.args ?? [], env);
  const timeoutMs = options.timeoutMs ?? 60_000;
  let output = '';
  const watchers = new Set<() => void>();
  const onChunk = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);
  // Resolves (never rejects) once the process has exited and its output is fully read.
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolveClosed) =>
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolveClosed([code, signal]),
    ),
  );

  const waitForOutput = (pattern: RegExp, waitMs = timeoutMs): Promise<RegExpExecArray> =>
    new Promise((resolveMatch, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      const check = (): void => {
        const match = pattern.exec(output);
        if (match !== null) {
          finish();
          resolveMatch(match);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${String(pattern)} in the output within ${waitMs} ms:\n${output}`));
      }, waitMs);
      watchers.add(check);
      check();
      void closed.then(([code, signal]) => {
        if (!watchers.has(check)) return;
        check();
        if (!watchers.has(check)) return;
        finish();
        reject(new Error(`exited (${code ?? signal}) without ${String(pattern)} in the output:\n${output}`));
      });
    });

  // The banner's last line: everything above it (URLs, stores, demo figures) has been printed.
  try {
    await waitForOutput(/^Press Ctrl\+C to stop\.$/m);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const baseUrl = /listening on (http:\/\/\S+)/.exec(output)?.[1]?.replace(/\/$/, '');
  if (baseUrl === undefined) throw new Error(`no URL in the banner:\n${output}`);

  return {
    baseUrl,
    child,
    output: () => output,
    waitForOutput,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await closed;
        clearTimeout(killer);
      } else {
        await closed;
      }
      return child.exitCode;
    },
  };
}

/** Runs a CLI script to its end (token, a start that should fail) and collects what it printed. */
export async function runScript(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ScriptResult> {
  const child = spawnScript(script, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr };
}

/** Whether a process of this host still runs (a worker a server should have stopped, say). */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
