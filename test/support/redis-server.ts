// Private redis-servers for outage tests (no persistence: killing one loses everything, as a failover
// can), started on a free port and killed for certain when the suite ends.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGSTOP: the server holds its connections and answers nothing (a hung cache). */
  pause(): void;
  resume(): void;
  kill(): Promise<void>;
}

const started = new Set<ChildProcess>();

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Starts a redis-server on `port` and waits for its ready line; fails loudly when there is none. */
export async function startRedisServer(port: number): Promise<RedisServer> {
  let binary: string;
  try {
    binary = execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new Error(
      'redis-server is not on the PATH; the Redis tests need it: apt-get install redis-server',
      { cause: error },
    );
  }
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start on ${port}:\n${output}`)),
      10_000,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} on port ${port}:\n${output}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      // SIGCONT first: a stopped process only dies of SIGKILL, but resuming keeps this safe after pause().
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** For afterAll: no server outlives its suite, whatever the tests did. */
export function killRedisServers(): void {
  for (const child of started) child.kill('SIGKILL');
}
