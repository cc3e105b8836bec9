// Starting the benchmarks' child processes with the same Node and flags as the parent.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO_DIR } from './bench-result.ts';

/** AsyncLocalStorage on async context frames, not async hooks (Node 22.7+; the default from Node 24). */
export const ASYNC_CONTEXT_FRAME = '--experimental-async-context-frame';
/** As `npm start` runs the server (package.json). */
export const NODE_FLAGS: readonly string[] = ['--disable-warning=ExperimentalWarning', ASYNC_CONTEXT_FRAME];

/**
 * Starts `script` (with `flags`, NODE_FLAGS by default) and resolves with its first stdout line parsed as
 * JSON (the rest goes to ours).
 */
export async function startChild<T>(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  flags: readonly string[] = NODE_FLAGS,
): Promise<{ readonly child: ChildProcess; readonly hello: T; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...flags, script, ...args], {
    cwd: REPO_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const hello = await new Promise<T>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as T));
  });
  lines.on('line', (line) => console.log(line));
  return {
    child,
    hello,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs `script` (with Node flags of its own beside NODE_FLAGS) to its end; resolves with its last stdout line parsed as JSON. */
export async function runChild<T>(
  script: string,
  args: readonly string[],
  flags: readonly string[] = [],
): Promise<T> {
  const child = spawn(process.execPath, [...NODE_FLAGS, ...flags, script, ...args], {
    cwd: REPO_DIR,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) last = line;
    else console.log(line);
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${code}`);
  return JSON.parse(last) as T;
}
