// The SQLite ledger (the embedded default) against the shared contract, in memory and in a file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ledgerPageQuery, SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { describe, expect, it } from 'vitest';
import { describeArchiveLedgerContract, makeLedgerEntry } from './archive-ledger.contract.ts';

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

describe('sqlite ledger: migration history expiry', () => {
  it('sweeps the entries past their expiresAt through its index, and no other', async () => {
    const ledger = new SqliteArchiveLedger({ path: ':memory:' });
    try {
      const soon = makeLedgerEntry(
        { customerId: 'c', id: 'soon' },
        { expiresAt: '2025-01-01T00:00:00.000Z' },
      );
      const later = makeLedgerEntry(
        { customerId: 'c', id: 'later' },
        { expiresAt: '2025-06-01T00:00:00.000Z' },
      );
      const never = makeLedgerEntry({ customerId: 'c', id: 'never' });
      for (const entry of [soon, later, never]) await ledger.put(entry, {});
      const charges: number[] = [];
      expect(
        await ledger.sweepExpired('2025-01-01T00:00:00.000Z', { onRequestCharge: (ru) => charges.push(ru) }),
      ).toBe(1);
      expect(charges).toEqual([4.95]);
      expect(await ledger.get(soon)).toBeUndefined();
      expect(await ledger.get(later)).toBeDefined();
      expect(await ledger.sweepExpired('2030-01-01T00:00:00.000Z')).toBe(1);
      expect(await ledger.get(never)).toBeDefined();
    } finally {
      await ledger.close();
    }
  });
});

describe('sqlite ledger: paging', () => {
  it("seeks the due index to a page's position, so the entries before it (history) are not read again", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sqlite-ledger-plan-'));
    const path = join(folder, 'hot.sqlite');
    const ledger = new SqliteArchiveLedger({ path });
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const { sql, params } = ledgerPageQuery({
        state: 'copied',
        parked: false,
        dueBy: '2025-01-01T00:00:00.000Z',
        limit: 100,
        after: { purgeAfter: '2024-06-01T00:00:00.000Z', customerId: 'c', id: 'r' },
      });
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>)
        .map((step) => step.detail)
        .join(' | ');
      // An OR of the keyset's terms would leave only `purge_after<?` as the range: a scan from the start.
      expect(plan).toContain(
        'USING INDEX archive_ledger_due (state=? AND parked=? AND (purge_after,customer_id,id)>(?,?,?) AND purge_after<?)',
      );
    } finally {
      db.close();
      await ledger.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
