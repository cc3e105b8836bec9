import { describe, expect, it } from 'vitest';
import { buildArchiveArtifact, verifiedArchivedJson } from '../../src/domain/archive-artifact.ts';
import { BillingRecord, serializeRecord } from '../../src/domain/billing-record.ts';
import { AppError } from '../../src/domain/errors.ts';
import { etagOf, ifMatchSatisfied, ifNoneMatchSatisfied } from '../../src/domain/etag.ts';
import { addDuration, parseIsoDuration, subtractDuration } from '../../src/domain/iso-duration.ts';
import { decodeCursor, encodeCursor } from '../../src/domain/list-cursor.ts';
import { applyMergePatch } from '../../src/domain/merge-patch.ts';
import {
  CURRENT_SCHEMA_VERSION,
  fromPersisted,
  toPersisted,
  upcast,
} from '../../src/domain/record-document.ts';
import { buildRecord, parseRecordInput } from '../../src/domain/record-rules.ts';
import { decideRetry, withRetry } from '../../src/domain/retry-policy.ts';
import { compileValidator } from '../../src/domain/schema-validation.ts';
import { makeDocument, makeInput, makeRecord, makeStub } from '../support/record-fixtures.ts';

describe('record rules', () => {
  it('normalises instants and fills the key from the path', () => {
    const input = parseRecordInput(
      { ...makeInput(), issuedAt: '2024-05-01T10:00:00Z' },
      { customerId: 'c1', id: 'r1' },
    );
    expect(input).toMatchObject({ id: 'r1', customerId: 'c1', issuedAt: '2024-05-01T10:00:00.000Z' });
  });

  it('accepts an empty invoice with zero totals and refuses a negative quantity', () => {
    expect(() =>
      parseRecordInput(makeInput({ lineItems: [], subtotalMinor: 0, taxMinor: 0, totalMinor: 0 }), {
        customerId: 'c',
      }),
    ).not.toThrow();
    const bad = makeInput();
    bad.lineItems[0] = { ...bad.lineItems[0]!, quantity: -1 };
    expect(() => parseRecordInput(bad, { customerId: 'c' })).toThrow(AppError);
  });

  it('builds version 1, then bumps the version and keeps createdAt', () => {
    const input = parseRecordInput(makeInput(), { customerId: 'c', id: 'r' });
    const v1 = buildRecord(input, { customerId: 'c', id: 'r' }, new Date('2026-01-01T00:00:00.000Z'));
    const v2 = buildRecord(input, { customerId: 'c', id: 'r' }, new Date('2026-02-01T00:00:00.000Z'), v1);
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(v2.createdAt).toBe(v1.createdAt);
    expect(v2.updatedAt).toBe('2026-02-01T00:00:00.000Z');
  });

  it('serializes with the schema key order and sorted metadata keys, whatever the input order', () => {
    const record = makeRecord({ metadata: { zeta: '1', alpha: '2' } });
    const shuffled = Object.fromEntries(Object.entries(record).reverse()) as typeof record;
    expect(serializeRecord(shuffled)).toBe(serializeRecord(record));
    expect(serializeRecord(record).indexOf('"alpha"')).toBeLessThan(
      serializeRecord(record).indexOf('"zeta"'),
    );
    const validate = compileValidator(BillingRecord);
    expect(validate(JSON.parse(serializeRecord(record)))).toEqual(record);
  });

  it('orders nested objects and array items by their schemas and leaves out what the schema lacks', () => {
    const record = makeRecord({ metadata: { b: '1', a: '2' } });
    const reversed = <T extends object>(value: T): T =>
      Object.fromEntries(Object.entries(value).reverse()) as T;
    const messy = {
      ...reversed(record),
      billingPeriod: { ...reversed(record.billingPeriod), note: 'x' },
      lineItems: record.lineItems.map((item) => ({ ...reversed(item), extra: 1 })),
      internal: { secret: true },
    };
    const item = record.lineItems[0]!;
    const text = serializeRecord(messy);
    expect(text).toBe(serializeRecord(record));
    expect(text).not.toMatch(/note|extra|internal|secret/);
    expect(text).toContain(
      `"billingPeriod":{"start":"${record.billingPeriod.start}","end":"${record.billingPeriod.end}"}`,
    );
    expect(text).toContain(`"lineItems":[{"sku":${JSON.stringify(item.sku)},`);
    expect(text).toContain(`"metadata":{"a":"2","b":"1"},"version":`);
  });
});

describe('stored documents', () => {
  it('round-trips full documents and stubs through the persisted layout', () => {
    const full = makeDocument();
    expect(fromPersisted(toPersisted(full))).toEqual(full);
    const stub = makeStub(full.record, { pinned: true });
    const persisted = toPersisted(stub);
    expect(persisted).not.toHaveProperty('lineItems');
    expect(persisted.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    expect(fromPersisted(persisted)).toEqual(stub);
  });

  it('upcasts a v1 document and refuses one from the future', () => {
    const v1 = {
      id: 'a',
      customerId: 'c',
      schemaVersion: 1,
      periodStart: '2024-01-01',
      periodEnd: '2024-01-31',
      lineItems: [{ sku: 's', quantity: 2.5, unitPriceMinor: 3 }],
    };
    const upcast1 = upcast(v1);
    expect(upcast1).toMatchObject({
      schemaVersion: 2,
      billingPeriod: { start: '2024-01-01', end: '2024-01-31' },
      sys: { tier: 'hot' },
    });
    expect((upcast1.lineItems as Array<{ amountMinor: number }>)[0]?.amountMinor).toBe(8);
    expect(() => upcast({ id: 'a', customerId: 'c', schemaVersion: 99 })).toThrow(/newer/);
  });

  it('decodes an archived blob to its canonical bytes whatever size the stub records, and checks its hash', () => {
    // Over 16 KB of JSON: more than zlib's default output chunk, so a size hint that is off shows.
    const lineItems = Array.from({ length: 300 }, (_, line) => ({
      sku: `sku-${line}`,
      description: `Metered usage, line ${line}`,
      quantity: 1,
      unitPriceMinor: 5,
      amountMinor: 5,
    }));
    const record = makeRecord({ lineItems, subtotalMinor: 1500, totalMinor: 1500, taxMinor: 0 });
    const artifact = buildArchiveArtifact(record);
    expect(artifact.size).toBeGreaterThan(16 * 1024);
    const pointer = { ...makeStub(record).archive, sha256: artifact.sha256 };
    for (const size of [artifact.size, 10, artifact.size * 1000, Number.NaN]) {
      const json = verifiedArchivedJson(artifact.body, { ...pointer, size });
      expect(json.toString('utf8')).toBe(serializeRecord(record));
    }
    expect(() => verifiedArchivedJson(artifact.body, { ...pointer, sha256: 'c'.repeat(64) })).toThrow(
      expect.objectContaining({ code: 'ARCHIVE_INTEGRITY' }),
    );
  });
});

describe('etags', () => {
  it('matches If-Match strongly and If-None-Match weakly', () => {
    expect(etagOf(3)).toBe('"3"');
    expect(ifMatchSatisfied('"3"', 3)).toBe(true);
    expect(ifMatchSatisfied('"2", "3"', 3)).toBe(true);
    expect(ifMatchSatisfied('*', 3)).toBe(true);
    expect(ifMatchSatisfied('W/"3"', 3)).toBe(false);
    expect(ifMatchSatisfied('"4"', 3)).toBe(false);
    expect(ifNoneMatchSatisfied('W/"3"', 3)).toBe(true);
    expect(ifNoneMatchSatisfied('"4"', 3)).toBe(false);
  });
});

describe('merge patch (RFC 7396)', () => {
  it('merges objects, removes nulls, replaces arrays and scalars', () => {
    expect(
      applyMergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: null, b: { c: 9 }, e: [2, 3], f: 'x' }),
    ).toEqual({
      b: { c: 9, d: 3 },
      e: [2, 3],
      f: 'x',
    });
    expect(applyMergePatch({ a: 1 }, 'scalar')).toBe('scalar');
  });
});

describe('ISO 8601 durations', () => {
  it('parses the forms the settings use and refuses others', () => {
    expect(parseIsoDuration('P3M')).toMatchObject({ months: 3 });
    expect(parseIsoDuration('P7D')).toMatchObject({ days: 7 });
    expect(parseIsoDuration('P0D')).toMatchObject({ days: 0 });
    expect(parseIsoDuration('P1Y2M3DT4H5M6S')).toMatchObject({
      years: 1,
      months: 2,
      days: 3,
      hours: 4,
      minutes: 5,
      seconds: 6,
    });
    for (const bad of ['P', '3M', 'PT', 'P1.5M', 'soon', '']) expect(parseIsoDuration(bad)).toBeUndefined();
  });

  it('counts months on the calendar, clamping to the month end', () => {
    expect(
      subtractDuration(new Date('2026-05-31T10:00:00.000Z'), parseIsoDuration('P3M')!).toISOString(),
    ).toBe('2026-02-28T10:00:00.000Z');
    expect(addDuration(new Date('2026-01-31T00:00:00.000Z'), parseIsoDuration('P1M')!).toISOString()).toBe(
      '2026-02-28T00:00:00.000Z',
    );
    expect(
      subtractDuration(new Date('2026-03-08T00:00:00.000Z'), parseIsoDuration('P7D')!).toISOString(),
    ).toBe('2026-03-01T00:00:00.000Z');
  });
});

describe('list cursors', () => {
  it('round-trips a position and refuses other filters or garbage', () => {
    const filters = { customerId: 'c', status: 'paid' };
    const cursor = encodeCursor({ issuedAt: '2024-01-01T00:00:00.000Z', id: 'x' }, filters);
    expect(decodeCursor(cursor, filters)).toEqual({ issuedAt: '2024-01-01T00:00:00.000Z', id: 'x' });
    expect(() => decodeCursor(cursor, { customerId: 'c' })).toThrow(/other filters/);
    expect(() => decodeCursor('garbage', filters)).toThrow(AppError);
  });

  it('binds a cursor to its invoice number, and keeps the cursors issued before that filter valid', () => {
    const position = { issuedAt: '2024-03-15T08:00:00.000Z', id: 'inv-a04' };
    const byInvoice = { customerId: 'cust-list', invoiceNumber: 'INV-7' };
    const cursor = encodeCursor(position, byInvoice);
    expect(decodeCursor(cursor, byInvoice)).toEqual(position);
    expect(() => decodeCursor(cursor, { customerId: 'cust-list' })).toThrow(/other filters/);
    expect(() => decodeCursor(cursor, { ...byInvoice, invoiceNumber: 'INV-8' })).toThrow(/other filters/);
    expect(() => decodeCursor(encodeCursor(position, { customerId: 'cust-list' }), byInvoice)).toThrow(
      /other filters/,
    );
    // Issued by the release before the invoiceNumber filter: a client paging through a deploy goes on.
    const before = {
      plain: 'eyJhIjoiMjAyNC0wMy0xNVQwODowMDowMC4wMDBaIiwiaSI6Imludi1hMDQiLCJmIjoiRzBkNWZPc2pmZ0tOWGRVVCJ9',
      filtered:
        'eyJhIjoiMjAyNC0wMy0xNVQwODowMDowMC4wMDBaIiwiaSI6Imludi1hMDQiLCJmIjoicGo2WGR6TnNrQnZISGp3VCJ9',
    };
    expect(decodeCursor(before.plain, { customerId: 'cust-list' })).toEqual(position);
    expect(
      decodeCursor(before.filtered, {
        customerId: 'cust-list',
        status: 'paid',
        issuedFrom: '2024-01-01T00:00:00.000Z',
      }),
    ).toEqual(position);
  });
});

describe('retry policy', () => {
  const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };
  it('honours retry-after first, backs off with jitter under a cap, and stops', () => {
    const throttled = new AppError('THROTTLED', 'slow down', { retryAfterMs: 700 });
    expect(decideRetry(policy, 1, throttled, 0.5)).toEqual({ retry: true, delayMs: 700 });
    const unavailable = new AppError('UNAVAILABLE', 'down');
    expect(decideRetry(policy, 3, unavailable, 0.999)).toEqual({ retry: true, delayMs: 399 });
    expect(decideRetry(policy, 4, unavailable, 0.5)).toEqual({ retry: false });
    expect(decideRetry(policy, 1, new AppError('NOT_FOUND', 'x'), 0.5)).toEqual({ retry: false });
    expect(decideRetry(policy, 1, new Error('plain'), 0.5)).toEqual({ retry: false });
  });

  it('retries a retryable failure and returns the later success', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetry(
      () => {
        calls += 1;
        if (calls < 3)
          return Promise.reject(new AppError('THROTTLED', 'again', { retryAfterMs: 10 * calls }));
        return Promise.resolve('done');
      },
      { policy, sleep: (ms) => (delays.push(ms), Promise.resolve()) },
    );
    expect(result).toBe('done');
    expect(delays).toEqual([10, 20]);
  });

  it('passes on at once what a lower layer has already retried', async () => {
    let calls = 0;
    const throttled = new AppError('THROTTLED', 'the SDK retried this', { retryAfterMs: 10 });
    await expect(
      withRetry(() => (calls++, Promise.reject(throttled)), {
        policy,
        sleep: () => Promise.reject(new Error('no wait expected')),
        retriedBelow: (error) => error === throttled,
      }),
    ).rejects.toBe(throttled);
    expect(calls).toBe(1);
  });
});
