// Archival end to end on Cosmos DB (@vercel/cosmosdb-server in this process) with the server's
// in-process Azurite: `npm run demo` on Cosmos, the archive CLI beside it, a SIGKILL mid-run and a
// restart. The scenario is in archival-scenario.ts; tokens are signed here and checked through a JWKS file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createEphemeralDevKeyPair, type DevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import {
  type CosmosEmulator,
  cosmosDeploymentSettings,
  startCosmosEmulator,
} from '../support/cosmos-emulator.ts';
import { killStartedProcesses } from '../support/server-process.ts';
import { type ArchivalDeployment, describeArchivalScenario } from './archival-scenario.ts';

const ISSUER = 'https://login.example.test/e2e-archival/v2.0';
const AUDIENCE = 'api://billing-records-e2e-archival';

const dataDirs: string[] = [];
let emulator: CosmosEmulator | undefined;
let keys: DevKeyPair;

beforeAll(async () => {
  emulator = await startCosmosEmulator();
  keys = await createEphemeralDevKeyPair();
});
afterAll(async () => {
  await killStartedProcesses();
  await emulator?.stop();
  for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
});

function newDeployment(name: string): Promise<ArchivalDeployment> {
  if (emulator === undefined) throw new Error('the Cosmos emulator is not running');
  // DATA_DIR holds the server's Azurite (the archive, as EMBEDDED_ARCHIVE chooses) and the JWKS file; the records live in their own database.
  const dataDir = mkdtempSync(join(tmpdir(), `billing-e2e-archival-cosmos-${name}-`));
  dataDirs.push(dataDir);
  const jwksPath = join(dataDir, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify(keys.jwks));
  const env = {
    DATA_DIR: dataDir,
    ...cosmosDeploymentSettings(emulator, {
      database: `archival-${name}`,
      jwksPath,
      issuer: ISSUER,
      audience: AUDIENCE,
    }),
  };
  return Promise.resolve({
    env,
    token: () =>
      keys.sign({
        subject: 'e2e-operator',
        roles: ['Billing.Read', 'Billing.Write', 'Billing.Admin'],
        issuer: ISSUER,
        audience: AUDIENCE,
        expiresInSeconds: 600,
      }),
  });
}

describeArchivalScenario({
  label: 'cosmos',
  records: { live: 200, killed: 120, afterRun: 60 },
  newDeployment,
  // The emulator reports estimated request charges, so the RU budget (a token bucket) paces the killed run.
  slowRunSettings: { ARCHIVE_MAX_RU_PER_SECOND: '200' },
  runTimeoutMs: 90_000,
  // The control store is the in-process Azurite here: its metadata is saved every 5 s.
  controlWritesDurableAfterMs: 5_000,
});
