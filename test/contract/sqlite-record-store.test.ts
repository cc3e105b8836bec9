import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { makeDocument } from '../support/record-fixtures.ts';
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
