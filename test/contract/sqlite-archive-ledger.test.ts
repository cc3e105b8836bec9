// The SQLite ledger (the embedded default) against the shared contract, in memory and in a file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { describeArchiveLedgerContract } from './archive-ledger.contract.ts';

describeArchiveLedgerContract('sqlite (:memory:)', () => {
  const ledger = new SqliteArchiveLedger({ path: ':memory:' });
  return Promise.resolve({ ledger, dispose: () => ledger.close() });
});

describeArchiveLedgerContract('sqlite (file)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sqlite-ledger-contract-'));
  const ledger = new SqliteArchiveLedger({ path: join(folder, 'hot.sqlite') });
  return Promise.resolve({
    ledger,
    dispose: async () => {
      await ledger.close();
      rmSync(folder, { recursive: true, force: true });
    },
  });
});
