// check-indexing against @vercel/cosmosdb-server: an existing container's own policy is read (never
// changed) and what the engine's queries need that it lacks is reported; the CLI exits 2 on gaps.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { CosmosClient, type IndexingPolicy } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexingGaps } from '../../src/adapters/cosmos/indexing-check.ts';
import { RECORDS_INDEXING_POLICY } from '../../src/adapters/cosmos/cosmos-record-store.ts';
import { checkRecordsIndexing, describeGap } from '../../src/composition/check-indexing.ts';
import { loadConfig } from '../../src/config/app-config.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let emulator: CosmosEmulator;
let client: CosmosClient;
const database = `indexing-${randomUUID().slice(0, 8)}`;

/** An existing service's policy: everything indexed but its own blobs, and one composite of its own. */
const EXISTING_POLICY: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/*' }],
  excludedPaths: [{ path: '/sys/*' }, { path: '/invoiceNumber/?' }],
  compositeIndexes: [
    [
      { path: '/customerId', order: 'ascending' },
      { path: '/issuedAt', order: 'descending' },
      { path: '/id', order: 'descending' },
    ],
  ],
};

function settings(container: string) {
  return {
    COSMOS_ENDPOINT: emulator.endpoint,
    COSMOS_KEY: emulator.key,
    COSMOS_DATABASE: database,
    COSMOS_CONTAINER: container,
    COSMOS_ALLOW_INSECURE_TLS: 'true',
    // Required beside COSMOS_ENDPOINT; the check itself verifies no token.
    AUTH_JWKS_URI: 'https://login.example.test/keys',
    AUTH_ISSUER: 'https://login.example.test/',
    AUTH_AUDIENCE: 'api://billing',
  };
}

async function createContainer(id: string, indexingPolicy: IndexingPolicy): Promise<void> {
  const { database: db } = await client.databases.createIfNotExists({ id: database });
  await db.containers.create({ id, partitionKey: { paths: ['/customerId'] }, indexingPolicy });
}

async function policyOf(id: string): Promise<unknown> {
  return (await client.database(database).container(id).read()).resource?.indexingPolicy;
}

beforeAll(async () => {
  emulator = await startCosmosEmulator();
  client = new CosmosClient({
    endpoint: emulator.endpoint,
    key: emulator.key,
    agent: new Agent({ rejectUnauthorized: false }),
  });
});
afterAll(async () => {
  client?.dispose();
  await emulator?.stop();
});

describe('the indexing-policy check', () => {
  it("reports what an existing container's policy lacks, and leaves the policy as it was", async () => {
    await createContainer('existing', EXISTING_POLICY);
    const before = await policyOf('existing');

    const report = await checkRecordsIndexing(loadConfig(settings('existing'), root));

    expect(report.container).toBe(`${database}/existing`);
    const lines = report.gaps.map(describeGap);
    // The system property and the invoice number are excluded; the age field is indexed through /*.
    expect(lines).toContain('includedPaths lacks /sys/tier/? (or an excluded path covers it)');
    expect(lines).toContain('includedPaths lacks /sys/pinned/? (or an excluded path covers it)');
    expect(lines).toContain('includedPaths lacks /invoiceNumber/? (or an excluded path covers it)');
    expect(lines.some((line) => line.includes('/issuedAt/?'))).toBe(false);
    // Its own composite serves list(); the scan's composite (tier first) is missing.
    expect(report.gaps).toContainEqual({
      kind: 'composite-index',
      paths: RECORDS_INDEXING_POLICY.compositeIndexes!.find((paths) => paths[0]!.path === '/sys/tier'),
    });
    expect(
      report.gaps.some((gap) => gap.kind === 'composite-index' && gap.paths[0]!.path === '/customerId'),
    ).toBe(false);
    expect(await policyOf('existing')).toEqual(before);
  });

  it("finds nothing missing in the engine's own policy", async () => {
    await createContainer('engine', RECORDS_INDEXING_POLICY);
    expect((await checkRecordsIndexing(loadConfig(settings('engine'), root))).gaps).toEqual([]);
  });

  it('counts a lazy policy, and a composite index in the reversed order serves as well', () => {
    const reversed = RECORDS_INDEXING_POLICY.compositeIndexes!.map((paths) =>
      paths.map(
        (path) => ({ ...path, order: path.order === 'descending' ? 'ascending' : 'descending' }) as const,
      ),
    );
    expect(indexingGaps({ ...RECORDS_INDEXING_POLICY, compositeIndexes: reversed })).toEqual([]);
    expect(indexingGaps({ ...RECORDS_INDEXING_POLICY, indexingMode: 'lazy' })).toEqual([
      { kind: 'indexing-mode', actual: 'lazy', needed: 'consistent' },
    ]);
  });

  it('`npm run archive -- check-indexing` prints the gaps and exits 2', async () => {
    const failure = await run(
      'node',
      ['--disable-warning=ExperimentalWarning', 'src/cli/archive.ts', 'check-indexing'],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', ...settings('existing') },
      },
    ).then(
      () => undefined,
      (error: unknown) => error as { code: number; stdout: string },
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stdout).toContain(`${database}/existing: the indexing policy lacks`);
    expect(failure?.stdout).toContain('/sys/tier/?');
  }, 60_000);
});
