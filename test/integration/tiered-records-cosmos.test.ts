// Issue 4 on the production hot store: the same scenario of reads, writes and lists across tiers, with
// the Cosmos DB adapter against @vercel/cosmosdb-server (in this process), auth from a JWKS file as an
// Entra ID deployment has it, and Blob on an in-memory Azurite. One database per deployment; the
// emulator scans a whole container per query, so each holds a few dozen records at most.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createEphemeralDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';
import { describeTieredRecordsScenario, type HotStoreFactory } from './tiered-records.scenario.ts';

const ISSUER = 'https://login.example.test/integration-tenant/v2.0';
const AUDIENCE = 'api://billing-records-integration';

let emulator: CosmosEmulator | undefined;

beforeAll(async () => {
  emulator = await startCosmosEmulator();
});
afterAll(async () => {
  await emulator?.stop();
});

const cosmosHotStore: HotStoreFactory = async (dataDir) => {
  if (emulator === undefined) throw new Error('the Cosmos DB emulator did not start');
  const keys = await createEphemeralDevKeyPair();
  const jwksPath = join(dataDir, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify(keys.jwks));
  return {
    env: {
      COSMOS_ENDPOINT: emulator.endpoint,
      COSMOS_KEY: emulator.key,
      COSMOS_DATABASE: `tiers-${randomUUID().slice(0, 8)}`,
      COSMOS_ALLOW_INSECURE_TLS: 'true',
      // The emulator cannot say its throughput: no budget, rather than the 100 RU/s fallback.
      ARCHIVE_MAX_RU_PER_SECOND: '0',
      AUTH_JWKS_PATH: jwksPath,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
    },
    sign: (roles) =>
      keys.sign({
        subject: 'integration-test',
        roles,
        issuer: ISSUER,
        audience: AUDIENCE,
        expiresInSeconds: 3_600,
      }),
  };
};

describeTieredRecordsScenario('Cosmos DB', cosmosHotStore);
