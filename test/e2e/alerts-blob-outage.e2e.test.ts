// The "done means" of alerting, end to end: `npm start` over an Azurite this test runs (the archive),
// a real HTTP receiver as ALERT_WEBHOOK_URL; Azurite stopped → ArchiveUnreachable fires at
// GET /api/v1/admin/alerts and is POSTed once; Azurite back on the same port → it resolves, POSTed once.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shareOrStartEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import {
  killStartedProcesses,
  runScript,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'billing-e2e-alerts-'));
const azuriteDir = mkdtempSync(join(tmpdir(), 'billing-e2e-alerts-azurite-'));
let server: ServerProcess;
let receiver: Server;
let azurite: Awaited<ReturnType<typeof shareOrStartEmbeddedAzurite>>;
let azuritePort: number;
const received: Array<{ name: string; change: string; state: string }> = [];
let token: string;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function alertState(name: string): Promise<{ state: string; value: number | null }> {
  const response = await fetch(`${server.baseUrl}/api/v1/admin/alerts`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as {
    alerts: Array<{ name: string; state: string; value: number | null }>;
  };
  const alert = body.alerts.find((candidate) => candidate.name === name);
  expect(alert).toBeDefined();
  return alert!;
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(JSON.parse(body) as (typeof received)[number]);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverPort = (receiver.address() as { port: number }).port;
  azurite = await shareOrStartEmbeddedAzurite({ folder: azuriteDir, port: 0 });
  azuritePort = Number(new URL(azurite.blobEndpoint).port);
  const env = {
    DATA_DIR: dataDir,
    BLOB_CONNECTION_STRING: azurite.connectionString,
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/alerts`,
    ALERT_EVALUATION_INTERVAL: 'PT1S',
  };
  server = await startServerProcess(env);
  const result = await runScript('src/cli/token.ts', ['--role', 'Billing.Admin'], env);
  expect(result.code, result.stderr).toBe(0);
  token = result.stdout.trim();
}, 120_000);

afterAll(async () => {
  await killStartedProcesses();
  await azurite?.stop().catch(() => undefined);
  await new Promise((resolve) => receiver?.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(azuriteDir, { recursive: true, force: true });
});

describe('an archive outage, alerted and resolved', () => {
  it('fires ArchiveUnreachable when Blob stops, POSTs it once, and resolves after recovery', async () => {
    expect((await alertState('ArchiveUnreachable')).state).toBe('ok');

    await azurite.stop();
    const firing = await waitFor('ArchiveUnreachable to fire', async () => {
      const alert = await alertState('ArchiveUnreachable');
      return alert.state === 'firing' ? alert : undefined;
    });
    expect(firing.value).toBe(0);
    await waitFor('the firing POST', () =>
      Promise.resolve(
        received.some((r) => r.name === 'ArchiveUnreachable' && r.change === 'firing') || undefined,
      ),
    );

    azurite = await shareOrStartEmbeddedAzurite({ folder: azuriteDir, port: azuritePort });
    await waitFor('ArchiveUnreachable to resolve', async () =>
      (await alertState('ArchiveUnreachable')).state === 'ok' ? true : undefined,
    );
    await waitFor('the resolved POST', () =>
      Promise.resolve(
        received.some((r) => r.name === 'ArchiveUnreachable' && r.change === 'resolved') || undefined,
      ),
    );
    const changes = received.filter((r) => r.name === 'ArchiveUnreachable').map((r) => r.change);
    expect(changes).toEqual(['firing', 'resolved']);
  }, 180_000);
});
