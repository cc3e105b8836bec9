// Issue 14 on the production hot store: the Cosmos DB record store and ledger against
// @vercel/cosmosdb-server (in this process), the archive and control store on the in-process Azurite in
// DATA_DIR, auth from a JWKS file as an Entra ID deployment has it. The hot store is lost by deleting
// the records container (the next start creates it empty). The scenario is in data-lifecycle.scenario.ts.
import { Agent } from 'node:https';
import { basename, join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll } from 'vitest';
import { createEphemeralDevKeyPair, type DevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import {
  type CosmosEmulator,
  cosmosDeploymentSettings,
  startCosmosEmulator,
} from '../support/cosmos-emulator.ts';
import { describeDataLifecycleScenario } from './data-lifecycle.scenario.ts';

const ISSUER = 'https://login.example.test/lifecycle-tenant/v2.0';
const AUDIENCE = 'api://billing-records-lifecycle';

let emulator: CosmosEmulator | undefined;
let keys: DevKeyPair;

beforeAll(async () => {
  emulator = await startCosmosEmulator();
  keys = await createEphemeralDevKeyPair();
});
afterAll(async () => {
  await emulator?.stop();
});

function running(): CosmosEmulator {
  if (emulator === undefined) throw new Error('the Cosmos DB emulator did not start');
  return emulator;
}

describeDataLifecycleScenario({
  label: 'Cosmos DB',
  env(dataDir) {
    const jwksPath = join(dataDir, 'jwks.json');
    writeFileSync(jwksPath, JSON.stringify(keys.jwks));
    return Promise.resolve(
      cosmosDeploymentSettings(running(), {
        // One database per data folder: the same one when the deployment is opened again.
        database: `lifecycle-${basename(dataDir).replace(/[^a-zA-Z0-9-]/g, '')}`,
        jwksPath,
        issuer: ISSUER,
        audience: AUDIENCE,
      }),
    );
  },
  sign: (subject) =>
    keys.sign({
      subject,
      roles: ['Billing.Read', 'Billing.Write', 'Billing.Admin'],
      issuer: ISSUER,
      audience: AUDIENCE,
      expiresInSeconds: 3_600,
    }),
  async loseHotStore(_dataDir, config) {
    if (config.hotStore.kind !== 'cosmos') throw new Error('expected the Cosmos hot store');
    const agent = new Agent({ keepAlive: true, rejectUnauthorized: false });
    const client = new CosmosClient({ endpoint: running().endpoint, key: running().key, agent });
    try {
      await client.database(config.hotStore.database).container(config.hotStore.container).delete();
    } finally {
      client.dispose();
      agent.destroy();
    }
  },
});
