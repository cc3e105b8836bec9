/** Every async port call takes a trailing options object, as the Azure SDK's do. */
export interface OperationOptions {
  readonly abortSignal?: AbortSignal;
  /**
   * Told the request charge of each call (Cosmos RUs). `estimated` is true when the store does not
   * report real charges (SQLite, the emulators) and the figure comes from the documented RU model.
   */
  readonly onRequestCharge?: (requestUnits: number, estimated: boolean) => void;
  /** Told, for each page of a query, how far it fanned out and what the service says it loaded. */
  readonly onQueryPage?: (page: QueryPageMetrics) => void;
  /** Background work (the archiver) asks for low priority where the store supports it. */
  readonly priority?: 'low' | 'high';
}

/**
 * One query page as a partitioned store served it. A query without a partition key goes to every
 * physical partition, so its charge grows with their number: these say by how much.
 */
export interface QueryPageMetrics {
  /** Requests the page sent to the store's partitions (the client's own count): 1 within one partition. */
  readonly partitionRequests: number;
  /**
   * The service's query metrics summed over the partitions that answered, where it reports them (a real
   * Cosmos DB account); absent otherwise (the emulator answers a fixed placeholder, which is ignored).
   */
  readonly service?: {
    /** Partitions that reported metrics for the page. */
    readonly partitions: number;
    /** Documents the query engine loaded to answer, and their bytes: what the charge follows. */
    readonly retrievedDocuments: number;
    readonly retrievedBytes: number;
    /** Documents (projections) it returned, and their bytes. */
    readonly outputDocuments: number;
    readonly outputBytes: number;
  };
}
