import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { serializeRecord } from '../../src/domain/billing-record.ts';
import {
  fullDocument,
  type StoredDocument,
  type StoredRecordJson,
  summaryOf,
  toPersisted,
} from '../../src/domain/record-document.ts';
import { makeDocument, makeRecord, makeStub } from '../support/record-fixtures.ts';
import { describeRecordStoreContract } from './record-store.contract.ts';

/**
 * A store on a file of its own and a raw handle on the same file (what another writer, or a release
 * before this one, does to it); both closed and the folder removed once `test` is over.
 */
async function withFileStore(
  test: (store: SqliteRecordStore, raw: DatabaseSync) => Promise<void>,
): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'sqlite-store-'));
  const path = join(folder, 'hot.sqlite');
  const store = new SqliteRecordStore({ path });
  const raw = new DatabaseSync(path);
  try {
    await test(store, raw);
  } finally {
    raw.close();
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

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
      // The API JSON's columns are added empty: the old full document is read by parsing it.
      expect(await store.getJson(full), `open ${open}`).toEqual(await store.get(full));
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

describe("SqliteRecordStore: a hot record's API JSON, answered without parsing", () => {
  const jsonOf = (read: unknown): string => {
    expect(read, 'answered as API JSON').toHaveProperty('json');
    return Buffer.from((read as StoredRecordJson).json).toString('utf8');
  };

  it('answers the bytes serializeRecord gives and the version, after a create and after a replace', async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    // Fields in an order of their own, map keys unsorted, and text of one to four UTF-8 bytes a character:
    // the answer is the canonical JSON all the same, and its end is counted in bytes.
    const { metadata: _m, ...record } = makeRecord({
      customerId: 'cust-json',
      metadata: { zone: 'ü €', alpha: '😀 "quoted" \\ \u2028' },
    });
    const reordered = { metadata: { zone: 'ü €', alpha: '😀 "quoted" \\ \u2028' }, ...record };
    const created = await store.create(fullDocument(reordered));
    const read = await store.getJson(reordered);
    expect(jsonOf(read)).toBe(serializeRecord(reordered));
    expect(read).toMatchObject({ version: 1, etag: created.etag });
    // Each read answers bytes of its own: the first answer's closing brace changed nothing stored.
    const twice = await store.getJson(reordered);
    expect(jsonOf(twice)).toBe(serializeRecord(reordered));
    expect((twice as StoredRecordJson).json.buffer).not.toBe((read as StoredRecordJson).json.buffer);

    const next = { ...reordered, version: 2, status: 'paid' as const, lineItems: [] };
    const replaced = await store.replace(fullDocument(next), { ifMatch: created.etag });
    const again = await store.getJson(next);
    expect(jsonOf(again)).toBe(serializeRecord(next));
    expect(again).toMatchObject({ version: 2, etag: replaced.etag });
    // The same document through get, whatever the text's layout.
    expect((await store.get(next))?.document).toEqual(fullDocument(next));
    await store.close();
  });

  it('answers the document where the text does not begin with the API JSON: a stub, a foreign field, another schema version', async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    const archived = makeRecord({ customerId: 'cust-json', id: 'stub' });
    await store.create(makeStub(archived));
    expect(await store.getJson(archived)).toMatchObject({ document: { tier: 'archived' } });

    // A field the schema lacks is kept (the canonical JSON would drop it), so this text is not the API's.
    const extra = {
      ...makeRecord({ customerId: 'cust-json', id: 'extra', metadata: { note: 'ü € 😀' } }),
      legacyCode: 'X1',
    };
    await store.create(fullDocument(extra));
    const read = await store.getJson(extra);
    expect(read).not.toHaveProperty('json');
    expect((read as StoredDocument).document).toEqual(fullDocument(extra));

    expect(await store.getJson({ customerId: 'cust-json', id: 'absent' })).toBeUndefined();
    await store.close();
  });

  it('answers the document for a text of another schema version (upcast when read), and for a file written before', () =>
    withFileStore(async (store, raw) => {
      const older = makeRecord({ customerId: 'cust-json', id: 'older' });
      await store.create(fullDocument(older));
      expect(await store.getJson(older)).toHaveProperty('json');
      // As a release with another schema version would have left it, the columns unchanged.
      raw
        .prepare(
          `UPDATE records SET doc = replace(doc, '"schemaVersion":2,', '"schemaVersion":1,') WHERE id = ?`,
        )
        .run(older.id);
      expect(await store.getJson(older)).toMatchObject({ document: { tier: 'hot', id: older.id } });
      // A row of a file from before the columns: read by parsing until it is written again.
      raw
        .prepare(
          'UPDATE records SET api_end = NULL, version = NULL, updated_at = NULL, sys = NULL, derived_etag = NULL WHERE id = ?',
        )
        .run(older.id);
      const read = await store.getJson(older);
      expect(read).not.toHaveProperty('json');
      await store.replace(fullDocument(older), { ifMatch: (read as StoredDocument).etag });
      expect(jsonOf(await store.getJson(older))).toBe(serializeRecord(older));
    }));
});

describe('SqliteRecordStore archival scans', () => {
  it('read version, updatedAt and the system property from columns, so a scan parses no document; a row without them (a file from before) is read from its document', () =>
    withFileStore(async (store, raw) => {
      const hot = makeRecord({
        customerId: 'cust-scan',
        id: 'hot',
        version: 3,
        updatedAt: '2024-05-02T00:00:00.000Z',
      });
      const archived = makeRecord({ customerId: 'cust-scan', id: 'stub', version: 2 });
      const documents = [
        fullDocument(hot, { pinned: true }),
        makeStub(archived, { legalHold: { reason: 'audit', setAt: '2024-06-01T00:00:00.000Z' } }),
      ];
      for (const document of documents) await store.create(document);
      const scanAll = async () => [
        ...(await store.scan({ tier: 'hot', limit: 10 })).items,
        ...(await store.scan({ tier: 'archived', limit: 10 })).items,
      ];
      const expected = await scanAll();
      expect(expected.map((item) => [item.id, item.version, item.updatedAt, item.sys.tier])).toEqual([
        ['hot', 3, '2024-05-02T00:00:00.000Z', 'hot'],
        ['stub', 2, archived.updatedAt, 'archived'],
      ]);
      expect(expected[0]?.sys.pinned).toBe(true);
      expect(expected[1]?.sys.legalHold?.reason).toBe('audit');

      // Documents SQLite could not parse: the scan answers the same, from the columns alone.
      raw.exec(`UPDATE records SET doc = 'not json'`);
      expect(await scanAll()).toEqual(expected);
      // A file from before the columns: the documents are read instead.
      const restore = raw.prepare('UPDATE records SET doc = ? WHERE id = ?');
      for (const document of documents) restore.run(JSON.stringify(toPersisted(document)), document.id);
      raw.exec('UPDATE records SET version = NULL, updated_at = NULL, sys = NULL, derived_etag = NULL');
      expect(await scanAll()).toEqual(expected);
    }));
});

describe('SqliteRecordStore after a writer that does not know the derived columns (a rollback to the release before)', () => {
  it('ignores them once that writer has changed the row: the document is read, for a GET and for a scan', () =>
    withFileStore(async (store, raw) => {
      const record = makeRecord({ customerId: 'cust-rollback', id: 'rolled', version: 1 });
      await store.create(fullDocument(record));
      expect(await store.getJson(record)).toHaveProperty('json');
      // The release before rewrites it as it did: a new etag and document, the columns it does not know
      // left as they were. The new text has the same length up to the schema tail, so the tail alone
      // would still match where api_end points.
      const changed = fullDocument({ ...record, version: 2 }, { pinned: true });
      raw
        .prepare('UPDATE records SET etag = ?, doc = ? WHERE id = ?')
        .run('"older-writer"', JSON.stringify(toPersisted(changed)), record.id);
      const read = await store.getJson(record);
      expect(read).not.toHaveProperty('json');
      expect(read).toEqual({ document: changed, etag: '"older-writer"' });
      const [scanned] = (await store.scan({ tier: 'hot', limit: 10 })).items;
      expect(scanned).toMatchObject({
        version: 2,
        etag: '"older-writer"',
        sys: { tier: 'hot', pinned: true },
      });
    }));
});
