// Issue 20, item 5: how far the archiver's queries fan out over Cosmos DB's physical partitions, measured
// with the real SDK against @vercel/cosmosdb-server. The emulator has one partition, so every page is one
// partition request; its query metrics are a fixed placeholder (sent only when asked), which the adapter
// passes on only where it reports the service's own charges. The fan-out over several partitions is
// checked against a real account (test/azure/real-account.azure.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosArchiveLedger } from '../../src/adapters/cosmos/cosmos-archive-ledger.ts';
import { CosmosRecordStore } from '../../src/adapters/cosmos/cosmos-record-store.ts';
import { ArchivalEngine } from '../../src/archival/archive-run.ts';
import type { QueryPageMetrics } from '../../src/ports/operation-options.ts';
import { MemoryArchiveStore } from '../fakes/memory-archive-store.ts';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { silentLogger } from '../fakes/silent-logger.ts';
import { policyOf } from '../support/archival-harness.ts';
import { type CosmosEmulator, startCosmosEmulator } from '../support/cosmos-emulator.ts';
import { makeDocument } from '../support/record-fixtures.ts';

let emulator: CosmosEmulator;
const opened: Array<{ close(): Promise<void> }> = [];

async function openStore(databaseId: string, estimateRequestCharges?: boolean): Promise<CosmosRecordStore> {
  const store = await CosmosRecordStore.connect({
    endpoint: emulator.endpoint,
    key: emulator.key,
    databaseId,
    containerId: 'records',
    allowInsecureTls: true,
    ...(estimateRequestCharges !== undefined ? { estimateRequestCharges } : {}),
  });
  opened.push(store);
  return store;
}

/** Five records of five customers, issued in 2025 (old enough at the manual clock's 2026-01-15). */
async function seed(store: CosmosRecordStore): Promise<void> {
  for (let index = 0; index < 5; index += 1) {
    await store.create(
      makeDocument({
        id: `inv-fanout-${index}`,
        customerId: `cust-fanout-${index}`,
        issuedAt: `2025-0${index + 1}-10T00:00:00.000Z`,
        createdAt: '2025-06-01T00:00:00.000Z',
        updatedAt: '2025-06-01T00:00:00.000Z',
      }),
    );
  }
}

beforeAll(async () => {
  emulator = await startCosmosEmulator();
});
afterAll(async () => {
  for (const store of opened) await store.close();
  await emulator?.stop();
});

describe('query fan-out on the Cosmos DB adapter (cosmosdb-server)', () => {
  it('reports each scan page as one request to the one partition, without the placeholder metrics', async () => {
    const store = await openStore('fanout-scan');
    await seed(store);
    const pages: QueryPageMetrics[] = [];
    const charges: number[] = [];
    let after;
    do {
      const page = await store.scan(
        { tier: 'hot', limit: 2, ...(after !== undefined ? { after } : {}) },
        { onQueryPage: (metrics) => pages.push(metrics), onRequestCharge: (units) => charges.push(units) },
      );
      after = page.next;
    } while (after !== undefined);
    expect(pages.length).toBe(3);
    expect(pages.every((page) => page.partitionRequests === 1 && page.service === undefined)).toBe(true);
    // The modelled charge counts one partition's fixed part per page.
    expect(charges.every((units) => units >= 2.5 && units < 5)).toBe(true);
  });

  it("passes on the service's query metrics where the adapter trusts the service's figures", async () => {
    // Outside the emulator mode the adapter reports what the service answers: here the emulator's fixed
    // placeholder, which it sends only when the request asks for metrics (populateQueryMetrics).
    const store = await openStore('fanout-metrics', false);
    await seed(store);
    const pages: QueryPageMetrics[] = [];
    await store.scan({ tier: 'hot', limit: 10 }, { onQueryPage: (metrics) => pages.push(metrics) });
    expect(pages).toEqual([
      {
        partitionRequests: 1,
        service: {
          partitions: 1,
          retrievedDocuments: 0,
          retrievedBytes: 0,
          outputDocuments: 1,
          outputBytes: 0,
        },
      },
    ]);
  });

  it("keeps the run's fan-out in its report: pages, partition requests, the widest page", async () => {
    const store = await openStore('fanout-run');
    const ledger = await CosmosArchiveLedger.connect({
      endpoint: emulator.endpoint,
      key: emulator.key,
      databaseId: 'fanout-run',
      allowInsecureTls: true,
    });
    opened.push(ledger);
    await seed(store);
    const clock = new ManualClock();
    const engine = new ArchivalEngine({
      store,
      ledger,
      archive: new MemoryArchiveStore(),
      control: new MemoryControlStore(clock),
      clock,
      policy: policyOf('P3M', 'PT0S', 'P1D'),
      log: silentLogger,
      settings: { batchSize: 2, requestUnitsPerSecond: 0 },
    });
    const report = await engine.run();
    expect(report.counts).toMatchObject({ copied: 5, purged: 5, failed: 0 });
    const queries = report.queries;
    expect(queries).toBeDefined();
    // Scans of five monthly slices in pages of two, ledger lookups and the purge's pages: all within one partition.
    expect(queries!.pages).toBeGreaterThanOrEqual(5);
    expect(queries!.partitionRequests).toBe(queries!.pages);
    expect(queries!.maxPartitionRequestsPerPage).toBe(1);
    expect(queries!.service).toBeUndefined();
  });
});
