// The behaviour every ArchiveLedger adapter must share: etags and conditional writes, keyset paging in
// (purgeAfter, customerId, id) order, filters, counts. Each adapter's test file calls this with a factory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchiveArtifact } from '../../src/domain/archive-artifact.ts';
import { type ErrorCode, hasCode } from '../../src/domain/errors.ts';
import { fullDocument, summaryOf } from '../../src/domain/record-document.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import {
  type ArchiveLedger,
  type DueRetriesQuery,
  type LedgerCounts,
  type LedgerEntry,
  isMigrationHistory,
  ledgerKeyOf,
  type LedgerPosition,
  type LedgerQuery,
  type RetryPosition,
  type StoredLedgerEntry,
} from '../../src/ports/archive-ledger.ts';
import { makeRecord } from '../support/record-fixtures.ts';

export interface ArchiveLedgerHarness {
  /** An empty ledger. */
  readonly ledger: ArchiveLedger;
  /** Stops whatever the harness started. */
  dispose(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => hasCode(error, code));
}

/** A ledger entry as the copy step writes it: from a real record, its archive artifact and summary. */
export function makeLedgerEntry(key: RecordKey, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  const record = makeRecord({ ...key, version: 3, issuedAt: '2024-05-01T10:00:00.000Z' });
  const artifact = buildArchiveArtifact(record);
  return {
    customerId: key.customerId,
    id: key.id,
    state: 'copied',
    version: record.version,
    blobPath: artifact.path,
    sha256: artifact.sha256,
    size: artifact.size,
    storedBytes: artifact.body.byteLength,
    sourceEtag: '"00000a1b-0000-0d00-0000-66f1c2d30000"',
    summary: summaryOf(fullDocument(record)),
    sys: {},
    copiedAt: '2024-09-01T02:00:00.000Z',
    purgeAfter: '2024-09-08T02:00:00.000Z',
    attempts: 0,
    ...overrides,
  };
}

const positionOf = (entry: LedgerEntry): LedgerPosition => ({
  purgeAfter: entry.purgeAfter,
  customerId: entry.customerId,
  id: entry.id,
});

/** The port's order, by code unit as both SQLite (BINARY) and Cosmos DB compare ASCII strings. */
function compareEntries(a: LedgerPosition, b: LedgerPosition): number {
  for (const field of ['purgeAfter', 'customerId', 'id'] as const) {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1;
  }
  return 0;
}

/** What query() must answer, paged or not: the reference every adapter is held to. */
function expectedKeys(entries: readonly LedgerEntry[], query: Omit<LedgerQuery, 'limit'>): string[] {
  return entries
    .filter(
      (entry) =>
        (query.state === undefined || entry.state === query.state) &&
        (query.parked === undefined || (entry.parked === true) === query.parked) &&
        (query.dueBy === undefined || entry.purgeAfter <= query.dueBy) &&
        (query.customerId === undefined || entry.customerId === query.customerId) &&
        (query.after === undefined || compareEntries(entry, query.after) > 0),
    )
    .sort(compareEntries)
    .map((entry) => `${entry.customerId}/${entry.id}`);
}

const retryPositionOf = (entry: LedgerEntry): RetryPosition => ({
  nextAttemptAt: entry.nextAttemptAt ?? '',
  customerId: entry.customerId,
  id: entry.id,
});

function compareRetries(a: RetryPosition, b: RetryPosition): number {
  for (const field of ['nextAttemptAt', 'customerId', 'id'] as const) {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1;
  }
  return 0;
}

/** What queryDueRetries() must answer: unparked failed entries due by `dueBy`, in retry order. */
function expectedRetryKeys(entries: readonly LedgerEntry[], query: Omit<DueRetriesQuery, 'limit'>): string[] {
  return entries
    .filter(
      (entry) =>
        entry.state === 'failed' &&
        entry.parked !== true &&
        entry.nextAttemptAt !== undefined &&
        entry.nextAttemptAt <= query.dueBy &&
        (query.customerId === undefined || entry.customerId === query.customerId) &&
        (query.after === undefined || compareRetries(retryPositionOf(entry), query.after) > 0),
    )
    .sort((a, b) => compareRetries(retryPositionOf(a), retryPositionOf(b)))
    .map((entry) => `${entry.customerId}/${entry.id}`);
}

export function describeArchiveLedgerContract(
  name: string,
  start: () => Promise<ArchiveLedgerHarness>,
): void {
  describe(`ArchiveLedger contract: ${name}`, () => {
    describe('entries and conditional writes', () => {
      let harness: ArchiveLedgerHarness;
      let ledger: ArchiveLedger;
      let customerSeq = 0;
      const newKey = (): RecordKey => ({ customerId: `cust-${++customerSeq}`, id: 'inv-2024-05-0001' });

      beforeAll(async () => {
        harness = await start();
        ledger = harness.ledger;
      });
      afterAll(async () => {
        await harness?.dispose();
      });

      it('answers undefined for an absent entry', async () => {
        expect(await ledger.get(newKey())).toBeUndefined();
      });

      it('upserts and reads back the same entry with its etag', async () => {
        const key = newKey();
        const entry = makeLedgerEntry(key);
        const put = await ledger.put(entry, {});
        expect(put.entry).toEqual(entry);
        expect(put.etag).toEqual(expect.any(String));
        expect(put.etag).not.toBe('');
        const read = await ledger.get(key);
        // Strict: no property added (a defaulted `parked: false`) and none lost.
        expect(read).toStrictEqual({ entry, etag: put.etag });
      });

      it('keeps every optional field, a legal hold and a failure across a round trip', async () => {
        const key = newKey();
        const entry = makeLedgerEntry(key, {
          state: 'failed',
          sha256: '',
          attempts: 5,
          nextAttemptAt: '2024-09-01T03:00:00.000Z',
          lastError: 'UNAVAILABLE: upload of 2024/05/… failed: Azurite answered 503',
          parked: true,
          sys: { legalHold: { reason: 'audit 2024', setAt: '2024-08-01T00:00:00.000Z' }, pinned: false },
        });
        const put = await ledger.put(entry, { ifNoneMatch: '*' });
        expect(await ledger.get(key)).toStrictEqual({ entry, etag: put.etag });
      });

      it('upserts over an existing entry without a condition, with a new etag', async () => {
        const key = newKey();
        const first = await ledger.put(makeLedgerEntry(key), {});
        const second = makeLedgerEntry(key, { attempts: 1, lastError: 'THROTTLED' });
        const put = await ledger.put(second, {});
        expect(put.etag).not.toBe(first.etag);
        expect(await ledger.get(key)).toEqual({ entry: second, etag: put.etag });
      });

      it('creates with ifNoneMatch * only when absent (ALREADY_EXISTS otherwise) and keeps the first', async () => {
        const key = newKey();
        const first = await ledger.put(makeLedgerEntry(key), { ifNoneMatch: '*' });
        expect(await ledger.get(key)).toEqual(first);
        const clash = makeLedgerEntry(key, { sourceEtag: '"someone-else"', attempts: 9 });
        await expectCode(ledger.put(clash, { ifNoneMatch: '*' }), 'ALREADY_EXISTS');
        expect(await ledger.get(key)).toEqual(first);
      });

      it('refuses a stale ifMatch (PRECONDITION_FAILED) and changes nothing', async () => {
        const key = newKey();
        const first = await ledger.put(makeLedgerEntry(key), {});
        const current = await ledger.put(makeLedgerEntry(key, { attempts: 1 }), { ifMatch: first.etag });
        await expectCode(
          ledger.put(makeLedgerEntry(key, { attempts: 7 }), { ifMatch: first.etag }),
          'PRECONDITION_FAILED',
        );
        expect(await ledger.get(key)).toEqual(current);
      });

      it('writes over the current ifMatch with a new etag', async () => {
        const key = newKey();
        const first = await ledger.put(makeLedgerEntry(key), {});
        const next = makeLedgerEntry(key, { attempts: 1, nextAttemptAt: '2024-09-08T03:00:00.000Z' });
        const put = await ledger.put(next, { ifMatch: first.etag });
        expect(put.etag).not.toBe(first.etag);
        expect(put.entry).toEqual(next);
        expect(await ledger.get(key)).toEqual({ entry: next, etag: put.etag });
      });

      it('refuses an ifMatch on an absent entry (PRECONDITION_FAILED) and creates nothing', async () => {
        const key = newKey();
        const gone = await ledger.put(makeLedgerEntry(key), {});
        await ledger.delete(key, {});
        await expectCode(ledger.put(makeLedgerEntry(key), { ifMatch: gone.etag }), 'PRECONDITION_FAILED');
        expect(await ledger.get(key)).toBeUndefined();
      });

      it('answers false when deleting an absent entry, with or without an etag', async () => {
        const key = newKey();
        expect(await ledger.delete(key, {})).toBe(false);
        const gone = await ledger.put(makeLedgerEntry(key), {});
        expect(await ledger.delete(key, {})).toBe(true);
        expect(await ledger.delete(key, { ifMatch: gone.etag })).toBe(false);
      });

      it('refuses a delete on a stale etag (PRECONDITION_FAILED) and keeps the entry', async () => {
        const key = newKey();
        const first = await ledger.put(makeLedgerEntry(key), {});
        const current = await ledger.put(makeLedgerEntry(key, { attempts: 1 }), {});
        await expectCode(ledger.delete(key, { ifMatch: first.etag }), 'PRECONDITION_FAILED');
        expect(await ledger.get(key)).toEqual(current);
      });

      it('deletes on the current etag, and unconditionally', async () => {
        const key = newKey();
        const put = await ledger.put(makeLedgerEntry(key), {});
        expect(await ledger.delete(key, { ifMatch: put.etag })).toBe(true);
        expect(await ledger.get(key)).toBeUndefined();
        const other = newKey();
        await ledger.put(makeLedgerEntry(other), {});
        expect(await ledger.delete(other, {})).toBe(true);
        expect(await ledger.get(other)).toBeUndefined();
      });

      it('keeps entries of different customers with the same id apart', async () => {
        const a = newKey();
        const b = { ...newKey(), id: a.id };
        const putA = await ledger.put(makeLedgerEntry(a), {});
        await ledger.put(makeLedgerEntry(b), {});
        expect(await ledger.delete(b, {})).toBe(true);
        expect(await ledger.get(a)).toEqual(putA);
      });

      it('getMany answers the present entries by customerId/id, each as get() does, and leaves absent ones out', async () => {
        const [a, b, absent] = [newKey(), newKey(), newKey()];
        const putA = await ledger.put(makeLedgerEntry(a), {});
        const putB = await ledger.put(makeLedgerEntry(b, { state: 'failed', sha256: '', attempts: 2 }), {});
        // Repeated keys are answered once.
        const found = await ledger.getMany([a, absent, b, a]);
        expect([...found.keys()].sort()).toEqual([ledgerKeyOf(a), ledgerKeyOf(b)].sort());
        expect(found.get(ledgerKeyOf(a))).toStrictEqual(putA);
        expect(found.get(ledgerKeyOf(b))).toStrictEqual(putB);
        expect(found.get(ledgerKeyOf(a))).toStrictEqual(await ledger.get(a));
      });

      it('getMany answers an empty map for no keys, and for keys without entries', async () => {
        expect((await ledger.getMany([])).size).toBe(0);
        expect((await ledger.getMany([newKey(), newKey()])).size).toBe(0);
      });

      it('getMany matches customerId and id together, never one of them alone', async () => {
        // a and b share an id, c shares a's customer: a lookup that matched customers and ids apart
        // (their cross product) would find a for [b, a's customer with another id], and b's customer with c's id.
        const a = newKey();
        const b = { ...newKey(), id: a.id };
        const c = { customerId: a.customerId, id: 'inv-2024-06-0002' };
        await ledger.put(makeLedgerEntry(a), {});
        const putB = await ledger.put(makeLedgerEntry(b), {});
        await ledger.put(makeLedgerEntry(c), {});
        const found = await ledger.getMany([b, { customerId: a.customerId, id: 'inv-2024-06-0003' }]);
        expect([...found.keys()]).toEqual([ledgerKeyOf(b)]);
        expect(found.get(ledgerKeyOf(b))).toStrictEqual(putB);
        expect((await ledger.getMany([{ customerId: b.customerId, id: c.id }])).size).toBe(0);
      });

      it('getMany answers the current etag after a rewrite, and nothing after a delete', async () => {
        const [kept, gone] = [newKey(), newKey()];
        const first = await ledger.put(makeLedgerEntry(kept), {});
        const current = await ledger.put(makeLedgerEntry(kept, { attempts: 1 }), { ifMatch: first.etag });
        await ledger.put(makeLedgerEntry(gone), {});
        await ledger.delete(gone, {});
        const found = await ledger.getMany([kept, gone]);
        expect(found.get(ledgerKeyOf(kept))).toStrictEqual(current);
        expect(found.has(ledgerKeyOf(gone))).toBe(false);
      });

      it('getMany answers every entry of a list longer than one query takes (230 keys)', async () => {
        const keys = Array.from({ length: 230 }, () => newKey());
        const present = keys.filter((_, index) => index % 10 === 3);
        const puts = new Map<string, StoredLedgerEntry>();
        for (const key of present) puts.set(ledgerKeyOf(key), await ledger.put(makeLedgerEntry(key), {}));
        const found = await ledger.getMany(keys);
        expect(found.size).toBe(present.length);
        for (const [key, stored] of puts) expect(found.get(key)).toStrictEqual(stored);
      });

      it('moves a rewritten entry between filters and counts (state and parked follow the entry)', async () => {
        const key = newKey();
        const before = await ledger.counts();
        const copied = await ledger.put(makeLedgerEntry(key), {});
        expect(await ledger.counts()).toEqual({ ...before, copied: before.copied + 1 });
        const failed = await ledger.put(makeLedgerEntry(key, { state: 'failed', attempts: 3 }), {
          ifMatch: copied.etag,
        });
        expect(await ledger.counts()).toEqual({ ...before, failed: before.failed + 1 });
        await ledger.put(makeLedgerEntry(key, { state: 'failed', attempts: 6, parked: true }), {
          ifMatch: failed.etag,
        });
        expect(await ledger.counts()).toEqual({ ...before, parked: before.parked + 1 });
        const keys = async (query: LedgerQuery): Promise<string[]> =>
          (await ledger.query(query)).items.map((item) => item.entry.id);
        const mine = { customerId: key.customerId, limit: 10 };
        expect(await keys({ ...mine, parked: true })).toEqual([key.id]);
        expect(await keys({ ...mine, parked: false })).toEqual([]);
        expect(await keys({ ...mine, state: 'copied' })).toEqual([]);
        await ledger.delete(key, {});
        expect(await ledger.counts()).toEqual(before);
      });
      it('moves a conditional rewrite that brings an entry due earlier: order, dueBy and history follow it', async () => {
        // What the purge writes for a copy a run as of a later instant made: due earlier, a new expiry.
        const key = newKey();
        const day = 24 * 3600_000;
        const later = makeLedgerEntry(key, {
          purgeAfter: '2031-02-01T00:00:00.000Z',
          expiresAt: new Date(Date.now() + 60 * day).toISOString(),
        });
        const moved: LedgerEntry = {
          ...later,
          purgeAfter: '2030-12-31T23:59:59.999Z',
          expiresAt: new Date(Date.now() + 30 * day).toISOString(),
        };
        const through: LedgerPosition = { purgeAfter: '2031-01-01T00:00:00.000Z', customerId: '', id: '' };
        const before = await ledger.counts({ purgedThrough: through });
        const written = await ledger.put(later, { ifNoneMatch: '*' });
        expect(await ledger.counts({ purgedThrough: through })).toEqual({
          ...before,
          copied: before.copied + 1,
        });
        const mine = { customerId: key.customerId, state: 'copied', parked: false, limit: 10 } as const;
        expect((await ledger.query({ ...mine, dueBy: moved.purgeAfter })).items).toEqual([]);
        const rewritten = await ledger.put(moved, { ifMatch: written.etag });
        expect(await ledger.get(key)).toEqual(rewritten);
        expect(rewritten.entry).toEqual(moved);
        expect((await ledger.query({ ...mine, dueBy: moved.purgeAfter })).items).toEqual([rewritten]);
        expect((await ledger.query({ ...mine, after: positionOf(moved) })).items).toEqual([]);
        expect(await ledger.counts({ purgedThrough: through })).toEqual({
          ...before,
          archived: before.archived + 1,
        });
        // A worker that read the entry before the move cannot write over it.
        await expectCode(ledger.put(later, { ifMatch: written.etag }), 'PRECONDITION_FAILED');
        await ledger.delete(key, {});
        expect(await ledger.counts({ purgedThrough: through })).toEqual(before);
      });
    });

    describe('query and counts', () => {
      let harness: ArchiveLedgerHarness;
      let ledger: ArchiveLedger;
      const entries: LedgerEntry[] = [];
      const stored = new Map<string, StoredLedgerEntry>();
      // Three customers, purge times that tie (across customers and within one), every state and parking.
      const purgeTimes = [
        '2024-09-08T02:00:00.000Z',
        '2024-09-08T02:00:00.000Z',
        '2024-09-09T00:00:00.000Z',
        '2024-09-15T12:30:00.000Z',
      ];
      for (let i = 0; i < 14; i++) {
        const customerId = ['cust-a', 'cust-b', 'cust-c'][i % 3] ?? 'cust-a';
        const failed = i % 4 === 3;
        entries.push(
          makeLedgerEntry(
            { customerId, id: `inv-${String(13 - i).padStart(2, '0')}` },
            {
              purgeAfter: purgeTimes[i % purgeTimes.length] ?? '2024-09-08T02:00:00.000Z',
              ...(failed ? { state: 'failed', sha256: '', attempts: 2 } : {}),
              ...(i % 5 === 2 ? { parked: true, attempts: 6 } : {}),
              ...(i === 4 ? { parked: false } : {}),
            },
          ),
        );
      }
      const pageKeys = (items: readonly StoredLedgerEntry[]): string[] =>
        items.map((item) => `${item.entry.customerId}/${item.entry.id}`);

      beforeAll(async () => {
        harness = await start();
        ledger = harness.ledger;
        for (const entry of entries) {
          stored.set(`${entry.customerId}/${entry.id}`, await ledger.put(entry, { ifNoneMatch: '*' }));
        }
      });
      afterAll(async () => {
        await harness?.dispose();
      });

      /** Pages through the whole result from `query.after`, checking each page's size and its `next`. */
      async function queryAll(query: LedgerQuery): Promise<string[]> {
        const seen: StoredLedgerEntry[] = [];
        let after: LedgerPosition | undefined = query.after;
        for (let pages = 0; pages < 50; pages++) {
          const page = await ledger.query({ ...query, ...(after !== undefined ? { after } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(query.limit);
          seen.push(...page.items);
          after = page.next;
          if (after === undefined) break;
          // A next page is announced only after a full one, from its last entry.
          expect(page.items.length).toBe(query.limit);
          const last = page.items.at(-1);
          expect(last && positionOf(last.entry)).toEqual(after);
        }
        expect(after).toBeUndefined();
        return pageKeys(seen);
      }

      it('orders by (purgeAfter, customerId, id) and pages without gaps or repeats', async () => {
        const all = expectedKeys(entries, {});
        expect(all).toHaveLength(entries.length);
        for (const limit of [1, 2, 3, 5, entries.length - 1, entries.length, 100]) {
          expect(await queryAll({ limit })).toEqual(all);
        }
      });

      it('answers each entry with its current etag', async () => {
        const page = await ledger.query({ limit: 100 });
        expect(page.items).toHaveLength(entries.length);
        for (const item of page.items) {
          expect(item).toEqual(stored.get(`${item.entry.customerId}/${item.entry.id}`));
        }
      });

      it('announces no next page when the last page is exactly full', async () => {
        const page = await ledger.query({ limit: entries.length });
        expect(page.items).toHaveLength(entries.length);
        expect(page.next).toBeUndefined();
      });

      const first = entries[0]!;
      const filters: Array<[string, Omit<LedgerQuery, 'limit' | 'after'>]> = [
        ['state copied', { state: 'copied' }],
        ['state failed', { state: 'failed' }],
        ['parked', { parked: true }],
        ['not parked (absent or false)', { parked: false }],
        ['due by an exact purge time (inclusive)', { dueBy: '2024-09-09T00:00:00.000Z' }],
        ['due by just before it', { dueBy: '2024-09-08T23:59:59.999Z' }],
        ['one customer', { customerId: 'cust-b' }],
        ['what the purge asks', { state: 'copied', parked: false, dueBy: '2024-09-09T00:00:00.000Z' }],
        ['failed and parked', { state: 'failed', parked: true }],
        ['one customer, due', { customerId: 'cust-a', dueBy: '2024-09-09T00:00:00.000Z', state: 'copied' }],
      ];

      it.each(filters)('filters: %s', async (_name, filter) => {
        const expected = expectedKeys(entries, filter);
        // Each filter keeps some entries and drops others, or it would pass while ignored.
        expect(expected.length).toBeGreaterThan(0);
        expect(expected.length).toBeLessThan(entries.length);
        expect(await queryAll({ ...filter, limit: 2 })).toEqual(expected);
        expect(pageKeys((await ledger.query({ ...filter, limit: 100 })).items)).toEqual(expected);
      });

      it('answers an empty page when nothing is due yet', async () => {
        expect(await ledger.query({ dueBy: '2024-09-08T01:59:59.999Z', limit: 5 })).toEqual({
          items: [],
          next: undefined,
        });
      });

      it('continues strictly after any position, even one between entries', async () => {
        const positions: LedgerPosition[] = [
          positionOf(first),
          { purgeAfter: '2024-09-08T02:00:00.000Z', customerId: 'cust-b', id: '' },
          { purgeAfter: '2024-09-10T00:00:00.000Z', customerId: '', id: '' },
          { purgeAfter: '2099-01-01T00:00:00.000Z', customerId: '', id: '' },
        ];
        for (const after of positions) {
          const expected = expectedKeys(entries, { after });
          const page = await ledger.query({ limit: 100, after });
          expect(pageKeys(page.items)).toEqual(expected);
          expect(await queryAll({ limit: 3, after })).toEqual(expected);
        }
      });

      it('counts copied and failed entries that are not parked, and parked ones apart', async () => {
        const expected: LedgerCounts = {
          copied: entries.filter((entry) => entry.state === 'copied' && entry.parked !== true).length,
          failed: entries.filter((entry) => entry.state === 'failed' && entry.parked !== true).length,
          parked: entries.filter((entry) => entry.parked === true).length,
          archived: 0,
        };
        // The fixture has some of each, and parked entries of both states.
        expect(Math.min(expected.copied, expected.failed, expected.parked)).toBeGreaterThan(0);
        expect(entries.some((entry) => entry.parked === true && entry.state === 'failed')).toBe(true);
        expect(entries.some((entry) => entry.parked === true && entry.state === 'copied')).toBe(true);
        expect(await ledger.counts()).toEqual(expected);
      });

      it('counts the unparked copies at or before a purge position as history, the rest as copied', async () => {
        const positions: LedgerPosition[] = [
          ...entries.map(positionOf),
          { purgeAfter: '2024-09-09T00:00:00.000Z', customerId: 'cust-b', id: '' },
          { purgeAfter: '2000-01-01T00:00:00.000Z', customerId: '', id: '' },
          { purgeAfter: '2099-01-01T00:00:00.000Z', customerId: '', id: '' },
        ];
        for (const purgedThrough of positions) {
          const history = entries.filter((entry) => isMigrationHistory(entry, purgedThrough)).length;
          const copied = entries.filter((entry) => entry.state === 'copied' && entry.parked !== true).length;
          expect(await ledger.counts({ purgedThrough })).toEqual({
            copied: copied - history,
            failed: entries.filter((entry) => entry.state === 'failed' && entry.parked !== true).length,
            parked: entries.filter((entry) => entry.parked === true).length,
            archived: history,
          });
        }
      });
    });

    describe('migration history and expiry', () => {
      let harness: ArchiveLedgerHarness;
      let ledger: ArchiveLedger;

      beforeAll(async () => {
        harness = await start();
        ledger = harness.ledger;
      });
      afterAll(async () => {
        await harness?.dispose();
      });

      it('reads expiresAt back as written, and a sweep never removes an entry still needed', async () => {
        const far = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
        const expiring = makeLedgerEntry({ customerId: 'cust-h', id: 'inv-exp' }, { expiresAt: far });
        const kept = makeLedgerEntry({ customerId: 'cust-h', id: 'inv-kept' });
        const parked = makeLedgerEntry(
          { customerId: 'cust-h', id: 'inv-parked' },
          { parked: true, attempts: 5, nextAttemptAt: '2024-09-09T00:00:00.000Z' },
        );
        for (const entry of [expiring, kept, parked]) await ledger.put(entry, { ifNoneMatch: '*' });
        expect((await ledger.get(expiring))?.entry).toEqual(expiring);
        // Now is before the expiry: nothing goes, whatever the store's own expiry.
        expect(await ledger.sweepExpired(new Date().toISOString())).toBe(0);
        for (const entry of [expiring, kept, parked]) expect(await ledger.get(entry)).toBeDefined();
        // Past it: only the entry that carries an expiry may go; the others never do.
        const removed = await ledger.sweepExpired('2099-01-01T00:00:00.000Z');
        expect(removed).toBeLessThanOrEqual(1);
        expect(await ledger.get(kept)).toBeDefined();
        expect(await ledger.get(parked)).toBeDefined();
        expect((await ledger.get(expiring)) === undefined).toBe(removed === 1);
      });
    });

    describe('due retries', () => {
      let harness: ArchiveLedgerHarness;
      let ledger: ArchiveLedger;
      const entries: LedgerEntry[] = [];
      const stored = new Map<string, StoredLedgerEntry>();
      // Failed copies whose backoff ends at times that tie (across customers and within one), beside
      // what must never be answered: purges backing off (copied), parked failures, a failure without a time.
      const retryTimes = [
        '2024-09-01T03:01:00.000Z',
        '2024-09-01T03:01:00.000Z',
        '2024-09-01T03:05:00.000Z',
        '2024-09-01T03:21:00.000Z',
        '2024-09-02T03:00:00.000Z',
      ];
      for (let i = 0; i < 18; i++) {
        const customerId = ['cust-a', 'cust-b', 'cust-c'][i % 3] ?? 'cust-a';
        const kind = i % 6 === 5 ? 'purge-backoff' : i % 7 === 4 ? 'parked' : i === 9 ? 'no-time' : 'failed';
        entries.push(
          makeLedgerEntry(
            { customerId, id: `inv-${String(17 - i).padStart(2, '0')}` },
            {
              // purgeAfter runs against the retry order, so an adapter that sorted by it would fail.
              purgeAfter: `2024-09-${String(20 - (i % 9)).padStart(2, '0')}T00:00:00.000Z`,
              attempts: kind === 'parked' ? 5 : 1 + (i % 4),
              ...(kind === 'purge-backoff' ? {} : { state: 'failed', sha256: '', storedBytes: 0 }),
              ...(kind === 'no-time' ? {} : { nextAttemptAt: retryTimes[i % retryTimes.length] }),
              ...(kind === 'parked' ? { parked: true } : {}),
            },
          ),
        );
      }
      const pageKeys = (items: readonly StoredLedgerEntry[]): string[] =>
        items.map((item) => `${item.entry.customerId}/${item.entry.id}`);

      beforeAll(async () => {
        harness = await start();
        ledger = harness.ledger;
        for (const entry of entries) {
          stored.set(`${entry.customerId}/${entry.id}`, await ledger.put(entry, { ifNoneMatch: '*' }));
        }
      });
      afterAll(async () => {
        await harness?.dispose();
      });

      /** Pages through the whole answer, checking each page's size and its `next`. */
      async function retriesAll(query: DueRetriesQuery): Promise<string[]> {
        const seen: StoredLedgerEntry[] = [];
        let after: RetryPosition | undefined = query.after;
        for (let pages = 0; pages < 50; pages++) {
          const page = await ledger.queryDueRetries({ ...query, ...(after !== undefined ? { after } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(query.limit);
          seen.push(...page.items);
          after = page.next;
          if (after === undefined) break;
          expect(page.items.length).toBe(query.limit);
          const last = page.items.at(-1);
          expect(last && retryPositionOf(last.entry)).toEqual(after);
        }
        expect(after).toBeUndefined();
        return pageKeys(seen);
      }

      const late = '2099-01-01T00:00:00.000Z';

      it('answers only unparked failed entries with a next attempt, in (nextAttemptAt, customerId, id) order, paged', async () => {
        const expected = expectedRetryKeys(entries, { dueBy: late });
        // The fixture holds entries of every kind the query must leave out.
        const answered = new Set(expected);
        const left = entries.filter((entry) => !answered.has(`${entry.customerId}/${entry.id}`));
        expect(left.some((entry) => entry.state === 'copied' && entry.nextAttemptAt !== undefined)).toBe(
          true,
        );
        expect(left.some((entry) => entry.state === 'failed' && entry.parked === true)).toBe(true);
        expect(left.some((entry) => entry.state === 'failed' && entry.nextAttemptAt === undefined)).toBe(
          true,
        );
        expect(expected.length).toBeGreaterThan(8);
        for (const limit of [1, 2, 3, 5, expected.length, 100]) {
          expect(await retriesAll({ dueBy: late, limit })).toEqual(expected);
        }
      });

      it('answers each entry with its current etag', async () => {
        const page = await ledger.queryDueRetries({ dueBy: late, limit: 100 });
        for (const item of page.items) {
          expect(item).toStrictEqual(stored.get(`${item.entry.customerId}/${item.entry.id}`));
        }
      });

      it.each([
        ['at an exact next attempt (inclusive)', { dueBy: '2024-09-01T03:05:00.000Z' }],
        ['just before it', { dueBy: '2024-09-01T03:04:59.999Z' }],
        ['one customer', { dueBy: late, customerId: 'cust-b' }],
        ['one customer, due', { dueBy: '2024-09-01T03:21:00.000Z', customerId: 'cust-a' }],
      ] satisfies Array<[string, Omit<DueRetriesQuery, 'limit'>]>)(
        'filters: due %s',
        async (_name, filter) => {
          const expected = expectedRetryKeys(entries, filter);
          expect(expected.length).toBeGreaterThan(0);
          expect(expected.length).toBeLessThan(expectedRetryKeys(entries, { dueBy: late }).length);
          expect(await retriesAll({ ...filter, limit: 2 })).toEqual(expected);
          expect(pageKeys((await ledger.queryDueRetries({ ...filter, limit: 100 })).items)).toEqual(expected);
        },
      );

      it('answers an empty page when no backoff has ended yet', async () => {
        expect(await ledger.queryDueRetries({ dueBy: '2024-09-01T03:00:59.999Z', limit: 5 })).toEqual({
          items: [],
          next: undefined,
        });
      });

      it('continues strictly after any position, even one between entries', async () => {
        const firstDue = entries.find((entry) => expectedRetryKeys([entry], { dueBy: late }).length > 0)!;
        const positions: RetryPosition[] = [
          retryPositionOf(firstDue),
          { nextAttemptAt: '2024-09-01T03:01:00.000Z', customerId: 'cust-b', id: '' },
          { nextAttemptAt: '2024-09-01T03:10:00.000Z', customerId: '', id: '' },
          { nextAttemptAt: late, customerId: '', id: '' },
        ];
        for (const after of positions) {
          const expected = expectedRetryKeys(entries, { dueBy: late, after });
          expect(pageKeys((await ledger.queryDueRetries({ dueBy: late, limit: 100, after })).items)).toEqual(
            expected,
          );
          expect(await retriesAll({ dueBy: late, limit: 3, after })).toEqual(expected);
        }
      });

      it('follows a rewritten entry: a later attempt, parking, or a copy that succeeded take it out', async () => {
        const key = { customerId: 'cust-z', id: 'inv-retry' };
        const due = '2024-09-01T04:00:00.000Z';
        const mine = async (): Promise<string[]> =>
          pageKeys(
            (await ledger.queryDueRetries({ dueBy: due, customerId: key.customerId, limit: 10 })).items,
          );
        const failed = { state: 'failed', sha256: '', attempts: 1 } as const;
        let current = await ledger.put(
          makeLedgerEntry(key, { ...failed, nextAttemptAt: '2024-09-01T03:59:00.000Z' }),
          { ifNoneMatch: '*' },
        );
        expect(await mine()).toEqual([ledgerKeyOf(key)]);
        current = await ledger.put(
          makeLedgerEntry(key, { ...failed, attempts: 2, nextAttemptAt: '2024-09-01T04:03:00.000Z' }),
          { ifMatch: current.etag },
        );
        expect(await mine()).toEqual([]);
        current = await ledger.put(
          makeLedgerEntry(key, { ...failed, attempts: 2, nextAttemptAt: '2024-09-01T03:59:00.000Z' }),
          { ifMatch: current.etag },
        );
        expect(await mine()).toEqual([ledgerKeyOf(key)]);
        const parked = await ledger.put(
          makeLedgerEntry(key, {
            ...failed,
            attempts: 5,
            nextAttemptAt: '2024-09-01T03:59:00.000Z',
            parked: true,
          }),
          { ifMatch: current.etag },
        );
        expect(await mine()).toEqual([]);
        await ledger.put(makeLedgerEntry(key), { ifMatch: parked.etag });
        expect(await mine()).toEqual([]);
        await ledger.delete(key, {});
      });
    });
  });
}
