// Everything of one customer, both tiers, as NDJSON: one record a line, the same bytes a GET returns,
// ascending issuedAt then id. The hot documents and the stubs are two ordered scans merged page by
// page, and each record is read through the normal read path (archived ones with their integrity
// checks, filling no cache), so memory stays bounded by two pages whatever the customer's size. An
// archived blob written in the current schema already holds the bytes a GET serves: they are written as
// they are once their hash is checked, unparsed, which spares the process most of its garbage on large
// records. The scans are not one snapshot: a record that moves between tiers in the instant between two
// page reads may be seen twice (written once) or, rarely, not at all; run the export when no archival or
// rehydration is running for the customer to rule that out.
import { serializeRecord } from '../domain/billing-record.ts';
import { hasCode } from '../domain/errors.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { ArchivedReadOptions } from './archived-record-reader.ts';
import type { RecordStore, ScanItem, ScanPosition } from '../ports/record-store.ts';
import type { RecordJsonRead } from './record-service.ts';

const NEWLINE = Buffer.from('\n');

/** One record's line as the chunks to write: the JSON and its newline are not copied into one buffer. */
export type ExportLine = readonly Uint8Array[];

export interface CustomerExportDependencies {
  readonly store: RecordStore;
  /** A bulk read (RecordService.getJson): filling no cache, the archived JSON as bytes where it can. */
  get(key: RecordKey, options?: ArchivedReadOptions): Promise<RecordJsonRead>;
  /** Documents per scan page of each tier. */
  readonly pageSize?: number;
}

/** The customer's records as NDJSON lines; a record deleted while the export runs is left out. */
export async function* exportCustomer(
  dependencies: CustomerExportDependencies,
  customerId: string,
  options: OperationOptions = {},
): AsyncGenerator<ExportLine> {
  const hot = scanTier(dependencies, customerId, 'hot', options);
  const archived = scanTier(dependencies, customerId, 'archived', options);
  let nextHot = await hot.next();
  let nextArchived = await archived.next();
  let last: ScanItem | undefined;
  while (nextHot.done !== true || nextArchived.done !== true) {
    options.abortSignal?.throwIfAborted();
    const takeHot =
      nextArchived.done === true || (nextHot.done !== true && before(nextHot.value, nextArchived.value));
    const item = takeHot ? nextHot.value : nextArchived.value;
    if (item === undefined) break;
    if (takeHot) nextHot = await hot.next();
    else nextArchived = await archived.next();
    // A record archived or rehydrated between the two scans' pages can show up in both: once is enough.
    if (last !== undefined && last.id === item.id && last.issuedAt === item.issuedAt) continue;
    last = item;
    try {
      // Bulk: each record is read once, so caching it would only evict the working set and grow the process.
      // Low priority, as the scans: background work for the stores that rank calls, and for the file
      // archive a read that yields the event loop to the API's reads between records.
      const read = await dependencies.get(item, { priority: 'low', ...options, bulk: true });
      yield read.json !== undefined
        ? [read.json, NEWLINE]
        : [Buffer.from(`${serializeRecord(read.record)}\n`)];
    } catch (error) {
      if (!hasCode(error, 'NOT_FOUND')) throw error;
    }
  }
}

/** Scan order within one customer: issuedAt, then id (both tiers use the same keyset order). */
function before(a: ScanItem, b: ScanItem): boolean {
  return a.issuedAt < b.issuedAt || (a.issuedAt === b.issuedAt && a.id < b.id);
}

async function* scanTier(
  dependencies: CustomerExportDependencies,
  customerId: string,
  tier: 'hot' | 'archived',
  options: OperationOptions,
): AsyncGenerator<ScanItem, undefined> {
  let after: ScanPosition | undefined;
  do {
    const page = await dependencies.store.scan(
      { tier, customerId, limit: dependencies.pageSize ?? 100, ...(after !== undefined ? { after } : {}) },
      { priority: 'low', ...options },
    );
    yield* page.items;
    after = page.next;
  } while (after !== undefined);
  return undefined;
}
