// The request-unit model used wherever a store reports no real charge (SQLite, the emulators), from
// Microsoft's published figures: a point read costs about 1 RU per KB; a write about 5 RU per KB
// without indexing, plus about 0.5 RU per indexed term; a query about 2.5 RU plus 1 RU per KB it
// loads. Every figure built from it is labelled estimated. Real Cosmos charges replace it.
export const RU_MODEL = {
  readPerKb: 1,
  writePerKb: 5,
  writeMinimum: 5,
  perIndexedTerm: 0.5,
  queryBase: 2.5,
  queryPerKb: 1,
  deleteBase: 5,
} as const;

/**
 * Terms the record store's indexing policy indexes per document (customerId, issuedAt, status,
 * invoiceNumber, tier, pinned, id).
 */
export const RECORD_INDEXED_TERMS = 7;
/** Terms the ledger's indexing policy indexes per entry (state, parked, purgeAfter, customerId, id). */
export const LEDGER_INDEXED_TERMS = 5;

export function estimateReadUnits(bytes: number): number {
  return Math.max(1, (RU_MODEL.readPerKb * bytes) / 1024);
}

export function estimateWriteUnits(bytes: number, indexedTerms: number): number {
  return (
    Math.max(RU_MODEL.writeMinimum, (RU_MODEL.writePerKb * bytes) / 1024) +
    RU_MODEL.perIndexedTerm * indexedTerms
  );
}

export function estimateDeleteUnits(indexedTerms: number): number {
  return RU_MODEL.deleteBase + RU_MODEL.perIndexedTerm * indexedTerms;
}

/** `bytesLoaded`: what the query engine reads to answer (the documents it loads, not only what it returns). */
export function estimateQueryUnits(bytesLoaded: number): number {
  return RU_MODEL.queryBase + (RU_MODEL.queryPerKb * bytesLoaded) / 1024;
}
