// One adapter's connection to a Cosmos DB container: the client and its agent, container setup, and how
// every operation runs (retries, errors mapped to AppError, abort, priority, request charges). Shared by
// the record store and the archive ledger so both behave alike under throttling, outages and shutdown.
import { Agent } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type Container,
  CosmosClient,
  type CosmosClientOptions,
  type Database,
  type FeedOptions,
  type FeedResponse,
  type IndexingPolicy,
  OperationType,
  PriorityLevel,
  type QueryMetrics,
  type RequestOptions,
  type SqlParameter,
  type SqlQuerySpec,
} from '@azure/cosmos';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import {
  estimateQueryUnits,
  estimateReadUnits,
  estimateWriteUnits,
  RECORD_INDEXED_TERMS,
  RU_MODEL,
} from '../../domain/request-unit-model.ts';
import { AppError, isAppError } from '../../domain/errors.ts';
import type { RecordKey } from '../../domain/record-rules.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetry } from '../../domain/retry-policy.ts';
import type { OperationOptions, QueryPageMetrics } from '../../ports/operation-options.ts';
import { isAmbiguousWriteFailure, statusOf, toAppError } from './cosmos-error-mapping.ts';

export interface ThrottleRetryOptions {
  /** Retries of a 429 inside the SDK, honouring the service's retry-after. */
  readonly maxRetries: number;
  /** Total time the SDK may spend waiting on 429s for one request. */
  readonly maxWaitSeconds: number;
}

// One layer owns throttling: the SDK. It retries the one throttled request in place (a query's page
// too, so a query resumes where it stood), honouring x-ms-retry-after-ms, within this budget; past it
// THROTTLED surfaces with the service's retry-after and the adapter's own retry passes it on untouched,
// so an API caller gets 429 with Retry-After within seconds (at most 4 requests and ~5 s of waiting,
// where the two stacked layers made up to 16 requests and ~55 s), and the archiver backs off.
export const DEFAULT_THROTTLE_RETRY: ThrottleRetryOptions = { maxRetries: 3, maxWaitSeconds: 5 };
/** One request's deadline; the SDK default (60 s) is longer than a Functions HTTP call should wait. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** How to reach the account; each adapter adds the container it works on. */
export interface CosmosConnectionOptions {
  readonly endpoint: string;
  readonly databaseId: string;
  /** Account key; without it, Entra ID: `credential`, else DefaultAzureCredential (managed identity). */
  readonly key?: string;
  readonly credential?: TokenCredential;
  /** Only for the local emulator's self-signed certificate. */
  readonly allowInsecureTls: boolean;
  readonly requestTimeoutMs?: number;
  readonly throttleRetry?: ThrottleRetryOptions;
  /** Retries of retryable AppErrors but THROTTLED (the SDK's) around each operation: 5xx, timeouts, resets. */
  readonly retryPolicy?: RetryPolicy;
  /** How retries wait; tests pass one that records the delays instead of sleeping. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Report modelled request charges instead of the service's. Defaults to `allowInsecureTls`: only
   * the emulator uses that, and it answers 1 RU for everything.
   */
  readonly estimateRequestCharges?: boolean;
}

/** The container an adapter needs, and how it names itself in errors. */
export interface ContainerSpec {
  /** "record store", "archive ledger": for messages only. */
  readonly adapter: string;
  readonly containerId: string;
  readonly partitionKeyPath: string;
  /** Applied only when the container is created; an existing container keeps its own. */
  readonly indexingPolicy: IndexingPolicy;
  /**
   * Container TTL (-1: on, nothing expires unless an item carries its own ttl). Set at creation, and on an
   * existing container that has none where the credentials may (a key; Entra ID data roles may not:
   * infrastructure-as-code sets it there).
   */
  readonly defaultTtl?: number;
}

export { RU_MODEL } from '../../domain/request-unit-model.ts';

// Estimates from the one documented model (src/domain/request-unit-model.ts), by serialized size.
export function readUnits(raw: unknown): number {
  return estimateReadUnits(bytesOf(raw));
}

export function writeUnits(body: unknown, indexedTerms: number = RECORD_INDEXED_TERMS): number {
  return estimateWriteUnits(bytesOf(body), indexedTerms);
}

/** A page's modelled charge: what it loaded (the service's figure where it gave one) on each partition it reached. */
export function queryUnits(rows: readonly unknown[], page?: QueryPageMetrics): number {
  return estimateQueryUnits(page?.service?.retrievedBytes ?? bytesOf(rows), page?.partitionRequests ?? 1);
}

/**
 * How far a page fanned out (the SDK's own record of the requests it sent for it) and, where the service
 * reports them and `serviceMetrics` trusts them, its query metrics summed over partitions.
 */
export function queryPageMetrics(page: FeedResponse<unknown>, serviceMetrics: boolean): QueryPageMetrics {
  const requests = page.diagnostics?.clientSideRequestStatistics.gatewayStatistics ?? [];
  const partitionRequests = requests.filter(
    (request) => request.operationType === OperationType.Query,
  ).length;
  // Typed as the header's string, but the SDK has parsed it by then: QueryMetrics by partition key range id.
  const byPartition = Object.values(
    (page.queryMetrics ?? {}) as unknown as Readonly<Record<string, QueryMetrics>>,
  );
  if (!serviceMetrics || byPartition.length === 0) return { partitionRequests };
  const sum = (field: (metrics: QueryMetrics) => number): number =>
    byPartition.reduce((total, metrics) => total + field(metrics), 0);
  return {
    partitionRequests,
    service: {
      partitions: byPartition.length,
      retrievedDocuments: sum((metrics) => metrics.retrievedDocumentCount),
      retrievedBytes: sum((metrics) => metrics.retrievedDocumentSize),
      outputDocuments: sum((metrics) => metrics.outputDocumentCount),
      outputBytes: sum((metrics) => metrics.outputDocumentSize),
    },
  };
}

function bytesOf(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
}

/** Per-operation state, shared by its attempts. */
export interface AttemptState {
  readonly signal: AbortSignal;
  readonly options: OperationOptions | undefined;
  /** Set after a failure that may have been applied: the retry can meet its own earlier success. */
  ambiguous: boolean;
  /** Queries under way, by query: the rows read so far and where to continue, so a retry resumes. */
  readonly queries: Map<string, QueryProgress>;
}

/** How far a multi-page query got: its rows and the continuation of the next page. */
interface QueryProgress {
  readonly rows: unknown[];
  continuation: string | undefined;
}

export class CosmosConnection {
  readonly database: Database;
  readonly container: Container;
  readonly #client: CosmosClient;
  readonly #agent: Agent | undefined;
  readonly #adapter: string;
  readonly #retryPolicy: RetryPolicy;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #estimateCharges: boolean;
  /** Aborts whatever is in flight when the adapter closes, so shutdown never waits on a hung request. */
  readonly #closing = new AbortController();

  /** False for a caller's ready container: its client is the caller's to dispose. */
  readonly #ownsClient: boolean;

  private constructor(
    client: CosmosClient,
    agent: Agent | undefined,
    options: Pick<
      CosmosConnectionOptions,
      'databaseId' | 'allowInsecureTls' | 'retryPolicy' | 'sleep' | 'estimateRequestCharges'
    >,
    spec: ContainerSpec,
    ownsClient = true,
  ) {
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#agent = agent;
    this.#adapter = spec.adapter;
    this.database = client.database(options.databaseId);
    this.container = this.database.container(spec.containerId);
    this.#retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.#sleep =
      options.sleep ?? ((ms, signal) => delay(ms, undefined, signal === undefined ? {} : { signal }));
    this.#estimateCharges = options.estimateRequestCharges ?? options.allowInsecureTls;
  }

  /**
   * Connects, creating the database and container when absent, and checks the partition key;
   * UNAVAILABLE when Cosmos DB cannot be reached or the container is partitioned otherwise.
   */
  static async connect(options: CosmosConnectionOptions, spec: ContainerSpec): Promise<CosmosConnection> {
    const { client, agent } = createCosmosClient(options);
    const connection = new CosmosConnection(client, agent, options, spec);
    try {
      await connection.call(`open container ${options.databaseId}/${spec.containerId}`, undefined, (state) =>
        connection.#ensureContainer(options.databaseId, spec, state.signal),
      );
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  /**
   * Works on a container the caller already holds (an existing service's own client): nothing is
   * created, the partition key is checked, and closing leaves the caller's client open.
   */
  static async fromContainer(
    container: Container,
    spec: Omit<ContainerSpec, 'containerId'>,
    options: Pick<CosmosConnectionOptions, 'retryPolicy' | 'sleep' | 'estimateRequestCharges'> = {},
  ): Promise<CosmosConnection> {
    const connection = new CosmosConnection(
      container.database.client,
      undefined,
      { ...options, databaseId: container.database.id, allowInsecureTls: false },
      { ...spec, containerId: container.id },
      false,
    );
    await connection.call(
      `read container ${container.database.id}/${container.id}`,
      undefined,
      async (state) => {
        const { resource } = await connection.container.read({ abortSignal: state.signal });
        checkPartitionKey(
          container.database.id,
          { ...spec, containerId: container.id },
          resource?.partitionKey?.paths,
        );
      },
    );
    return connection;
  }

  /** Runs one operation with retries of retryable failures; whatever leaves is an AppError. */
  async call<T>(
    what: string,
    options: OperationOptions | undefined,
    work: (state: AttemptState) => Promise<T>,
  ): Promise<T> {
    const state: AttemptState = {
      signal: this.signal(options),
      options,
      ambiguous: false,
      queries: new Map(),
    };
    try {
      this.ensureOpen();
      return await withRetry(
        async () => {
          try {
            return await work(state);
          } catch (error) {
            const mapped = toAppError(error, what);
            if (isAmbiguousWriteFailure(mapped)) state.ambiguous = true;
            throw mapped;
          }
        },
        {
          policy: this.#retryPolicy,
          sleep: this.#sleep,
          abortSignal: state.signal,
          retriedBelow: (error) => isAppError(error) && error.code === 'THROTTLED',
        },
      );
    } catch (error) {
      throw toAppError(error, what);
    }
  }

  requestOptions(state: AttemptState): RequestOptions {
    const priority = state.options?.priority;
    // Priority-based execution sheds low-priority requests first under load (where the account enables it).
    return {
      abortSignal: state.signal,
      ...(priority !== undefined
        ? { priorityLevel: priority === 'low' ? PriorityLevel.Low : PriorityLevel.High }
        : {}),
    };
  }

  writeOptions(state: AttemptState, condition: { readonly ifMatch?: string } = {}): RequestOptions {
    return {
      ...this.requestOptions(state),
      ...(condition.ifMatch !== undefined
        ? { accessCondition: { type: 'IfMatch', condition: condition.ifMatch } }
        : {}),
    };
  }

  feedOptions(state: AttemptState, maxItemCount?: number): FeedOptions {
    return { ...this.requestOptions(state), ...(maxItemCount !== undefined ? { maxItemCount } : {}) };
  }

  /**
   * Runs a query to its last row, page by page, and reports each page's charge; `maxItemCount` sizes the
   * pages on the wire. Progress is kept in the operation's state: when a page fails and the operation is
   * retried, the query continues from the last page's continuation instead of paying again for the
   * pages it already read.
   */
  async queryAll<T>(
    state: AttemptState,
    spec: SqlQuerySpec,
    options: { readonly maxItemCount?: number; readonly partitionKey?: string } = {},
  ): Promise<T[]> {
    const key = JSON.stringify([spec, options.partitionKey ?? null]);
    let progress = state.queries.get(key);
    // Rows without a continuation cannot be resumed: the query starts over rather than repeat them.
    if (progress === undefined || (progress.continuation === undefined && progress.rows.length > 0)) {
      progress = { rows: [], continuation: undefined };
      state.queries.set(key, progress);
    }
    const reportPage = state.options?.onQueryPage;
    const iterator = this.container.items.query<T>(spec, {
      ...this.feedOptions(state, options.maxItemCount),
      ...(options.partitionKey !== undefined ? { partitionKey: options.partitionKey } : {}),
      ...(progress.continuation !== undefined ? { continuationToken: progress.continuation } : {}),
      // Asked for only when someone listens: the metrics lengthen every response's headers.
      ...(reportPage !== undefined ? { populateQueryMetrics: true } : {}),
    });
    do {
      const page = await iterator.fetchNext();
      const rows = page.resources;
      progress.rows.push(...rows);
      progress.continuation = page.continuationToken === '' ? undefined : page.continuationToken;
      // The emulator answers a fixed placeholder for the service's metrics: only a real account's count.
      const metrics = queryPageMetrics(page, !this.#estimateCharges);
      reportPage?.(metrics);
      this.charged(state, page.requestCharge, () => queryUnits(rows, metrics));
    } while (iterator.hasMoreResults());
    state.queries.delete(key);
    return progress.rows as T[];
  }

  /** An index-served `SELECT VALUE COUNT(1)` across partitions (the emulator has no GROUP BY). */
  async count(state: AttemptState, where: string, parameters: SqlParameter[]): Promise<number> {
    const response = await this.container.items
      .query<number>(
        { query: `SELECT VALUE COUNT(1) FROM c WHERE ${where}`, parameters },
        this.feedOptions(state),
      )
      .fetchAll();
    this.charged(state, response.requestCharge, () => RU_MODEL.queryBase);
    // The SDK may answer one partial count per partition range: the total is their sum.
    return response.resources.reduce((sum, value) => sum + value, 0);
  }

  /** Tells the caller what a request cost: the service's figure, or the model's where there is none. */
  charged(state: AttemptState, serviceCharge: number, estimate: () => number): void {
    const report = state.options?.onRequestCharge;
    if (report === undefined) return;
    if (this.#estimateCharges) report(estimate(), true);
    else report(serviceCharge, false);
  }

  ensureOpen(): void {
    if (this.#closing.signal.aborted) {
      throw new AppError('UNAVAILABLE', `The Cosmos DB ${this.#adapter} is closed`, { retryable: false });
    }
  }

  /** The caller's signal joined with the one that fires on close. */
  signal(options: OperationOptions | undefined): AbortSignal {
    return options?.abortSignal === undefined
      ? this.#closing.signal
      : AbortSignal.any([options.abortSignal, this.#closing.signal]);
  }

  close(): Promise<void> {
    if (!this.#closing.signal.aborted) {
      this.#closing.abort();
      if (this.#ownsClient) this.#client.dispose();
      this.#agent?.destroy();
    }
    return Promise.resolve();
  }

  async #ensureContainer(databaseId: string, spec: ContainerSpec, abortSignal: AbortSignal): Promise<void> {
    let partitionKeyPaths: readonly string[] | undefined;
    try {
      await this.#client.databases.createIfNotExists({ id: databaseId }, { abortSignal });
      const { resource } = await this.database.containers.createIfNotExists(
        {
          id: spec.containerId,
          partitionKey: { paths: [spec.partitionKeyPath] },
          indexingPolicy: spec.indexingPolicy,
          ...(spec.defaultTtl !== undefined ? { defaultTtl: spec.defaultTtl } : {}),
        },
        { abortSignal },
      );
      partitionKeyPaths = resource?.partitionKey?.paths;
      // A container made before it had a TTL: without one, the service ignores every item's own ttl.
      if (spec.defaultTtl !== undefined && resource !== undefined && resource.defaultTtl === undefined)
        await this.container.replace({ ...resource, defaultTtl: spec.defaultTtl }, { abortSignal });
    } catch (error) {
      // Entra ID data-plane roles may not create databases or containers (infrastructure-as-code does);
      // an existing container is all the adapter needs.
      if (statusOf(error) !== 403) throw error;
      const { resource } = await this.container.read({ abortSignal });
      partitionKeyPaths = resource?.partitionKey?.paths;
    }
    checkPartitionKey(databaseId, spec, partitionKeyPaths);
  }
}

/** A client as every adapter makes it: the account's key or Entra ID, bounded throttling retries, a deadline. */
export function createCosmosClient(options: CosmosConnectionOptions): {
  client: CosmosClient;
  agent: Agent | undefined;
} {
  // Only the emulator's self-signed certificate needs this; keep-alive as the SDK's own agent does.
  const agent = options.allowInsecureTls
    ? new Agent({ keepAlive: true, rejectUnauthorized: false })
    : undefined;
  const throttle = options.throttleRetry ?? DEFAULT_THROTTLE_RETRY;
  const clientOptions: CosmosClientOptions = {
    endpoint: options.endpoint,
    ...(options.key !== undefined
      ? { key: options.key }
      : { aadCredentials: options.credential ?? new DefaultAzureCredential() }),
    ...(agent !== undefined ? { agent } : {}),
    connectionPolicy: {
      requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      retryOptions: {
        maxRetryAttemptCount: throttle.maxRetries,
        maxWaitTimeInSeconds: throttle.maxWaitSeconds,
      },
    },
    userAgentSuffix: 'billing-archive',
  };
  return { client: new CosmosClient(clientOptions), agent };
}

/** Point reads and conditional writes address items by their partition key: any other would misroute them. */
function checkPartitionKey(
  databaseId: string,
  spec: ContainerSpec,
  partitionKeyPaths: readonly string[] | undefined,
): void {
  if (partitionKeyPaths?.length !== 1 || partitionKeyPaths[0] !== spec.partitionKeyPath) {
    throw new AppError(
      'UNAVAILABLE',
      `Container ${databaseId}/${spec.containerId} is partitioned by ${JSON.stringify(partitionKeyPaths)}, not ${spec.partitionKeyPath}`,
      { retryable: false },
    );
  }
}

/**
 * The keyset condition of ascending paging by (`leading`, customerId, id): strictly after `position`.
 * Written flat (an OR of ANDs): the emulator's parser backtracks on nested parentheses (~0.5 s a query).
 */
export function afterKeyset(
  leading: string,
  position: { readonly leading: string | number; readonly customerId: string; readonly id: string },
  partitionKey = 'customerId',
): { readonly clause: string; readonly parameters: SqlParameter[] } {
  const pk = partitionKey;
  return {
    clause:
      `(c.${leading} > @afterLeading` +
      ` OR (c.${leading} = @afterLeading AND c.${pk} > @afterCustomerId)` +
      ` OR (c.${leading} = @afterLeading AND c.${pk} = @afterCustomerId AND c.id > @afterId))`,
    parameters: [
      { name: '@afterLeading', value: position.leading },
      { name: '@afterCustomerId', value: position.customerId },
      { name: '@afterId', value: position.id },
    ],
  };
}

/**
 * One page from the rows of a `TOP limit + 1` query: the extra row only says that a next page exists,
 * which then starts after the page's last item.
 */
export function pageOf<Row, Item, Position>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  positionOf: (item: Item) => Position,
): { readonly items: Item[]; readonly next: Position | undefined } {
  const items = rows.slice(0, limit).map(toItem);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? positionOf(last) : undefined };
}

/** The etag Cosmos DB answered with; an answer without one cannot serve a conditional write. */
export function etagOf(etag: string | undefined, key: RecordKey): string {
  if (etag === undefined || etag === '') {
    throw new AppError('UNAVAILABLE', `Cosmos DB answered for ${key.customerId}/${key.id} without an etag`, {
      retryable: false,
    });
  }
  return etag;
}

/** What Cosmos DB stores for a body: JSON drops undefined properties. */
export function jsonCopy(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
