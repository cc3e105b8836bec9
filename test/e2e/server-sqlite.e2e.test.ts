// End to end on the embedded defaults: `npm start` (SQLite + the file archive) in a child process,
// tokens from `npm run token`, the whole API over real HTTP, archival in its worker process, a SIGTERM
// restart (the worker stops with the server), and bad settings.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../src/config/app-config.ts';
import {
  isProcessRunning,
  killStartedProcesses,
  runScript,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.ts';
import {
  type ApiTarget,
  describeApiScenario,
  expectRecordsAfterRestart,
  type Role,
  writeRecordsForRestart,
} from './api-scenario.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'billing-e2e-sqlite-'));
const env = { DATA_DIR: dataDir };
let server: ServerProcess;
const tokens = new Map<string, Promise<string>>();

/** `npm run -s token -- --role ...` against the same DATA_DIR, as a user would get one. */
async function cliToken(roles: readonly Role[], customerIds?: readonly string[]): Promise<string> {
  const args = ['--role', ...roles, ...(customerIds !== undefined ? ['--customer', ...customerIds] : [])];
  const result = await runScript('src/cli/token.ts', args, env);
  expect(result.code, result.stderr).toBe(0);
  const token = result.stdout.trim();
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  return token;
}

/** One CLI run per distinct request: each spawn costs a node start. */
function token(roles: readonly Role[], customerIds?: readonly string[]): Promise<string> {
  const key = JSON.stringify([roles, customerIds]);
  let pending = tokens.get(key);
  if (pending === undefined) {
    pending = cliToken(roles, customerIds);
    tokens.set(key, pending);
  }
  return pending;
}

const target = (): ApiTarget => ({
  baseUrl: server.baseUrl,
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
  token,
});

beforeAll(async () => {
  server = await startServerProcess(env);
});
afterAll(async () => {
  await killStartedProcesses();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start on the embedded stores', () => {
  it('prints a banner naming SQLite and the file archive in DATA_DIR, on the port it was given', () => {
    expect(server.baseUrl).toMatch(/^http:\/\/localhost:\d+$/);
    expect(server.output()).toContain(`Hot store: SQLite at ${join(dataDir, 'hot-store.sqlite')}`);
    expect(server.output()).toContain(`Archive: files in ${join(dataDir, 'archive')}`);
    expect(existsSync(join(dataDir, 'hot-store.sqlite'))).toBe(true);
    expect(existsSync(join(dataDir, 'archive', 'index.sqlite'))).toBe(true);
  });

  it("runs archival in its worker process, not the API's: the run report names the worker's pid", async () => {
    const workerPid = bannerWorkerPid();
    expect(workerPid).not.toBe(server.child.pid);
    const headers = { authorization: `Bearer ${await token(['Billing.Admin'])}` };
    const started = await fetch(`${server.baseUrl}/api/v1/admin/archival/runs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    const report = await vi.waitFor(
      async () => {
        const run = (await (
          await fetch(`${server.baseUrl}/api/v1/admin/archival/runs/${runId}`, { headers })
        ).json()) as { status: string; executedBy?: { process: string; pid: number } };
        if (run.status === 'running') throw new Error('still running');
        return run;
      },
      { timeout: 30_000, interval: 50 },
    );
    expect(report.status).toBe('succeeded');
    expect(report.executedBy).toEqual({ process: 'archival-worker', pid: workerPid });
  });
});

/** The archival worker's pid, from the start banner. */
function bannerWorkerPid(): number {
  const match = /Archival: runs in a worker process \(pid (\d+)\)/.exec(server.output());
  expect(match, server.output()).not.toBeNull();
  return Number(match![1]);
}

describeApiScenario('sqlite', target);

describe('a restart on the same DATA_DIR', () => {
  it('exits 0 on SIGTERM saying "Stopped cleanly", and serves the same bytes and ETags after', async () => {
    const customerId = 'cust-sqlite-restart';
    const bearer = await token(['Billing.Read', 'Billing.Write']);
    const written = await writeRecordsForRestart(server.baseUrl, bearer, customerId);
    const workerPid = bannerWorkerPid();

    const code = await server.stop('SIGTERM');
    expect(server.output()).toContain('SIGTERM received');
    expect(server.output()).toMatch(/^Stopped cleanly\.$/m);
    expect(code).toBe(0);
    // The archival worker stopped with it.
    expect(isProcessRunning(workerPid)).toBe(false);

    server = await startServerProcess(env);
    // The dev key pair lives in DATA_DIR too: a token from before the restart is still good.
    await expectRecordsAfterRestart(server.baseUrl, bearer, customerId, written);
  });
});

describe('a bad setting', () => {
  it.each([
    ['PORT', 'abc', /PORT must be an integer from 0 to 65535 \(got 'abc'\)/],
    ['ARCHIVE_AFTER', 'nonsense', /ARCHIVE_AFTER must be an ISO 8601 duration .*\(got 'nonsense'\)/],
  ])('%s=%s stops the process with a non-zero exit naming the setting', async (name, value, message) => {
    const untouched = join(dataDir, `never-${name}`);
    const result = await runScript('src/cli/start.ts', [], { DATA_DIR: untouched, [name]: value });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(message);
    expect(result.stdout).not.toContain('listening on');
    // Validation comes before any store is opened.
    expect(existsSync(untouched)).toBe(false);
  });
});
