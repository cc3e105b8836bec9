// The documented RU model, and stores without real charges reporting its estimates, labelled as such.
import { describe, expect, it } from 'vitest';
import { SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import {
  estimateQueryUnits,
  estimateReadUnits,
  estimateWriteUnits,
} from '../../src/domain/request-unit-model.ts';
import { makeDocument } from '../support/record-fixtures.ts';

describe('request-unit model', () => {
  it('follows the published figures: ~1 RU per KB read, ~5 RU per KB written plus index terms', () => {
    expect(estimateReadUnits(512)).toBe(1);
    expect(estimateReadUnits(300 * 1024)).toBe(300);
    expect(estimateWriteUnits(1024, 0)).toBe(5);
    expect(estimateWriteUnits(300 * 1024, 6)).toBe(1503);
    expect(estimateQueryUnits(0)).toBe(2.5);
  });

  it('a full 300 KB rewrite costs two orders of magnitude more than a ledger entry', () => {
    expect(estimateWriteUnits(300 * 1024, 6) / estimateWriteUnits(600, 5)).toBeGreaterThan(100);
  });

  it('SQLite stores tell each call its estimated charge', async () => {
    const store = new SqliteRecordStore({ path: ':memory:' });
    const charges: Array<[number, boolean]> = [];
    const options = {
      onRequestCharge: (units: number, estimated: boolean) => charges.push([units, estimated]),
    };
    const document = makeDocument({ customerId: 'c-ru' });
    await store.create(document, options);
    await store.get(document, options);
    await store.scan({ tier: 'hot', limit: 10 }, options);
    expect(charges).toHaveLength(3);
    expect(charges.every(([units, estimated]) => units > 0 && estimated)).toBe(true);
    const bytes = Buffer.byteLength(JSON.stringify(document.record));
    expect(charges[1]![0]).toBeCloseTo(Math.max(1, bytes / 1024), 0);
    const ledger = new SqliteArchiveLedger({ path: ':memory:' });
    await ledger.get(document, options);
    expect(charges.at(-1)).toEqual([1, true]);
    await store.close();
    await ledger.close();
  });
});
