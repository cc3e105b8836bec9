// The SQLite audit log (the embedded default) against the shared contract, in memory and in a file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteAuditLog } from '../../src/adapters/sqlite/sqlite-audit-log.ts';
import { describeAuditLogContract } from './audit-log.contract.ts';

describeAuditLogContract('sqlite (:memory:)', () => {
  const log = new SqliteAuditLog({ path: ':memory:' });
  return Promise.resolve({ log, dispose: () => log.close() });
});

describeAuditLogContract('sqlite (file)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sqlite-audit-contract-'));
  const path = join(folder, 'audit.sqlite');
  const log = new SqliteAuditLog({ path });
  return Promise.resolve({
    log,
    reopen: () => Promise.resolve(new SqliteAuditLog({ path })),
    dispose: async () => {
      await log.close();
      rmSync(folder, { recursive: true, force: true });
    },
  });
});
