// Status and the cost report at scale: what an operator's poll costs when the hot store holds a million
// records. One SQLite store on tmpfs shaped as after archival (the last three months full documents,
// older ones stubs, a week of copies in grace in the ledger), then:
//   before: the cost report's old measurement, which is now the explicit recount (count by tier, a scan
//           of every stub, a listing of the archive): its wall time, and its Cosmos charge modelled
//   after:  GET /archival/status and the cost report as the services answer them (tier counters, two
//           one-item index reads, the ledger's counts and overdue items): wall time (median of 5), and
//           their Cosmos charge modelled at 2,000,000 records
// The charge is a model (SQLite reports none): every store call the two make is recorded with what it
// returned, and priced by src/domain/request-unit-model.ts, with the work that grows with the records
// (entries a COUNT matches, pages of a full scan) scaled from the measured store to 2,000,000. Control
// documents (the counters, run reports) live in Blob Storage in production: no RU.
import { join } from 'node:path';
import { SqliteArchiveLedger } from '../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteControlStore } from '../src/adapters/sqlite/sqlite-control-store.ts';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { FileArchiveStore } from '../src/adapters/files/file-archive-store.ts';
import { archivalStatus } from '../src/archival/archival-status.ts';
import { systemClock } from '../src/composition/system-clock.ts';
import { measureStores } from '../src/costs/measure-stores.ts';
import { TierCounters } from '../src/costs/tier-counters.ts';
import { recountTiers } from '../src/costs/tier-recount.ts';
import type { BillingRecord } from '../src/domain/billing-record.ts';
import { fullDocument, type RecordDocument, summaryOf } from '../src/domain/record-document.ts';
import { estimateCountUnits, estimateQueryUnits } from '../src/domain/request-unit-model.ts';
import type { LedgerEntry } from '../src/ports/archive-ledger.ts';
import { type Figure, runBenchmark } from './support/bench-result.ts';
import { benchFolder, removeFolder } from './support/bench-world.ts';
import { median } from './support/latency-stats.ts';

const REFERENCE_RECORDS = 2_000_000;
const MONTHS = 36;
const HOT_MONTHS = 3;
/** A week of copies in grace, of 36 months of records. */
const IN_GRACE_SHARE = 7 / (MONTHS * 30.4);
const MAX_RU = 100;
const MAX_SECONDS = 1;
/** Bytes a query loads per stub (its document, ~0.5 KB), whatever the projection returns. */
const STUB_DOCUMENT_BYTES = 500;
const NOW = new Date('2026-01-01T00:00:00.000Z');

interface Call {
  readonly port: string;
  readonly method: string;
  readonly args: readonly unknown[];
  readonly result: unknown;
}

await runBenchmark('ops-scale', async ({ profile, log }) => {
  const records = profile.opsRecords;
  const folder = benchFolder('ops-scale', 'tmpfs');
  const store = new SqliteRecordStore({ path: join(folder, 'hot.sqlite') });
  const ledger = new SqliteArchiveLedger({ path: join(folder, 'hot.sqlite') });
  const control = new SqliteControlStore({ path: join(folder, 'control.sqlite') });
  const archive = new FileArchiveStore({ folder: join(folder, 'archive') });
  try {
    const t0 = performance.now();
    const inGrace = await fill(store, ledger, records, log);
    log(`${records} documents, ${inGrace} ledger entries in grace, in ${seconds(t0)} s`);
    const scale = REFERENCE_RECORDS / records;

    // Before: the old measurement, kept as the explicit recount (it also sets the counters' baseline).
    const beforeCalls: Call[] = [];
    const counters = new TierCounters(control);
    const t1 = performance.now();
    await recountTiers({
      store: recorded(store, 'store', beforeCalls),
      archive: recorded(archive, 'archive', beforeCalls),
      counters,
      clock: systemClock,
    });
    const recountSeconds = (performance.now() - t1) / 1000;
    const recountRu = modelledUnits(beforeCalls, scale);
    log(`recount (the old cost report): ${recountSeconds.toFixed(2)} s, modelled ${recountRu.toFixed(0)} RU`);

    const statusCalls: Call[] = [];
    const reportCalls: Call[] = [];
    const statusTimes: number[] = [];
    const reportTimes: number[] = [];
    for (let round = 0; round < 5; round++) {
      const calls = { status: [] as Call[], report: [] as Call[] };
      let t = performance.now();
      await archivalStatus(
        {
          store: recorded(store, 'store', calls.status),
          ledger: recorded(ledger, 'ledger', calls.status),
          control: recorded(control, 'control', calls.status),
          tierCounters: new TierCounters(recorded(control, 'control', calls.status)),
        },
        NOW,
      );
      statusTimes.push((performance.now() - t) / 1000);
      t = performance.now();
      await measureStores(
        {
          store: recorded(store, 'store', calls.report),
          archive: recorded(archive, 'archive', calls.report),
          control: recorded(control, 'control', calls.report),
          counters: new TierCounters(recorded(control, 'control', calls.report)),
        },
        NOW,
      );
      reportTimes.push((performance.now() - t) / 1000);
      if (round === 0) {
        statusCalls.push(...calls.status);
        reportCalls.push(...calls.report);
      }
    }
    const statusRu = modelledUnits(statusCalls, scale);
    const reportRu = modelledUnits(reportCalls, scale);
    const statusSeconds = median(statusTimes);
    const reportSeconds = median(reportTimes);
    const at = `${records.toLocaleString('en')} records on SQLite (tmpfs)`;
    const figures: Record<string, Figure> = {
      'ops.statusRu': {
        value: round2(statusRu),
        unit: 'RU',
        description: `GET /archival/status: modelled Cosmos charge of its queries at 2,000,000 records (tier counters in Blob: 0 RU; ledger counts and overdue items)`,
        target: { kind: 'max', value: MAX_RU, text: `<= ${MAX_RU}` },
      },
      'ops.costReportRu': {
        value: round2(reportRu),
        unit: 'RU',
        description: `the cost report: modelled Cosmos charge of its queries at 2,000,000 records (tier counters, two one-item index reads)`,
        target: { kind: 'max', value: MAX_RU, text: `<= ${MAX_RU}` },
      },
      'ops.statusSeconds': {
        value: round4(statusSeconds),
        unit: 's',
        description: `status wall time, median of 5, ${at}`,
        target: { kind: 'max', value: MAX_SECONDS, text: `<= ${MAX_SECONDS}` },
      },
      'ops.costReportSeconds': {
        value: round4(reportSeconds),
        unit: 's',
        description: `cost report wall time, median of 5, ${at}`,
        target: { kind: 'max', value: MAX_SECONDS, text: `<= ${MAX_SECONDS}` },
      },
      'ops.recountRu': {
        value: Math.round(recountRu),
        unit: 'RU',
        description:
          'the explicit recount (the cost report’s measurement before the counters): modelled at 2,000,000 records',
      },
      'ops.recountSeconds': {
        value: round2(recountSeconds),
        unit: 's',
        description: `the explicit recount's wall time, ${at}`,
      },
    };
    return {
      figures,
      details: {
        records,
        inGrace,
        scaleTo: REFERENCE_RECORDS,
        model: {
          source: 'src/domain/request-unit-model.ts',
          countQueries:
            'queryBase + entries matched × countPerIndexEntry (an assumption: no published table)',
          pages:
            'estimateQueryUnits(items × 0.5 KB); full pages of a scan: their number scales with the records',
          controlDocuments: 'Blob Storage in production: no RU',
        },
        calls: {
          status: summarizeCalls(statusCalls),
          costReport: summarizeCalls(reportCalls),
          recount: summarizeCalls(beforeCalls),
        },
        times: { statusTimes, reportTimes, recountSeconds },
      },
    };
  } finally {
    await Promise.all([store.close(), ledger.close(), control.close(), archive.close()]);
    removeFolder(folder);
  }
});

/** Loads the store (stubs, then the last three months full) and the ledger's copies in grace. */
async function fill(
  store: SqliteRecordStore,
  ledger: SqliteArchiveLedger,
  count: number,
  log: (message: string) => void,
): Promise<number> {
  const customers = Math.max(1, Math.round(count / 36));
  const batch: RecordDocument[] = [];
  const hotFrom = count - Math.round((count * HOT_MONTHS) / MONTHS);
  const graceFrom = hotFrom - Math.round(count * IN_GRACE_SHARE);
  let inGrace = 0;
  for (let i = 0; i < count; i++) {
    const record = recordOf(i, count, customers);
    const hot = i >= graceFrom;
    batch.push(hot ? fullDocument(record) : stubOf(record));
    if (i >= graceFrom && i < hotFrom) {
      inGrace += 1;
      await ledger.put(entryOf(record), {});
    }
    if (batch.length === 5_000 || i === count - 1) {
      await store.createMany(batch.splice(0));
      if ((i + 1) % 200_000 === 0) log(`loaded ${i + 1}/${count}`);
    }
  }
  return inGrace;
}

function recordOf(i: number, count: number, customers: number): BillingRecord {
  const issuedAt = new Date(
    NOW.getTime() - MONTHS * 30.4 * 86_400_000 + (i / count) * MONTHS * 30.4 * 86_400_000,
  ).toISOString();
  const amount = 1_000 + (i % 9_000);
  return {
    id: `inv-${i}`,
    customerId: `cust-${String(i % customers).padStart(6, '0')}`,
    invoiceNumber: `INV-${String(i).padStart(8, '0')}`,
    issuedAt,
    billingPeriod: { start: issuedAt.slice(0, 10), end: issuedAt.slice(0, 10) },
    currency: 'USD',
    status: 'paid',
    lineItems: [
      { sku: 'vm-d4s', description: 'D4s v5', quantity: 1, unitPriceMinor: amount, amountMinor: amount },
    ],
    subtotalMinor: amount,
    taxMinor: 0,
    totalMinor: amount,
    version: 1,
    createdAt: issuedAt,
    updatedAt: issuedAt,
  };
}

function stubOf(record: BillingRecord): RecordDocument {
  return {
    id: record.id,
    customerId: record.customerId,
    tier: 'archived',
    summary: summaryOf(fullDocument(record)),
    sys: {},
    archive: {
      blobPath: `x/${record.customerId}/${record.id}/v1.json.gz`,
      sha256: '0'.repeat(64),
      size: 18_000,
      encoding: 'gzip',
      archivedAt: NOW.toISOString(),
    },
  };
}

function entryOf(record: BillingRecord): LedgerEntry {
  return {
    customerId: record.customerId,
    id: record.id,
    state: 'copied',
    version: 1,
    blobPath: `x/${record.customerId}/${record.id}/v1.json.gz`,
    sha256: '0'.repeat(64),
    size: 18_000,
    storedBytes: 2_400,
    sourceEtag: '"1"',
    summary: summaryOf(fullDocument(record)),
    sys: {},
    copiedAt: NOW.toISOString(),
    purgeAfter: new Date(NOW.getTime() + 3 * 86_400_000).toISOString(),
    attempts: 0,
  };
}

/** Records every call and what it answered. */
function recorded<T extends object>(port: T, name: string, calls: Call[]): T {
  return new Proxy(port, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const result: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
        calls.push({ port: name, method: String(property), args, result });
        return result;
      };
    },
  });
}

/** The modelled Cosmos charge of the calls, with the work that grows with the records scaled by `scale`. */
function modelledUnits(calls: readonly Call[], scale: number): number {
  let units = 0;
  for (const { port, method, args, result } of calls) {
    if (port === 'store' && method === 'countByTier') {
      const { hot, archived } = result as { hot: number; archived: number };
      units += estimateCountUnits(hot * scale) + estimateCountUnits(archived * scale);
    } else if (port === 'ledger' && method === 'counts') {
      const { copied, failed, parked } = result as { copied: number; failed: number; parked: number };
      // Three COUNT queries (copied and failed unparked, parked).
      units += [copied, failed, parked].reduce((sum, n) => sum + estimateCountUnits(n * scale), 0);
    } else if ((port === 'store' && method === 'scan') || (port === 'ledger' && method === 'query')) {
      const limit = (args[0] as { limit: number }).limit;
      const items = (result as { items: readonly unknown[]; next?: unknown }).items.length;
      const perItem = port === 'store' ? STUB_DOCUMENT_BYTES : 1_000;
      const full = items === limit && (result as { next?: unknown }).next !== undefined;
      // A page of a pass through everything: the pass has `scale` times as many pages at the reference size.
      if (full) units += estimateQueryUnits(items * perItem) * scale;
      else units += estimateQueryUnits(Math.min(limit, Math.ceil(items * scale)) * perItem);
    } else if (port === 'store' || port === 'ledger') {
      throw new Error(`ops-scale: no model for ${port}.${method}`);
    }
    // control (Blob) and archive (Blob listing: operations, not RU): no request units.
  }
  return units;
}

function summarizeCalls(calls: readonly Call[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { port, method } of calls) counts[`${port}.${method}`] = (counts[`${port}.${method}`] ?? 0) + 1;
  return counts;
}

function seconds(t0: number): string {
  return ((performance.now() - t0) / 1000).toFixed(1);
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
