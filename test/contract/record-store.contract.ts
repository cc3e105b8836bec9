// The behaviour every RecordStore adapter must share (etags, 412, 409, paging, stubs, size limit,
// upcasting). Each adapter's test file calls this with a factory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/domain/errors.ts';
import { fullDocument, type RecordDocument, summaryOf } from '../../src/domain/record-document.ts';
import type { ListRequest, RecordStore } from '../../src/ports/record-store.ts';
import { makeDocument, makeRecord, makeStub } from '../support/record-fixtures.ts';

export interface RecordStoreHarness {
  readonly store: RecordStore;
  /** Writes a raw persisted document as an older release would have, bypassing the adapter's mapping. */
  insertRaw(raw: Record<string, unknown>): Promise<void>;
  /** Stops whatever the harness started. */
  dispose(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => hasCode(error, code as never));
}

export function describeRecordStoreContract(name: string, start: () => Promise<RecordStoreHarness>): void {
  describe(`RecordStore contract: ${name}`, () => {
    let harness: RecordStoreHarness;
    let store: RecordStore;
    let customerSeq = 0;
    const newCustomer = (): string => `c-${name.replace(/[^A-Za-z0-9]/g, '')}-${Date.now()}-${++customerSeq}`;

    beforeAll(async () => {
      harness = await start();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.dispose();
    });

    it('creates and reads back the same document with an etag', async () => {
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      expect(created.etag).toEqual(expect.any(String));
      const read = await store.get(document);
      expect(read?.document).toEqual(document);
      expect(read?.etag).toBe(created.etag);
    });

    it('answers undefined for an absent record', async () => {
      expect(await store.get({ customerId: newCustomer(), id: 'absent' })).toBeUndefined();
    });

    it('refuses to create a record that exists (ALREADY_EXISTS) and keeps the first', async () => {
      const document = makeDocument({ customerId: newCustomer() });
      await store.create(document);
      const clash = fullDocument({ ...document.record, invoiceNumber: 'OTHER' });
      await expectCode(store.create(clash), 'ALREADY_EXISTS');
      expect((await store.get(document))?.document).toEqual(document);
    });

    it('creates a batch, counting and leaving alone the documents already there', async () => {
      const customerId = newCustomer();
      const existing = makeDocument({ customerId, id: 'inv-batch-1' });
      await store.create(existing);
      const batch = [1, 2, 3].map((n) =>
        makeDocument({ customerId, id: `inv-batch-${n}`, invoiceNumber: `INV-B${n}` }),
      );
      expect(await store.createMany(batch)).toEqual({ created: 2, existing: 1 });
      expect((await store.get(existing))?.document).toEqual(existing);
      for (const document of batch.slice(1)) expect((await store.get(document))?.document).toEqual(document);
      expect(await store.createMany([])).toEqual({ created: 0, existing: 0 });
    });

    it('replaces on a current etag, refuses a stale one (PRECONDITION_FAILED) and changes nothing', async () => {
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      const v2 = fullDocument({ ...document.record, version: 2, status: 'paid' });
      const replaced = await store.replace(v2, { ifMatch: created.etag });
      expect(replaced.etag).not.toBe(created.etag);
      const v3 = fullDocument({ ...document.record, version: 3, status: 'void' });
      await expectCode(store.replace(v3, { ifMatch: created.etag }), 'PRECONDITION_FAILED');
      const read = await store.get(document);
      expect(read?.document).toEqual(v2);
      expect(read?.etag).toBe(replaced.etag);
    });

    it('replaces unconditionally without an etag', async () => {
      const document = makeDocument({ customerId: newCustomer() });
      await store.create(document);
      const v2 = fullDocument({ ...document.record, version: 2 });
      await store.replace(v2, {});
      expect((await store.get(document))?.document).toEqual(v2);
    });

    it('answers NOT_FOUND when replacing or deleting an absent record', async () => {
      const document = makeDocument({ customerId: newCustomer() });
      await expectCode(store.replace(document, {}), 'NOT_FOUND');
      await expectCode(store.delete(document, {}), 'NOT_FOUND');
    });

    it('deletes on a current etag and refuses a stale one', async () => {
      const document = makeDocument({ customerId: newCustomer() });
      const created = await store.create(document);
      const replaced = await store.replace(fullDocument({ ...document.record, version: 2 }), {});
      await expectCode(store.delete(document, { ifMatch: created.etag }), 'PRECONDITION_FAILED');
      expect(await store.get(document)).toBeDefined();
      await store.delete(document, { ifMatch: replaced.etag });
      expect(await store.get(document)).toBeUndefined();
    });

    it('keeps a stub with its archive pointer and system fields, and swaps it back to full', async () => {
      const record = makeRecord({ customerId: newCustomer() });
      const created = await store.create(fullDocument(record, { pinned: false }));
      const stub = makeStub(record, {
        legalHold: { reason: 'audit 2024', setAt: '2024-10-01T00:00:00.000Z' },
      });
      const stubbed = await store.replace(stub, { ifMatch: created.etag });
      const read = await store.get(record);
      expect(read?.document).toEqual(stub);
      const back = fullDocument(record, { rehydratedAt: '2024-11-01T00:00:00.000Z' });
      await store.replace(back, { ifMatch: stubbed.etag });
      expect((await store.get(record))?.document).toEqual(back);
    });

    it('refuses a document over the 2 MB item limit (RECORD_TOO_LARGE) and stores nothing', async () => {
      const big = makeDocument({
        customerId: newCustomer(),
        metadata: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'x'.repeat(1024)])),
        lineItems: Array.from({ length: 2000 }, (_, i) => ({
          sku: `sku-${i}`,
          description: 'y'.repeat(1100),
          quantity: 1,
          unitPriceMinor: 1,
          amountMinor: 1,
        })),
        subtotalMinor: 2000,
        taxMinor: 0,
        totalMinor: 2000,
      });
      await expectCode(store.create(big), 'RECORD_TOO_LARGE');
      expect(await store.get(big)).toBeUndefined();
    });

    it('lists newest issuedAt first, pages by keyset without gaps or repeats, and filters', async () => {
      const customerId = newCustomer();
      const other = newCustomer();
      const documents: RecordDocument[] = [];
      for (let i = 0; i < 7; i++) {
        const month = String((i % 5) + 1).padStart(2, '0');
        documents.push(
          makeDocument({
            customerId,
            id: `r-${i}`,
            issuedAt: `2024-${month}-01T00:00:00.000Z`,
            status: i % 2 === 0 ? 'issued' : 'paid',
          }),
        );
      }
      for (const document of documents) await store.create(document);
      await store.create(makeDocument({ customerId: other, id: 'r-x' }));
      // One archived record lists like the others.
      const stubbed = documents[0]!;
      await store.replace(makeStub(stubbed.tier === 'hot' ? stubbed.record : makeRecord()), {});

      const seen: string[] = [];
      let after;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.list({ customerId, limit: 3, ...(after ? { after } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((d) => d.summary.id));
        after = page.next;
        if (after === undefined) break;
      }
      const expected = [...documents]
        .sort((a, b) => {
          const ia = a.tier === 'hot' ? a.record.issuedAt : '';
          const ib = b.tier === 'hot' ? b.record.issuedAt : '';
          return ia === ib ? (a.id < b.id ? 1 : -1) : ia < ib ? 1 : -1;
        })
        .map((d) => d.id);
      expect(seen).toEqual(expected);

      const paid = await store.list({ customerId, limit: 100, status: 'paid' });
      expect(paid.items.map((d) => d.summary.id).sort()).toEqual(['r-1', 'r-3', 'r-5']);
      expect(paid.next).toBeUndefined();

      const window = await store.list({
        customerId,
        limit: 100,
        issuedFrom: '2024-02-01T00:00:00.000Z',
        issuedTo: '2024-04-01T00:00:00.000Z',
      });
      expect(window.items.map((d) => d.summary.id).sort()).toEqual(['r-1', 'r-2', 'r-6']);
      const archived = (await store.list({ customerId, limit: 100 })).items.find(
        (d) => d.summary.id === 'r-0',
      );
      expect(archived?.tier).toBe('archived');
    });

    it('lists by exact invoice number from full documents and stubs alike, with the other filters and paging', async () => {
      const customerId = newCustomer();
      const other = newCustomer();
      // Spaces, a slash and non-ASCII: the lookup compares the string as stored, nothing else.
      const invoice = 'INV 2024/03 – Zürich';
      const matching = [
        makeRecord({ customerId, id: 'm-1', invoiceNumber: invoice, issuedAt: '2024-01-10T00:00:00.000Z' }),
        makeRecord({ customerId, id: 'm-2', invoiceNumber: invoice, issuedAt: '2024-03-10T00:00:00.000Z' }),
        // The same issuedAt as m-2: pages must break the tie by id.
        makeRecord({
          customerId,
          id: 'm-3',
          invoiceNumber: invoice,
          issuedAt: '2024-03-10T00:00:00.000Z',
          status: 'paid',
        }),
        makeRecord({
          customerId,
          id: 'm-4',
          invoiceNumber: invoice,
          issuedAt: '2024-05-10T00:00:00.000Z',
          status: 'paid',
        }),
      ];
      const near = [
        makeRecord({ customerId, id: 'n-prefix', invoiceNumber: 'INV 2024/03' }),
        makeRecord({ customerId, id: 'n-case', invoiceNumber: invoice.toLowerCase() }),
        makeRecord({ customerId, id: 'n-space', invoiceNumber: `${invoice} ` }),
      ];
      for (const record of [...matching, ...near]) await store.create(fullDocument(record));
      await store.create(makeDocument({ customerId: other, id: 'm-1', invoiceNumber: invoice }));
      // m-2 and m-4 archived: what lists see of them is their stubs.
      const stubs = [makeStub(matching[1]!), makeStub(matching[3]!)];
      for (const stub of stubs) await store.replace(stub, {});

      const pagesOf = async (request: Omit<ListRequest, 'customerId' | 'after'>): Promise<string[][]> => {
        const pages: string[][] = [];
        let after: ListRequest['after'];
        do {
          const page = await store.list({ customerId, ...request, ...(after ? { after } : {}) });
          pages.push(page.items.map((item) => item.summary.id));
          after = page.next;
        } while (after !== undefined && pages.length < 10);
        return pages;
      };

      const all = await store.list({ customerId, invoiceNumber: invoice, limit: 100 });
      expect(all.items.map((item) => item.summary.id)).toEqual(['m-4', 'm-3', 'm-2', 'm-1']);
      expect(all.next).toBeUndefined();
      expect(all.items.filter((item) => item.tier === 'archived')).toEqual(
        [...stubs].reverse().map((stub) => ({ summary: stub.summary, tier: 'archived' })),
      );
      expect(await pagesOf({ invoiceNumber: invoice, limit: 1 })).toEqual([
        ['m-4'],
        ['m-3'],
        ['m-2'],
        ['m-1'],
      ]);
      expect(await pagesOf({ invoiceNumber: invoice, limit: 3 })).toEqual([['m-4', 'm-3', 'm-2'], ['m-1']]);
      expect(await pagesOf({ invoiceNumber: invoice, status: 'paid', limit: 1 })).toEqual([['m-4'], ['m-3']]);
      expect(
        await pagesOf({
          invoiceNumber: invoice,
          issuedFrom: '2024-02-01T00:00:00.000Z',
          issuedTo: '2024-05-10T00:00:00.000Z',
          limit: 1,
        }),
      ).toEqual([['m-3'], ['m-2']]);
      expect(await pagesOf({ invoiceNumber: 'INV 2024/03', limit: 10 })).toEqual([['n-prefix']]);
      expect(await pagesOf({ invoiceNumber: 'INV-NONE', limit: 10 })).toEqual([[]]);
      const theirs = await store.list({ customerId: other, invoiceNumber: invoice, limit: 10 });
      expect(theirs.items.map(({ summary }) => `${summary.customerId}/${summary.id}`)).toEqual([
        `${other}/m-1`,
      ]);

      // A write that changes the invoice number moves the record from one answer to the other.
      const renamed = fullDocument({ ...matching[0]!, invoiceNumber: 'INV-RENAMED', version: 2 });
      await store.replace(renamed, {});
      expect(await pagesOf({ invoiceNumber: invoice, limit: 10 })).toEqual([['m-4', 'm-3', 'm-2']]);
      expect((await store.list({ customerId, invoiceNumber: 'INV-RENAMED', limit: 10 })).items).toEqual([
        { summary: summaryOf(renamed), tier: 'hot' },
      ]);
      // A stub swapped back to its full document is still found, now hot.
      const back = fullDocument(matching[1]!, { rehydratedAt: '2024-11-01T00:00:00.000Z' });
      await store.replace(back, {});
      const afterRehydration = await store.list({ customerId, invoiceNumber: invoice, limit: 10 });
      expect(afterRehydration.items.map((item) => [item.summary.id, item.tier])).toEqual([
        ['m-4', 'archived'],
        ['m-3', 'hot'],
        ['m-2', 'hot'],
      ]);
    });

    it('upcasts a document written by an older schema version on read', async () => {
      const customerId = newCustomer();
      await harness.insertRaw({
        id: 'old-1',
        customerId,
        schemaVersion: 1,
        invoiceNumber: 'INV-OLD',
        issuedAt: '2023-01-05T00:00:00.000Z',
        periodStart: '2022-12-01',
        periodEnd: '2022-12-31',
        currency: 'EUR',
        status: 'paid',
        lineItems: [{ sku: 'a', quantity: 3, unitPriceMinor: 100 }],
        subtotalMinor: 300,
        taxMinor: 0,
        totalMinor: 300,
        version: 4,
        createdAt: '2023-01-05T00:00:00.000Z',
        updatedAt: '2023-02-01T00:00:00.000Z',
        sys: { tier: 'hot' },
      });
      const read = await store.get({ customerId, id: 'old-1' });
      expect(read?.document.tier).toBe('hot');
      if (read?.document.tier !== 'hot') return;
      expect(read.document.record.billingPeriod).toEqual({ start: '2022-12-01', end: '2022-12-31' });
      expect(read.document.record.lineItems[0]?.amountMinor).toBe(300);
      expect(read.document.record).not.toHaveProperty('periodStart');
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
