// The production hot store: one Cosmos DB (NoSQL) container, partition key /customerId, documents in the
// shared persisted layout. Same etag, conditional-write and paging behaviour as the SQLite adapter.
import { isDeepStrictEqual } from 'node:util';
import pLimit from 'p-limit';
import type {
  Container,
  IndexingPolicy,
  ItemDefinition,
  OfferDefinition,
  SqlParameter,
  SqlQuerySpec,
} from '@azure/cosmos';
import {
  estimateDeleteUnits,
  estimateReadUnits,
  RECORD_INDEXED_TERMS,
} from '../../domain/request-unit-model.ts';
import { AppError } from '../../domain/errors.ts';
import {
  fromPersisted,
  summaryOf,
  type PersistedDocument,
  type PersistedSys,
  type RecordDocument,
  type StoredDocument,
  toPersisted,
  upcast,
} from '../../domain/record-document.ts';
import type { RecordSummary } from '../../domain/billing-record.ts';
import { BILLING_PROFILE } from '../../domain/billing-profile.ts';
import {
  ageInstantOf,
  ageValueOf,
  isBillingProfile,
  propertyOf,
  type RecordProfile,
} from '../../domain/record-profile.ts';
import type { RecordKey } from '../../domain/record-rules.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import {
  type ContainerThroughput,
  type CreateManyResult,
  type ListRequest,
  type ListItem,
  type ListResult,
  MAX_DOCUMENT_BYTES,
  type RecordStore,
  type ScanItem,
  type ScanPage,
  type ScanRequest,
  type TierCounts,
  type WriteCondition,
} from '../../ports/record-store.ts';
import {
  afterKeyset,
  type AttemptState,
  type CosmosConnectionOptions,
  CosmosConnection,
  etagOf,
  jsonCopy,
  pageOf,
  readUnits,
  writeUnits,
} from './cosmos-connection.ts';
import { statusOf, toAppError } from './cosmos-error-mapping.ts';
import cosmosContainers from './cosmos-containers.json' with { type: 'json' };

/** Creates in flight in one createMany: enough to hide the round trips, few enough not to be throttled. */
const CREATE_MANY_CONCURRENCY = 16;
export const PARTITION_KEY_PATH = cosmosContainers.records.partitionKeyPath;

/** The id (and partition key) readiness reads: never a customer's, so the read answers 404. */
export const READINESS_PROBE_ID = '__readiness-probe__';

/**
 * Index only what queries filter or sort on; lineItems and metadata (most of a 300 KB record) are
 * never indexed, which keeps write RUs proportional to the few indexed paths. id and _ts are always
 * indexed by Cosmos DB. Cosmos DB refuses a multi-property ORDER BY without a matching composite
 * index: two serve list() (with and without an invoice number), one scan().
 * The ORDER BY of every query leads with its equality filters, in the order of a composite index. The
 * policy lives in cosmos-containers.json, which infra/modules/cosmos.bicep loads too: one source for code and IaC.
 * Composite indexes: (customerId, issuedAt DESC, id DESC) serves list() (the partition key leads as an
 * equality filter); (issuedAt DESC, id DESC) is kept for containers created before it; (invoiceNumber,
 * issuedAt DESC, id DESC) serves list() by invoice number; (sys/tier, issuedAt, customerId, id) serves scan().
 */
export const RECORDS_INDEXING_POLICY: IndexingPolicy = cosmosContainers.records
  .indexingPolicy as IndexingPolicy;

const RECORD_STORE_SPEC = {
  adapter: 'record store',
  partitionKeyPath: PARTITION_KEY_PATH,
  indexingPolicy: RECORDS_INDEXING_POLICY,
} as const;

export interface CosmosRecordStoreOptions extends CosmosConnectionOptions {
  readonly containerId: string;
  /** What the container's documents are; the billing record when absent. */
  readonly profile?: RecordProfile;
}

/** The spec of a profile's container: its partition key (the billing profile's is cosmos-containers.json's). */
function storeSpec(profile: RecordProfile): typeof RECORD_STORE_SPEC {
  return { ...RECORD_STORE_SPEC, partitionKeyPath: profile.partitionKeyPath };
}

/** Cosmos DB's system properties: never part of the persisted layout. */
const SYSTEM_PROPERTIES = ['_rid', '_self', '_etag', '_attachments', '_ts'] as const;

type RawItem = ItemDefinition & { _etag?: string };

/** What scan() projects: never the record body. */
interface ScanRow {
  readonly customerId: string;
  readonly id: string;
  readonly issuedAt: string;
  readonly updatedAt: string;
  readonly version: number;
  readonly _etag: string;
  readonly _ts: number;
  readonly sys: PersistedSys;
}

export class CosmosRecordStore implements RecordStore {
  readonly #connection: CosmosConnection;
  readonly #container: Container;
  readonly #profile: RecordProfile;

  private constructor(connection: CosmosConnection, profile: RecordProfile) {
    this.#connection = connection;
    this.#container = connection.container;
    this.#profile = profile;
  }

  /** Connects, creating the database and container when absent; UNAVAILABLE when Cosmos DB cannot be reached. */
  static async connect(options: CosmosRecordStoreOptions): Promise<CosmosRecordStore> {
    const profile = options.profile ?? BILLING_PROFILE;
    const connection = await CosmosConnection.connect(options, {
      ...storeSpec(profile),
      containerId: options.containerId,
    });
    return new CosmosRecordStore(connection, profile);
  }

  /** Over a container the caller already holds; closing leaves its client open. */
  static async fromContainer(
    container: Container,
    profile: RecordProfile = BILLING_PROFILE,
  ): Promise<CosmosRecordStore> {
    return new CosmosRecordStore(
      await CosmosConnection.fromContainer(container, storeSpec(profile)),
      profile,
    );
  }

  get(key: RecordKey, options?: OperationOptions): Promise<StoredDocument | undefined> {
    return this.#connection.call(`read ${key.customerId}/${key.id}`, options, async (state) => {
      const raw = await this.#readRaw(key, state);
      return raw === undefined ? undefined : toStored(raw, this.#profile);
    });
  }

  async create(document: RecordDocument, options?: OperationOptions): Promise<StoredDocument> {
    const body = persist(document);
    return await this.#connection.call(
      `create ${document.customerId}/${document.id}`,
      options,
      async (state) => {
        try {
          const response = await this.#container.items.create(body, this.#connection.writeOptions(state));
          this.#connection.charged(state, response.requestCharge, () => writeUnits(body));
          return { document, etag: etagOf(response.etag, document) };
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          const own = state.ambiguous ? await this.#ownEarlierWrite(document, body, state) : undefined;
          if (own !== undefined) return own;
          throw new AppError('ALREADY_EXISTS', `Record ${document.customerId}/${document.id} already exists`);
        }
      },
    );
  }

  async createMany(
    documents: readonly RecordDocument[],
    options?: OperationOptions,
  ): Promise<CreateManyResult> {
    // Cosmos has no multi-partition transaction: concurrent creates hide the round trips instead.
    const limit = pLimit(CREATE_MANY_CONCURRENCY);
    const outcomes = await Promise.all(
      documents.map((document) =>
        limit(() =>
          this.create(document, options).then(
            () => true,
            (error: unknown) => {
              if (error instanceof AppError && error.code === 'ALREADY_EXISTS') return false;
              throw error;
            },
          ),
        ),
      ),
    );
    const created = outcomes.filter(Boolean).length;
    return { created, existing: documents.length - created };
  }

  async replace(
    document: RecordDocument,
    condition: WriteCondition,
    options?: OperationOptions,
  ): Promise<StoredDocument> {
    const body = persist(document);
    return await this.#connection.call(
      `replace ${document.customerId}/${document.id}`,
      options,
      async (state) => {
        try {
          const response = await this.#item(document).replace(
            body,
            this.#connection.writeOptions(state, condition),
          );
          this.#connection.charged(state, response.requestCharge, () => writeUnits(body));
          return { document, etag: etagOf(response.etag, document) };
        } catch (error) {
          const status = statusOf(error);
          if (status === 404) throw notFound(document);
          if (status !== 412) throw error;
          const own = state.ambiguous ? await this.#ownEarlierWrite(document, body, state) : undefined;
          if (own !== undefined) return own;
          throw stale(document);
        }
      },
    );
  }

  delete(key: RecordKey, condition: WriteCondition, options?: OperationOptions): Promise<void> {
    return this.#connection.call(`delete ${key.customerId}/${key.id}`, options, async (state) => {
      try {
        const response = await this.#item(key).delete(this.#connection.writeOptions(state, condition));
        this.#connection.charged(state, response.requestCharge, () =>
          estimateDeleteUnits(RECORD_INDEXED_TERMS),
        );
      } catch (error) {
        const status = statusOf(error);
        // After an attempt whose outcome was lost, a 404 is that attempt having deleted it.
        if (status === 404 && state.ambiguous) return;
        if (status === 404) throw notFound(key);
        if (status === 412) throw stale(key);
        throw error;
      }
    });
  }

  list(request: ListRequest, options?: OperationOptions): Promise<ListResult> {
    return this.#connection.call(`list ${request.customerId}`, options, async (state) => {
      if (!isBillingProfile(this.#profile)) return this.#ownerList(request, state);
      const resources = await this.#connection.queryAll<Record<string, unknown>>(state, listQuery(request), {
        maxItemCount: request.limit + 1,
        partitionKey: request.customerId,
      });
      return pageOf(
        resources,
        request.limit,
        ({ tier, ...fields }): ListItem => {
          // The projection is a document without lineItems and metadata: the same upcasting reads it.
          const { schemaVersion: _s, sys: _sys, ...summary } = upcast({ ...fields, sys: { tier } });
          return {
            summary: summary as unknown as RecordSummary,
            tier: tier === 'archived' ? 'archived' : 'hot',
          };
        },
        ({ summary }) => ({ issuedAt: summary.issuedAt, id: summary.id }),
      );
    });
  }

  scan(request: ScanRequest, options?: OperationOptions): Promise<ScanPage> {
    return this.#connection.call(`scan ${request.tier} documents`, options, async (state) => {
      const f = scanFields(this.#profile);
      const where = [f.tier(request.tier)];
      const parameters: SqlParameter[] = [
        { name: '@tier', value: request.tier },
        { name: '@n', value: request.limit + 1 },
      ];
      if (request.issuedFrom !== undefined) {
        where.push(`c.${f.age} >= @issuedFrom`);
        parameters.push({ name: '@issuedFrom', value: f.ageValue(request.issuedFrom) });
      }
      if (request.issuedBefore !== undefined) {
        where.push(`c.${f.age} < @issuedBefore`);
        parameters.push({ name: '@issuedBefore', value: f.ageValue(request.issuedBefore) });
      }
      if (request.modifiedSinceMs !== undefined) {
        // _ts has second precision; rounding down may return a document written up to 1 s early, never miss one.
        where.push('c._ts >= @modifiedSince');
        parameters.push({ name: '@modifiedSince', value: Math.floor(request.modifiedSinceMs / 1000) });
      }
      if (request.customerId !== undefined) {
        where.push(`c.${f.pk} = @customerId`);
        parameters.push({ name: '@customerId', value: request.customerId });
      }
      if (request.after !== undefined) {
        const { issuedAt, customerId, id } = request.after;
        const keyset = afterKeyset(f.age, { leading: f.ageValue(issuedAt), customerId, id }, f.pk);
        where.push(keyset.clause);
        parameters.push(...keyset.parameters);
      }
      // A projection: a query is charged for every byte it loads, and scans never need record bodies.
      const query =
        `SELECT TOP @n ${f.projection}, c._etag, c._ts, c.sys FROM c ` +
        `WHERE ${where.join(' AND ')} ORDER BY ${f.orderBy}`;
      const rows = await this.#connection.queryAll<ScanRow>(
        state,
        { query, parameters },
        {
          maxItemCount: request.limit + 1,
          ...(request.customerId !== undefined ? { partitionKey: request.customerId } : {}),
        },
      );
      return pageOf(
        rows,
        request.limit,
        (row): ScanItem => f.item(row),
        (last) => ({ issuedAt: last.issuedAt, customerId: last.customerId, id: last.id }),
      );
    });
  }

  /** Two index-served COUNT queries across partitions. Cosmos DB cannot tell bytes per tier cheaply. */
  countByTier(options?: OperationOptions): Promise<TierCounts> {
    return this.#connection.call('count documents by tier', options, async (state) => {
      const count = (tier: 'hot' | 'archived'): Promise<number> =>
        this.#connection.count(state, scanFields(this.#profile).tier(tier), [{ name: '@tier', value: tier }]);
      const [hot, archived] = await Promise.all([count('hot'), count('archived')]);
      return { hot, archived };
    });
  }

  /**
   * A point read of an id that never exists (answered 404, about 1 RU): proves the account answers and
   * this identity may read items. Not a database read: metadata requests have a separate, low rate
   * limit that many instances probing readiness would exhaust.
   */
  async ping(options?: OperationOptions): Promise<void> {
    const signal = this.#connection.signal(options);
    try {
      this.#connection.ensureOpen();
      const response = await this.#container
        .item(READINESS_PROBE_ID, READINESS_PROBE_ID)
        .read({ abortSignal: signal });
      this.#connection.charged(
        { signal, options, ambiguous: false, queries: new Map() },
        response.requestCharge,
        () => estimateReadUnits(0),
      );
    } catch (error) {
      const mapped = toAppError(error, 'ping');
      if (mapped.code === 'UNAVAILABLE') throw mapped;
      throw new AppError('UNAVAILABLE', mapped.message, {
        cause: error,
        retryable: mapped.retryable,
        ...(mapped.retryAfterMs !== undefined ? { retryAfterMs: mapped.retryAfterMs } : {}),
      });
    }
  }

  /**
   * The container's own offer, else its database's (shared throughput). Reading offers needs a key or
   * a role allowed to read metadata; any refusal is `unknown`, and the archiver falls back to its floor.
   */
  async readThroughput(options?: OperationOptions): Promise<ContainerThroughput> {
    const request = { abortSignal: this.#connection.signal(options) };
    try {
      const own = (await this.#container.readOffer(request)).resource;
      if (own !== undefined) return throughputOf(own, 'container');
      const shared = (await this.#connection.database.readOffer(request)).resource;
      if (shared !== undefined) return throughputOf(shared, 'database');
      return { kind: 'unknown', reason: 'no offer on the container or its database' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Serverless accounts refuse offer reads outright ("not supported for serverless accounts").
      if (/serverless/i.test(message)) return { kind: 'serverless' };
      return {
        kind: 'unknown',
        reason: `${statusOf(error) ?? 'error'}: ${message.split('\n')[0]?.slice(0, 200)}`,
      };
    }
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  /** For tests of old schema versions: writes a raw persisted document as an older release would have. */
  insertRaw(raw: Record<string, unknown>, options?: OperationOptions): Promise<void> {
    const { id, customerId } = raw;
    if (typeof id !== 'string' || typeof customerId !== 'string') {
      return Promise.reject(
        new AppError('VALIDATION_FAILED', 'A raw document needs a string id and customerId'),
      );
    }
    return this.#connection.call(`insert raw ${customerId}/${id}`, options, async (state) => {
      await this.#container.items.create({ ...raw, id, customerId }, this.#connection.writeOptions(state));
    });
  }

  async #readRaw(key: RecordKey, state: AttemptState): Promise<RawItem | undefined> {
    try {
      const response = await this.#item(key).read<RawItem>(this.#connection.requestOptions(state));
      const raw = response.statusCode === 404 ? undefined : response.resource;
      this.#connection.charged(state, response.requestCharge, () => readUnits(raw));
      return raw;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * After a write whose answer was lost, the retry can fail on that write's own success (409 or 412).
   * If the stored document is exactly what was sent, the write happened: answer it, with the current etag.
   */
  async #ownEarlierWrite(
    document: RecordDocument,
    body: PersistedDocument,
    state: AttemptState,
  ): Promise<StoredDocument | undefined> {
    const current = await this.#readRaw(document, state);
    if (current === undefined || !isDeepStrictEqual(withoutSystemProperties(current), jsonCopy(body)))
      return undefined;
    return { document, etag: etagOf(current._etag, document) };
  }

  /** A list page of a foreign profile's documents: the stub fields, in (age desc, id desc) order. */
  async #ownerList(request: ListRequest, state: AttemptState): Promise<ListResult> {
    const profile = this.#profile;
    const resources = await this.#connection.queryAll<Record<string, unknown>>(
      state,
      ownerListQuery(request, profile),
      { maxItemCount: request.limit + 1, partitionKey: request.customerId },
    );
    return pageOf(
      resources,
      request.limit,
      (row): ListItem => {
        const document = fromPersisted(row, profile);
        return { summary: summaryOf(document), tier: document.tier };
      },
      ({ summary }) => ({ issuedAt: summary.issuedAt, id: summary.id }),
    );
  }

  #item(key: RecordKey): ReturnType<Container['item']> {
    return this.#container.item(key.id, key.customerId);
  }
}

/**
 * The query of one list page. The partition key is in the WHERE clause as well as in the options (the
 * emulator ignores the option). The equality filters lead the ORDER BY (they fix those properties, so
 * the order is the same) for one composite index to serve both the filter and the sort.
 */
export function listQuery(request: ListRequest): SqlQuerySpec {
  const where = ['c.customerId = @pk'];
  const parameters: SqlParameter[] = [
    { name: '@pk', value: request.customerId },
    { name: '@n', value: request.limit + 1 },
  ];
  if (request.issuedFrom !== undefined) {
    where.push('c.issuedAt >= @issuedFrom');
    parameters.push({ name: '@issuedFrom', value: request.issuedFrom });
  }
  if (request.issuedTo !== undefined) {
    where.push('c.issuedAt < @issuedTo');
    parameters.push({ name: '@issuedTo', value: request.issuedTo });
  }
  if (request.status !== undefined) {
    where.push('c.status = @status');
    parameters.push({ name: '@status', value: request.status });
  }
  if (request.invoiceNumber !== undefined) {
    where.push('c.invoiceNumber = @invoiceNumber');
    parameters.push({ name: '@invoiceNumber', value: request.invoiceNumber });
  }
  if (request.after !== undefined) {
    where.push('(c.issuedAt < @afterIssuedAt OR (c.issuedAt = @afterIssuedAt AND c.id < @afterId))');
    parameters.push({ name: '@afterIssuedAt', value: request.after.issuedAt });
    parameters.push({ name: '@afterId', value: request.after.id });
  }
  // The invoice number lookup keeps the index it was given; every other list uses (customerId, issuedAt, id).
  const orderBy =
    request.invoiceNumber !== undefined
      ? 'c.invoiceNumber ASC, c.issuedAt DESC, c.id DESC'
      : 'c.customerId ASC, c.issuedAt DESC, c.id DESC';
  // One more than the page tells whether there is a next page without a second query. The summary fields
  // only (and v1's flat billing period, which upcasting turns into billingPeriod): a query is charged for
  // what it returns, and lineItems and metadata are most of a record.
  return {
    query: `SELECT TOP @n ${LIST_PROJECTION} FROM c WHERE ${where.join(' AND ')} ORDER BY ${orderBy}`,
    parameters,
  };
}

/** What a list page reads of each document: the summary fields, the schema version and the tier. */
const LIST_PROJECTION = [
  'id',
  'customerId',
  'schemaVersion',
  'invoiceNumber',
  'issuedAt',
  'dueAt',
  'billingPeriod',
  'periodStart',
  'periodEnd',
  'currency',
  'status',
  'subtotalMinor',
  'taxMinor',
  'totalMinor',
  'version',
  'createdAt',
  'updatedAt',
]
  .map((field) => `c.${field}`)
  .concat('c.sys.tier AS tier')
  .join(', ');

/** The persisted layout, refused before sending when over Cosmos DB's item limit (the emulator has none). */
function persist(document: RecordDocument): PersistedDocument {
  const persisted = toPersisted(document);
  const bytes = Buffer.byteLength(JSON.stringify(persisted));
  if (bytes > MAX_DOCUMENT_BYTES) {
    throw new AppError(
      'RECORD_TOO_LARGE',
      `Record ${document.customerId}/${document.id} is ${bytes} bytes stored; the limit is ${MAX_DOCUMENT_BYTES}`,
    );
  }
  return persisted;
}

function toStored(raw: RawItem, profile: RecordProfile): StoredDocument {
  const modifiedAtMs = typeof raw._ts === 'number' ? raw._ts * 1000 : undefined;
  const document = fromPersisted(withoutSystemProperties(raw), profile, modifiedAtMs);
  return { document, etag: etagOf(raw._etag, document) };
}

function withoutSystemProperties(raw: Record<string, unknown>): Record<string, unknown> {
  const persisted = { ...raw };
  for (const property of SYSTEM_PROPERTIES) delete persisted[property];
  return persisted;
}

function notFound(key: RecordKey): AppError {
  return new AppError('NOT_FOUND', `Record ${key.customerId}/${key.id} does not exist`);
}

function stale(key: RecordKey): AppError {
  return new AppError('PRECONDITION_FAILED', `Record ${key.customerId}/${key.id} has changed`);
}

function throughputOf(offer: OfferDefinition, scope: 'container' | 'database'): ContainerThroughput {
  const autoscaleMax = offer.content?.offerAutopilotSettings?.maxThroughput;
  if (autoscaleMax !== undefined && autoscaleMax > 0)
    return { kind: 'autoscale', maxRequestUnitsPerSecond: autoscaleMax, scope };
  const provisioned = offer.content?.offerThroughput;
  if (provisioned !== undefined && provisioned > 0)
    return { kind: 'provisioned', requestUnitsPerSecond: provisioned, scope };
  return { kind: 'unknown', reason: `the ${scope}'s offer names no throughput` };
}

/**
 * How scan() and countByTier() name a profile's fields. The billing profile's queries are the ones the
 * shipped indexing policy serves; a foreign profile's documents written before adoption have no system
 * property, so "hot" is also "no `sys`", and the ORDER BY cannot lead with the tier.
 */
function scanFields(profile: RecordProfile) {
  if (isBillingProfile(profile)) {
    return {
      pk: 'customerId',
      age: 'issuedAt',
      tier: (_tier: string) => 'c.sys.tier = @tier',
      ageValue: (instant: string): string | number => instant,
      projection: 'c.customerId, c.id, c.issuedAt, c.updatedAt, c.version',
      orderBy: 'c.sys.tier ASC, c.issuedAt ASC, c.customerId ASC, c.id ASC',
      item: (row: ScanRow): ScanItem => ({
        customerId: row.customerId,
        id: row.id,
        issuedAt: row.issuedAt,
        updatedAt: row.updatedAt,
        version: row.version,
        etag: row._etag,
        modifiedAtMs: row._ts * 1000,
        sys: row.sys,
      }),
    };
  }
  const pk = propertyOf(profile.partitionKeyPath);
  const age = propertyOf(profile.agePath);
  const version =
    profile.versionPath === undefined ? 'c.sys.version' : `c.${propertyOf(profile.versionPath)}`;
  return {
    pk,
    age,
    tier: (tier: string) =>
      tier === 'hot' ? '(NOT IS_DEFINED(c.sys) OR c.sys.tier = @tier)' : 'c.sys.tier = @tier',
    ageValue: (instant: string) => ageValueOf(profile, instant),
    projection: `c.${pk} AS customerId, c.id, c.${age} AS issuedAt, c.sys.updatedAt AS updatedAt, ${version} AS version`,
    orderBy: `c.${age} ASC, c.${pk} ASC, c.id ASC`,
    item: (row: Partial<ScanRow> & Pick<ScanRow, 'id' | '_etag' | '_ts'>): ScanItem => {
      const modifiedAtMs = row._ts * 1000;
      return {
        customerId: String(row.customerId),
        id: row.id,
        issuedAt: ageInstantOf(profile, row.issuedAt) ?? '',
        // Written before adoption: last written when Cosmos DB says, version 1.
        updatedAt: row.updatedAt ?? new Date(modifiedAtMs).toISOString(),
        version: typeof row.version === 'number' ? row.version : 1,
        etag: row._etag,
        modifiedAtMs,
        sys: row.sys ?? { tier: 'hot' },
      };
    },
  };
}

/** The list query of a foreign profile: the partition key, the age window, the keyset; stub fields only. */
export function ownerListQuery(request: ListRequest, profile: RecordProfile): SqlQuerySpec {
  const pk = propertyOf(profile.partitionKeyPath);
  const age = propertyOf(profile.agePath);
  const where = [`c.${pk} = @pk`];
  const parameters: SqlParameter[] = [
    { name: '@pk', value: request.customerId },
    { name: '@n', value: request.limit + 1 },
  ];
  if (request.issuedFrom !== undefined) {
    where.push(`c.${age} >= @issuedFrom`);
    parameters.push({ name: '@issuedFrom', value: ageValueOf(profile, request.issuedFrom) });
  }
  if (request.issuedTo !== undefined) {
    where.push(`c.${age} < @issuedTo`);
    parameters.push({ name: '@issuedTo', value: ageValueOf(profile, request.issuedTo) });
  }
  if (request.after !== undefined) {
    where.push(`(c.${age} < @afterAge OR (c.${age} = @afterAge AND c.id < @afterId))`);
    parameters.push({ name: '@afterAge', value: ageValueOf(profile, request.after.issuedAt) });
    parameters.push({ name: '@afterId', value: request.after.id });
  }
  const fields = [
    'id',
    pk,
    age,
    ...(profile.versionPath !== undefined ? [propertyOf(profile.versionPath)] : []),
    ...profile.stubFields,
    'sys',
  ];
  return {
    query:
      `SELECT TOP @n ${fields.map((field) => `c.${field}`).join(', ')} FROM c ` +
      `WHERE ${where.join(' AND ')} ORDER BY c.${pk} ASC, c.${age} DESC, c.id DESC`,
    parameters,
  };
}
