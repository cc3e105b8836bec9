// Archival end to end on the embedded stores: `npm run demo` on SQLite with the file archive, the
// archive CLI beside it, a SIGKILL mid-run and a restart. The scenario is in archival-scenario.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { loadOrCreateDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../src/config/app-config.ts';
import { killStartedProcesses } from '../support/server-process.ts';
import { type ArchivalDeployment, describeArchivalScenario } from './archival-scenario.ts';

const dataDirs: string[] = [];

afterAll(async () => {
  await killStartedProcesses();
  for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
});

function newDeployment(name: string): Promise<ArchivalDeployment> {
  const dataDir = mkdtempSync(join(tmpdir(), `billing-e2e-archival-sqlite-${name}-`));
  dataDirs.push(dataDir);
  return Promise.resolve({
    env: { DATA_DIR: dataDir },
    // Signed with the dev key pair the server created in DATA_DIR, as `npm run token` signs (that command
    // has its own end-to-end test; a node start per token would only slow this file down).
    async token() {
      const keys = await loadOrCreateDevKeyPair(join(dataDir, 'dev-auth'));
      return keys.sign({
        subject: 'e2e-operator',
        roles: ['Billing.Read', 'Billing.Write', 'Billing.Admin'],
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        expiresInSeconds: 600,
      });
    },
  });
}

describeArchivalScenario({
  label: 'sqlite',
  records: { live: 300, killed: 300, afterRun: 100 },
  newDeployment,
  // SQLite reports no request charge, so an RU budget cannot slow it: one record at a time, small batches.
  slowRunSettings: { ARCHIVE_CONCURRENCY: '1', ARCHIVE_BATCH_SIZE: '5' },
  runTimeoutMs: 90_000,
});
