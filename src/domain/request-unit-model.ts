// The request-unit model used wherever a store reports no real charge (SQLite, the emulators). It is a
// model, not a measurement: every figure built from it is labelled estimated, and real Cosmos charges
// (x-ms-request-charge) replace it wherever the service reports them.
//
// Source: Microsoft Learn, "Understand request unit consumption in Azure Cosmos DB"
// (learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption), the table of read and write
// charges by document size (session or eventual consistency); it agrees with "Optimize request cost in
// Azure Cosmos DB" (a 1 KB point read costs 1 RU, a 100 KB one 10 RU). Between the table's sizes the
// model interpolates linearly. So a point read costs about 1 RU per 10 KB past the first few KB (not 1 RU
// per KB), and a write about 0.4 RU per KB (not 5). The table's writes were measured under the default
// policy (every path indexed): an upper bound for this service's policies, which index 5 to 7 paths, so
// no per-term charge is added. Queries have no published table: a base charge plus the point-read
// curve's cost of the bytes they load; real query charges (and the SDK's query metrics) replace it.

/** [document KB, point read RU, write RU], from the table cited above. */
const PUBLISHED_CHARGES: ReadonlyArray<readonly [number, number, number]> = [
  [1, 1.0, 4.95],
  [2, 1.04, 6.29],
  [4, 1.14, 6.67],
  [8, 1.33, 7.04],
  [16, 1.67, 9.52],
  [32, 2.19, 11.23],
  [64, 4.76, 22.67],
  [128, 9.95, 48.19],
  [256, 20.28, 98.29],
  [512, 40.95, 184.57],
  [1024, 145.9, 625.0],
  [2048, 291.8, 1250.0],
];

export const RU_MODEL = {
  /** The cheapest point read (any document up to 1 KB, or a 404). */
  readMinimum: 1,
  /** The cheapest write (any document up to 1 KB). */
  writeMinimum: 4.95,
  /** A delete, as a write of a small document. */
  deleteBase: 4.95,
  /** A query's fixed part (plan, index lookups) before the bytes it loads. */
  queryBase: 2.5,
  /**
   * An index-served COUNT per index entry it matches. An assumption, not a published figure (there is no
   * table for aggregates): 1 RU per 500 entries. It only sizes what counting millions costs; real
   * charges come from x-ms-request-charge.
   */
  countPerIndexEntry: 0.002,
  source: 'learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption',
} as const;

/**
 * Terms the record store's indexing policy indexes per document (customerId, issuedAt, status,
 * invoiceNumber, tier, pinned, id): an upper bound for the published write charges' default policy.
 */
export const RECORD_INDEXED_TERMS = 7;
/** Terms the ledger's indexing policy indexes per entry (state, parked, purgeAfter, customerId, id). */
export const LEDGER_INDEXED_TERMS = 5;

/** Linear interpolation in the published table (column 1: read, 2: write); beyond 2 MB, extrapolated. */
function published(bytes: number, column: 1 | 2): number {
  const kb = Math.max(0, bytes) / 1024;
  const first = PUBLISHED_CHARGES[0]!;
  if (kb <= first[0]) return first[column];
  for (let i = 1; i < PUBLISHED_CHARGES.length; i++) {
    const low = PUBLISHED_CHARGES[i - 1]!;
    const high = PUBLISHED_CHARGES[i]!;
    if (kb <= high[0] || i === PUBLISHED_CHARGES.length - 1) {
      return low[column] + ((kb - low[0]) / (high[0] - low[0])) * (high[column] - low[column]);
    }
  }
  return first[column];
}

export function estimateReadUnits(bytes: number): number {
  return published(bytes, 1);
}

/**
 * A create or replace of a document of `bytes`. `indexedTerms` is kept for the callers' documentation of
 * their policy; the published charges already include the indexing of a default (all-paths) policy.
 */
export function estimateWriteUnits(bytes: number, _indexedTerms: number): number {
  return published(bytes, 2);
}

export function estimateDeleteUnits(_indexedTerms: number): number {
  return RU_MODEL.deleteBase;
}

/** An index-served `SELECT VALUE COUNT(1)` matching `entries` index entries (see countPerIndexEntry). */
export function estimateCountUnits(entries: number): number {
  return RU_MODEL.queryBase + Math.max(0, entries) * RU_MODEL.countPerIndexEntry;
}

/**
 * `bytesLoaded`: what the query engine reads to answer (the documents it loads, not only what it returns).
 * `partitionRequests`: the physical partitions the page went to; a query without a partition key goes to
 * every one, and each pays the fixed part (and loads up to a page of its own, counted in `bytesLoaded`).
 */
export function estimateQueryUnits(bytesLoaded: number, partitionRequests = 1): number {
  return (
    RU_MODEL.queryBase * Math.max(1, partitionRequests) +
    (bytesLoaded > 0 ? published(bytesLoaded, 1) - RU_MODEL.readMinimum : 0)
  );
}
