// End to end on the production hot store: `npm start` with the Cosmos DB adapter against
// @vercel/cosmosdb-server (started in this process), a JWKS file for auth as an Entra ID deployment
// would have, Blob on embedded Azurite. The same API scenario as on SQLite, and a restart.
import { Agent } from 'node:https';
import { CosmosClient } from '@azure/cosmos';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEphemeralDevKeyPair, type DevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import {
  type CosmosEmulator,
  cosmosDeploymentSettings,
  startCosmosEmulator,
} from '../support/cosmos-emulator.ts';
import {
  killStartedProcesses,
  runScript,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.ts';
import {
  type ApiTarget,
  call,
  describeApiScenario,
  expectRecordsAfterRestart,
  recordUrl,
  type Role,
  writeRecordsForRestart,
} from './api-scenario.ts';

const ISSUER = 'https://login.example.test/e2e-tenant/v2.0';
const AUDIENCE = 'api://billing-records-e2e';

const dataDir = mkdtempSync(join(tmpdir(), 'billing-e2e-cosmos-'));
const jwksPath = join(dataDir, 'jwks.json');
let emulator: CosmosEmulator | undefined;
let keys: DevKeyPair;
let env: Record<string, string>;
let server: ServerProcess;

function token(roles: readonly Role[], customerIds?: readonly string[]): Promise<string> {
  return keys.sign({
    subject: 'e2e-caller',
    roles,
    ...(customerIds !== undefined ? { customerIds } : {}),
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresInSeconds: 600,
  });
}

const target = (): ApiTarget => ({ baseUrl: server.baseUrl, issuer: ISSUER, audience: AUDIENCE, token });

beforeAll(async () => {
  emulator = await startCosmosEmulator();
  keys = await createEphemeralDevKeyPair();
  writeFileSync(jwksPath, JSON.stringify(keys.jwks));
  env = {
    DATA_DIR: dataDir,
    ...cosmosDeploymentSettings(emulator, {
      database: 'billing-e2e',
      jwksPath,
      issuer: ISSUER,
      audience: AUDIENCE,
    }),
  };
  server = await startServerProcess(env);
});
afterAll(async () => {
  await killStartedProcesses();
  await emulator?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start on Cosmos DB', () => {
  it('prints a banner naming the Cosmos endpoint, Azurite and the JWKS file, and no dev-token hint', () => {
    expect(server.output()).toContain(`Hot store: Cosmos DB at ${emulator?.endpoint} (database billing-e2e,`);
    expect(server.output()).toMatch(/Archive: Azurite \(Blob\) at http:\/\/127\.0\.0\.1:\d+/);
    expect(server.output()).toContain(`Auth: JWKS file ${jwksPath}`);
    expect(server.output()).not.toContain('Get a token');
  });

  it('has the token command refuse: tokens come from the identity provider', async () => {
    const result = await runScript('src/cli/token.ts', ['--role', 'Billing.Read'], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('AUTH_JWKS_PATH or AUTH_JWKS_URI is set');
  });
});

describeApiScenario('cosmos', target);

describe('a restart against the same Cosmos DB account', () => {
  it('exits 0 on SIGTERM, and serves the same bytes and ETags after starting again', async () => {
    const customerId = 'cust-cosmos-restart';
    const bearer = await token(['Billing.Read', 'Billing.Write']);
    const written = await writeRecordsForRestart(server.baseUrl, bearer, customerId);

    const code = await server.stop('SIGTERM');
    expect(server.output()).toMatch(/^Stopped cleanly\.$/m);
    expect(code).toBe(0);

    server = await startServerProcess(env);
    await expectRecordsAfterRestart(server.baseUrl, bearer, customerId, written);

    // They are in Cosmos DB itself, partitioned by customer: nothing was kept on the server's disk.
    const agent = new Agent({ rejectUnauthorized: false });
    const raw = new CosmosClient({ endpoint: emulator?.endpoint ?? '', key: emulator?.key ?? '', agent });
    try {
      const { resource } = await raw
        .database('billing-e2e')
        .container('records')
        .item('inv-restart-1', customerId)
        .read<{ id: string; customerId: string }>();
      expect(resource).toMatchObject({ id: 'inv-restart-1', customerId });
    } finally {
      raw.dispose();
      agent.destroy();
    }
  });
});

describe('a Cosmos DB outage', () => {
  it('answers 503 UNAVAILABLE with Retry-After and no stack, then serves again when Cosmos is back', async () => {
    const bearer = await token(['Billing.Read', 'Billing.Write']);
    const url = recordUrl('cust-cosmos-restart', 'inv-restart-1');
    const fault = emulator?.injectFault({
      action: { kind: 'status', status: 503 },
      method: 'GET',
      times: 1000,
    });
    try {
      const answer = await call(server.baseUrl, url, { token: bearer });
      await fault?.hit;
      expect(answer.status, answer.text).toBe(503);
      expect(answer.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(answer.json()).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
      expect(answer.text).not.toMatch(/\bat .*\.ts:\d+/);
    } finally {
      emulator?.clearFaults();
    }
    expect((await call(server.baseUrl, url, { token: bearer })).status).toBe(200);
  });
});

describe('Cosmos mode without an identity provider', () => {
  it('refuses to start on dev keys, naming the AUTH_ settings', async () => {
    const { AUTH_JWKS_PATH: _path, AUTH_ISSUER: _issuer, AUTH_AUDIENCE: _audience, ...withoutAuth } = env;
    const result = await runScript('src/cli/start.ts', [], withoutAuth);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('AUTH_JWKS_URI (or AUTH_JWKS_PATH) with AUTH_ISSUER and AUTH_AUDIENCE');
    expect(result.stdout).not.toContain('listening on');
  });
});
