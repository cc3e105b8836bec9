// The documented RU model, and stores without real charges reporting its estimates, labelled as such.
import { type CosmosDiagnostics, FeedResponse, OperationType, QueryMetrics } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { queryPageMetrics, queryUnits } from '../../src/adapters/cosmos/cosmos-connection.ts';
import { SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import {
  estimateQueryUnits,
  estimateReadUnits,
  estimateWriteUnits,
} from '../../src/domain/request-unit-model.ts';
import { makeDocument } from '../support/record-fixtures.ts';

describe('request-unit model', () => {
  it('follows the published table: ~1 RU per 10 KB read, ~0.4 RU per KB written', () => {
    // learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption, and "Optimize request cost":
    // a 1 KB point read costs 1 RU, a 100 KB one 10 RU.
    expect(estimateReadUnits(0)).toBe(1);
    expect(estimateReadUnits(512)).toBe(1);
    expect(estimateReadUnits(128 * 1024)).toBeCloseTo(9.95, 2);
    expect(estimateReadUnits(100 * 1024)).toBeGreaterThan(7.5);
    expect(estimateReadUnits(100 * 1024)).toBeLessThan(10.5);
    expect(estimateReadUnits(300 * 1024)).toBeCloseTo(20.28 + (44 / 256) * (40.95 - 20.28), 2);
    expect(estimateWriteUnits(1024, 0)).toBe(4.95);
    expect(estimateWriteUnits(256 * 1024, 7)).toBeCloseTo(98.29, 2);
    expect(estimateQueryUnits(0)).toBe(2.5);
    // Monotonic between the table's points.
    for (let kb = 1; kb < 2048; kb += 7) {
      expect(estimateReadUnits((kb + 7) * 1024)).toBeGreaterThanOrEqual(estimateReadUnits(kb * 1024));
      expect(estimateWriteUnits((kb + 7) * 1024, 0)).toBeGreaterThanOrEqual(estimateWriteUnits(kb * 1024, 0));
    }
  });

  it('charges a query page the fixed part once per partition it went to', () => {
    expect(estimateQueryUnits(0, 4)).toBe(10);
    expect(estimateQueryUnits(64 * 1024, 4) - estimateQueryUnits(64 * 1024)).toBe(7.5);
    expect(estimateQueryUnits(0, 0)).toBe(2.5);
  });

  it("sums a page's per-partition query metrics (as the SDK parses the service's header) and counts its requests", () => {
    // The service's header, one per partition: the SDK parses each and keys them by partition key range id.
    const header = (retrieved: number, bytes: number, output: number) =>
      QueryMetrics.createFromDelimitedString(
        `totalExecutionTimeInMs=1.00;retrievedDocumentCount=${retrieved};retrievedDocumentSize=${bytes};` +
          `outputDocumentCount=${output};outputDocumentSize=${output * 300};indexUtilizationRatio=1.00`,
      );
    const request = { startTimeUTCInMs: 0, durationInMs: 1, requestPayloadLengthInBytes: 0 };
    const diagnostics = {
      clientSideRequestStatistics: {
        gatewayStatistics: [0, 1, 2].map(() => ({
          ...request,
          operationType: OperationType.Query,
          responsePayloadLengthInBytes: 10,
        })),
      },
    } as unknown as CosmosDiagnostics;
    const page = new FeedResponse(
      [{ id: 'a' }],
      {
        'x-ms-documentdb-query-metrics': {
          '0': header(101, 2_000_000, 101),
          '1': header(101, 1_900_000, 101),
          '2': header(40, 800_000, 40),
        },
      },
      false,
      diagnostics,
    );
    const metrics = queryPageMetrics(page, true);
    expect(metrics).toEqual({
      partitionRequests: 3,
      service: {
        partitions: 3,
        retrievedDocuments: 242,
        retrievedBytes: 4_700_000,
        outputDocuments: 242,
        outputBytes: 72_600,
      },
    });
    // Untrusted (the emulator's placeholder): only the client's own count.
    expect(queryPageMetrics(page, false)).toEqual({ partitionRequests: 3 });
    // The model charges what the partitions loaded, and the fixed part three times.
    expect(queryUnits([{ id: 'a' }], metrics)).toBe(estimateQueryUnits(4_700_000, 3));
  });

  it('a full 300 KB rewrite costs twenty times more than a ledger entry', () => {
    expect(estimateWriteUnits(300 * 1024, 6) / estimateWriteUnits(600, 5)).toBeGreaterThan(20);
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
    expect(charges[1]![0]).toBeCloseTo(estimateReadUnits(bytes), 0);
    const ledger = new SqliteArchiveLedger({ path: ':memory:' });
    await ledger.get(document, options);
    expect(charges.at(-1)).toEqual([1, true]);
    await store.close();
    await ledger.close();
  });
});
