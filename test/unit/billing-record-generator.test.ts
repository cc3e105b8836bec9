import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  defaultCustomerCount,
  describeSizes,
  formatSizeReport,
  generateRecords,
  MAX_RECORD_BYTES,
  MIN_RECORD_BYTES,
  SizeTally,
} from '../../src/demo/billing-record-generator.ts';
import { type BillingRecord, serializeRecord } from '../../src/domain/billing-record.ts';
import { parseRecordInput, toInput } from '../../src/domain/record-rules.ts';

const NOW = new Date('2025-06-15T00:00:00.000Z');
const DAY_MS = 86_400_000;

// Generated once: a few thousand records is what the size assertions need to be meaningful.
const SAMPLE = [...generateRecords({ seed: 42, count: 3000, now: NOW })];
// Compared by digest: a failing toEqual on megabytes of JSON would bury the report.
const digest = (records: BillingRecord[]): string =>
  createHash('sha256').update(records.map(serializeRecord).join('\n')).digest('hex');
const bytesOf = (record: BillingRecord): number => Buffer.byteLength(serializeRecord(record));

describe('generateRecords', () => {
  it('gives the same bytes for the same seed and different records for another seed', () => {
    const again = [...generateRecords({ seed: 42, count: 3000, now: NOW })];
    expect(digest(again)).toBe(digest(SAMPLE));
    const other = [...generateRecords({ seed: 43, count: 3000, now: NOW })];
    const same = other.filter((record, i) => serializeRecord(record) === serializeRecord(SAMPLE[i]!));
    expect(same).toHaveLength(0);
  });

  it('generates a batch at an offset exactly as the same indexes of a whole run', () => {
    const customers = defaultCustomerCount(3000);
    const batch = [...generateRecords({ seed: 42, count: 50, now: NOW, offset: 1000, customers })];
    expect(digest(batch)).toBe(digest(SAMPLE.slice(1000, 1050)));
    expect(batch[0]?.id).toBe(SAMPLE[1000]?.id);
  });

  it('yields records whose input passes parseRecordInput unchanged, as version 1 in wire order', () => {
    for (const record of SAMPLE.slice(0, 400)) {
      const parsed = parseRecordInput(toInput(record), { customerId: record.customerId, id: record.id });
      expect(parsed).toEqual(toInput(record));
      expect(record.version).toBe(1);
      expect(record.updatedAt).toBe(record.createdAt);
      // Built in schema order, so plain JSON.stringify is already the canonical wire form.
      expect(JSON.stringify(record)).toBe(serializeRecord(record));
    }
  });

  it('keeps the money and calendar rules of a real invoice', () => {
    for (const record of SAMPLE) {
      const subtotal = record.lineItems.reduce((sum, item) => sum + item.amountMinor, 0);
      expect(record.subtotalMinor).toBe(subtotal);
      expect(record.totalMinor).toBe(record.subtotalMinor + record.taxMinor);
      const wellFormed = (item: BillingRecord['lineItems'][number]): boolean =>
        Number.isInteger(item.amountMinor) && Number.isInteger(item.unitPriceMinor) && item.quantity >= 0;
      expect(record.lineItems.every(wellFormed)).toBe(true);
      const issued = new Date(record.issuedAt);
      expect(Date.parse(record.dueAt!) - issued.getTime()).toBe(30 * DAY_MS);
      const previousMonth = new Date(Date.UTC(issued.getUTCFullYear(), issued.getUTCMonth() - 1, 1));
      expect(record.billingPeriod.start).toBe(previousMonth.toISOString().slice(0, 10));
      const lastDay = new Date(Date.UTC(issued.getUTCFullYear(), issued.getUTCMonth(), 0));
      expect(record.billingPeriod.end).toBe(lastDay.toISOString().slice(0, 10));
      expect(record.createdAt >= record.issuedAt).toBe(true);
      expect(record.id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      expect(record.customerId).toMatch(/^cust-\d{5}$/);
      expect(record.metadata?.region).toMatch(/^[a-z]+[a-z0-9]*$/);
    }
    const currencies = new Set(SAMPLE.map((record) => record.currency));
    expect([...currencies]).toEqual(expect.arrayContaining(['USD', 'EUR', 'GBP', 'JPY']));
  });

  it('has unique ids and invoice numbers', () => {
    expect(new Set(SAMPLE.map((record) => record.id)).size).toBe(SAMPLE.length);
    expect(new Set(SAMPLE.map((record) => record.invoiceNumber)).size).toBe(SAMPLE.length);
  });

  it('sizes records from ~2 KiB to at most 300 KiB, skewed small with a long tail', () => {
    const sizes = SAMPLE.map(bytesOf).sort((a, b) => a - b);
    const median = sizes[Math.floor(sizes.length / 2)]!;
    const mean = sizes.reduce((sum, size) => sum + size, 0) / sizes.length;
    expect(sizes[0]).toBeGreaterThanOrEqual(MIN_RECORD_BYTES);
    expect(sizes.at(-1)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(median).toBeGreaterThan(5 * 1024);
    expect(median).toBeLessThan(12 * 1024);
    expect(mean).toBeGreaterThan(1.5 * median);
    expect(sizes.filter((size) => size > 100 * 1024).length).toBeGreaterThanOrEqual(10);
    expect(sizes.filter((size) => size > 200 * 1024).length).toBeGreaterThanOrEqual(1);
  });

  it('spreads issuedAt over the requested months before now, old and recent', () => {
    const issued = SAMPLE.map((record) => Date.parse(record.issuedAt));
    const windowStart = Date.UTC(2022, 5, 15);
    expect(Math.min(...issued)).toBeGreaterThanOrEqual(windowStart);
    expect(Math.max(...issued)).toBeLessThan(NOW.getTime());
    expect(issued.filter((t) => t < windowStart + 180 * DAY_MS).length).toBeGreaterThan(SAMPLE.length / 12);
    expect(issued.filter((t) => t > NOW.getTime() - 90 * DAY_MS).length).toBeGreaterThan(SAMPLE.length / 24);
    expect(new Set(SAMPLE.map((record) => record.issuedAt.slice(0, 7))).size).toBeGreaterThanOrEqual(36);

    const short = [...generateRecords({ seed: 7, count: 300, now: NOW, monthsOfHistory: 2 })];
    const earliest = Math.min(...short.map((record) => Date.parse(record.issuedAt)));
    expect(earliest).toBeGreaterThanOrEqual(Date.UTC(2025, 3, 15));
  });

  it('mixes statuses by age: old ones settled, recent ones still open', () => {
    const old = SAMPLE.filter((record) => NOW.getTime() - Date.parse(record.issuedAt) > 90 * DAY_MS);
    const recent = SAMPLE.filter((record) => NOW.getTime() - Date.parse(record.issuedAt) < 30 * DAY_MS);
    const share = (records: BillingRecord[], status: BillingRecord['status']): number =>
      records.filter((record) => record.status === status).length / records.length;
    expect(share(old, 'paid')).toBeGreaterThan(0.85);
    expect(share(old, 'void') + share(old, 'overdue')).toBeGreaterThan(0);
    expect(old.some((record) => record.status === 'draft' || record.status === 'issued')).toBe(false);
    expect(share(recent, 'issued') + share(recent, 'draft')).toBeGreaterThan(0.4);
    // An unpaid invoice past its due date is overdue, never still "issued".
    for (const record of SAMPLE.filter((r) => r.status === 'issued')) {
      expect(Date.parse(record.dueAt!)).toBeGreaterThan(NOW.getTime());
    }
  });

  it('uses the requested number of customers, or about one invoice per customer per month', () => {
    expect(new Set(SAMPLE.map((record) => record.customerId)).size).toBe(defaultCustomerCount(3000));
    const few = [...generateRecords({ seed: 42, count: 200, now: NOW, customers: 3 })];
    expect(new Set(few.map((record) => record.customerId))).toEqual(
      new Set(['cust-00001', 'cust-00002', 'cust-00003']),
    );
  });

  it('refuses options it cannot honour', () => {
    expect(() => [...generateRecords({ seed: -1, count: 1, now: NOW })]).toThrow(RangeError);
    expect(() => [...generateRecords({ seed: 1, count: 1, now: new Date(Number.NaN) })]).toThrow(RangeError);
    expect(() => [...generateRecords({ seed: 1, count: 1, now: NOW, customers: 0 })]).toThrow(RangeError);
  });
});

describe('describeSizes', () => {
  it('reports count, bytes, percentiles and the span of the records', () => {
    const report = describeSizes(SAMPLE);
    const sizes = SAMPLE.map(bytesOf).sort((a, b) => a - b);
    expect(report).toMatchObject({
      count: 3000,
      totalBytes: sizes.reduce((sum, size) => sum + size, 0),
      minBytes: sizes[0],
      p50Bytes: sizes[1499],
      p90Bytes: sizes[2699],
      p99Bytes: sizes[2969],
      maxBytes: sizes[2999],
      customers: defaultCustomerCount(3000),
    });
    expect(report.months).toBeGreaterThanOrEqual(36);
    expect(report.largestRecord?.bytes).toBe(report.maxBytes);
    expect(report.busiestCustomer?.records).toBeGreaterThan(0);
    expect(formatSizeReport(report).join('\n')).toMatch(/3000 records, .* p50 .* p99 .* max /);
  });

  it('reports an empty set without failing', () => {
    expect(new SizeTally().report()).toMatchObject({ count: 0, totalBytes: 0, maxBytes: 0, customers: 0 });
    expect(formatSizeReport(describeSizes([]))[1]).toContain('no records');
  });
});
