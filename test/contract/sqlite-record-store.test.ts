import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { summaryOf, toPersisted } from '../../src/domain/record-document.ts';
import { makeDocument, makeRecord, makeStub } from '../support/record-fixtures.ts';
import { describeRecordStoreContract } from './record-store.contract.ts';

describeRecordStoreContract('sqlite (:memory:)', () => {
  const store = new SqliteRecordStore({ path: ':memory:' });
  return Promise.resolve({
    store,
    insertRaw: (raw) => Promise.resolve(store.insertRaw(raw as never)),
    dispose: () => store.close(),
  });
});

describeRecordStoreContract('sqlite (file)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sqlite-contract-'));
  const store = new SqliteRecordStore({ path: join(folder, 'hot.sqlite') });
  return Promise.resolve({
    store,
    insertRaw: (raw) => Promise.resolve(store.insertRaw(raw as never)),
    dispose: async () => {
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    },
  });
});

describe('SqliteRecordStore durability', () => {
  it('keeps records across a close and a reopen of the same file', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sqlite-reopen-'));
    const path = join(folder, 'nested', 'hot.sqlite');
    const document = makeDocument({ customerId: 'cust-reopen' });
    const first = new SqliteRecordStore({ path });
    const created = await first.create(document);
    await first.close();
    const second = new SqliteRecordStore({ path });
    const read = await second.get(document);
    expect(read?.document).toEqual(document);
    expect(read?.etag).toBe(created.etag);
    await second.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('answers UNAVAILABLE once closed', async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });
});

describe('SqliteRecordStore lookup by invoice number', () => {
  it('fills the invoice number of a file written before the filter existed, full documents and stubs', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'sqlite-migrate-'));
    const path = join(folder, 'hot.sqlite');
    const full = makeDocument({ customerId: 'cust-old', id: 'full', invoiceNumber: 'INV-OLD' });
    const stub = makeStub(
      makeRecord({
        customerId: 'cust-old',
        id: 'stub',
        invoiceNumber: 'INV-OLD',
        issuedAt: '2024-01-01T00:00:00.000Z',
      }),
    );
    // The table and index as the release before this filter created them.
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE records (
      customer_id TEXT NOT NULL, id TEXT NOT NULL, etag TEXT NOT NULL, issued_at TEXT NOT NULL,
      status TEXT NOT NULL, tier TEXT NOT NULL, modified_ms INTEGER NOT NULL, doc TEXT NOT NULL,
      PRIMARY KEY (customer_id, id));
      CREATE INDEX records_by_customer_issued ON records (customer_id, issued_at DESC, id DESC);`);
    const insert = old.prepare('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const [document, issuedAt, status] of [
      [full, full.record.issuedAt, full.record.status],
      [stub, stub.summary.issuedAt, stub.summary.status],
    ] as const) {
      const doc = JSON.stringify(toPersisted(document));
      insert.run(document.customerId, document.id, '"e1"', issuedAt, status, document.tier, 1, doc);
    }
    old.close();

    for (let open = 1; open <= 2; open++) {
      // The second open finds the column there and changes nothing.
      const store = new SqliteRecordStore({ path });
      const page = await store.list({ customerId: 'cust-old', invoiceNumber: 'INV-OLD', limit: 10 });
      expect(page.items, `open ${open}`).toEqual([
        { summary: summaryOf(full), tier: 'hot' },
        { summary: stub.summary, tier: 'archived' },
      ]);
      expect(store.explainList({ customerId: 'cust-old', invoiceNumber: 'INV-OLD', limit: 10 })).toEqual([
        expect.stringContaining(
          'USING INDEX records_by_customer_invoice (customer_id=? AND invoice_number=?)',
        ),
      ]);
      await store.close();
    }
    rmSync(folder, { recursive: true, force: true });
  });

  it.each([
    ['alone', {}, 'customer_id=? AND invoice_number=?'],
    [
      'in a date window',
      { issuedFrom: '2024-01-01T00:00:00.000Z', issuedTo: '2024-06-01T00:00:00.000Z' },
      'customer_id=? AND invoice_number=? AND issued_at>? AND issued_at<?',
    ],
    [
      'with a status, past a cursor',
      { status: 'paid', after: { issuedAt: '2024-03-01T00:00:00.000Z', id: 'x' } },
      'customer_id=? AND invoice_number=?',
    ],
  ] as const)(
    'serves the lookup %s from its index, in list order without a sort',
    async (_what, filters, search) => {
      const store = new SqliteRecordStore({ path: ':memory:' });
      const plan = store.explainList({ customerId: 'c', invoiceNumber: 'INV-1', limit: 25, ...filters });
      expect(plan).toEqual([`SEARCH records USING INDEX records_by_customer_invoice (${search})`]);
      await store.close();
    },
  );
});
