// The archival ledger in its own Cosmos DB container, partitioned by /customerId like the records: one
// small item per record between its copy and its purge, so the purge never reads a 300 KB document again.
// An entry with an expiresAt (migration history) carries its own ttl under the container's defaultTtl of -1.
import { isDeepStrictEqual } from 'node:util';
import type { Container, IndexingPolicy, ItemDefinition, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { estimateDeleteUnits, LEDGER_INDEXED_TERMS } from '../../domain/request-unit-model.ts';
import { AppError } from '../../domain/errors.ts';
import type { RecordKey } from '../../domain/record-rules.ts';
import {
  type ArchiveLedger,
  type DueRetriesPage,
  type DueRetriesQuery,
  type LedgerCounts,
  type LedgerCountsQuery,
  type LedgerEntry,
  ledgerKeyOf,
  type LedgerPage,
  type LedgerQuery,
  type LedgerState,
  type StoredLedgerEntry,
} from '../../ports/archive-ledger.ts';
import type { Clock } from '../../ports/clock.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
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
import { statusOf } from './cosmos-error-mapping.ts';
import cosmosContainers from './cosmos-containers.json' with { type: 'json' };

export const LEDGER_CONTAINER_ID = 'archive-ledger';
export const LEDGER_PARTITION_KEY_PATH = cosmosContainers.ledger.partitionKeyPath;

export interface CosmosArchiveLedgerOptions extends CosmosConnectionOptions {
  /** Defaults to `archive-ledger`, beside the records container in the same database. */
  readonly containerId?: string;
  /** Turns an entry's expiresAt into the item's ttl (seconds from its write); the wall clock by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

/**
 * The stored item: an envelope with what queries filter and sort on (`parked` always a boolean, so
 * `c.parked = false` finds entries that never had one), and the LedgerEntry as given under `entry`,
 * unindexed but for its nextAttemptAt. The entry reads back unchanged, and a new entry field never
 * touches the indexing policy.
 */
interface LedgerItem {
  readonly id: string;
  readonly customerId: string;
  readonly state: LedgerState;
  readonly parked: boolean;
  readonly purgeAfter: string;
  readonly entry: LedgerEntry;
  /** Seconds after the write the service removes the item: only migration history carries one. */
  readonly ttl?: number;
}

type RawLedgerItem = ItemDefinition & Partial<LedgerItem> & { _etag?: string };

/** What query() projects: the entry and its etag, not the envelope or the other system fields. */
interface LedgerRow {
  readonly entry: LedgerEntry;
  readonly _etag: string;
}

/** Equality filters that lead the ORDER BY when present, so one composite index filters and sorts. */
const EQUALITY_PREFIXES: ReadonlyArray<ReadonlyArray<'state' | 'parked'>> = [
  [],
  ['state'],
  ['parked'],
  ['state', 'parked'],
];
const ORDER_TAIL = ['purgeAfter', 'customerId', 'id'] as const;
/** queryDueRetries' ORDER BY: its equality filters, then its range and keyset. */
const RETRY_ORDER = ['state', 'parked', 'entry/nextAttemptAt', 'customerId', 'id'] as const;
/** Keys per getMany query: a page of candidates (batch size 100) in one round trip, 200 parameters. */
export const GET_MANY_CHUNK = 100;

/**
 * Index the envelope; of `entry` (summary, sys, errors: most of the item) only nextAttemptAt, which the
 * due retries are found by; it is indexed where the entry keeps it, so items written before this policy
 * need no rewrite, and absent (not indexed) on entries that never failed. Cosmos DB refuses a
 * multi-property ORDER BY without a matching composite index: query() leads its ORDER BY with the
 * properties it filters by equality, so there is one index per combination of state and parked, and
 * one for queryDueRetries (LEDGER_QUERY_ORDERS; a test holds the policy to them). It lives in
 * cosmos-containers.json, which infra/modules/cosmos.bicep loads too; an existing container keeps its
 * policy, so a deployment updates it there.
 */
export const LEDGER_INDEXING_POLICY: IndexingPolicy = cosmosContainers.ledger
  .indexingPolicy as IndexingPolicy;

/** Every ORDER BY the ledger's queries use, each needing a composite index of the same properties in order. */
export const LEDGER_QUERY_ORDERS: ReadonlyArray<readonly string[]> = [
  ...EQUALITY_PREFIXES.map((prefix) => [...prefix, ...ORDER_TAIL]),
  [...RETRY_ORDER],
];

const LEDGER_SPEC = {
  adapter: 'archive ledger',
  partitionKeyPath: LEDGER_PARTITION_KEY_PATH,
  indexingPolicy: LEDGER_INDEXING_POLICY,
  defaultTtl: cosmosContainers.ledger.defaultTtl,
} as const;

const WALL_CLOCK = { now: () => new Date() };

export class CosmosArchiveLedger implements ArchiveLedger {
  readonly #connection: CosmosConnection;
  readonly #clock: Pick<Clock, 'now'>;

  private constructor(connection: CosmosConnection, clock: Pick<Clock, 'now'> = WALL_CLOCK) {
    this.#connection = connection;
    this.#clock = clock;
  }

  /** Connects, creating the database and container when absent; UNAVAILABLE when Cosmos DB cannot be reached. */
  static async connect(options: CosmosArchiveLedgerOptions): Promise<CosmosArchiveLedger> {
    const connection = await CosmosConnection.connect(options, {
      ...LEDGER_SPEC,
      containerId: options.containerId ?? LEDGER_CONTAINER_ID,
    });
    return new CosmosArchiveLedger(connection, options.clock);
  }

  /** Over a container the caller already holds; closing leaves its client open. */
  static async fromContainer(
    container: Container,
    options: { readonly clock?: Pick<Clock, 'now'> } = {},
  ): Promise<CosmosArchiveLedger> {
    return new CosmosArchiveLedger(
      await CosmosConnection.fromContainer(container, LEDGER_SPEC),
      options.clock,
    );
  }

  get(key: RecordKey, options?: OperationOptions): Promise<StoredLedgerEntry | undefined> {
    return this.#connection.call(`read ledger entry ${key.customerId}/${key.id}`, options, async (state) => {
      const raw = await this.#readRaw(key, state);
      return raw === undefined ? undefined : toStored(raw, key);
    });
  }

  async getMany(
    keys: readonly RecordKey[],
    options?: OperationOptions,
  ): Promise<ReadonlyMap<string, StoredLedgerEntry>> {
    const connection = this.#connection;
    const unique = [...new Map(keys.map((key) => [ledgerKeyOf(key), key])).values()];
    const found = new Map<string, StoredLedgerEntry>();
    for (let start = 0; start < unique.length; start += GET_MANY_CHUNK) {
      const chunk = unique.slice(start, start + GET_MANY_CHUNK);
      const customerIds = new Set(chunk.map((key) => key.customerId));
      const [onlyCustomer] = customerIds;
      const rows = await connection.call(`read ${chunk.length} ledger entries`, options, (state) =>
        connection.queryAll<LedgerRow>(state, ledgerGetManySpec(chunk), {
          maxItemCount: chunk.length,
          ...(customerIds.size === 1 && onlyCustomer !== undefined ? { partitionKey: onlyCustomer } : {}),
        }),
      );
      for (const row of rows)
        found.set(ledgerKeyOf(row.entry), { entry: row.entry, etag: etagOf(row._etag, row.entry) });
    }
    return found;
  }

  put(
    entry: LedgerEntry,
    condition: { readonly ifMatch?: string; readonly ifNoneMatch?: '*' },
    options?: OperationOptions,
  ): Promise<StoredLedgerEntry> {
    const item = toItem(entry, this.#clock.now());
    const connection = this.#connection;
    return connection.call(`write ledger entry ${entry.customerId}/${entry.id}`, options, async (state) => {
      try {
        const response =
          condition.ifMatch !== undefined
            ? await connection.container
                .item(entry.id, entry.customerId)
                .replace(item, connection.writeOptions(state, condition))
            : condition.ifNoneMatch === '*'
              ? await connection.container.items.create(item, connection.writeOptions(state))
              : await connection.container.items.upsert(item, connection.writeOptions(state));
        connection.charged(state, response.requestCharge, () => writeUnits(item, LEDGER_INDEXED_TERMS));
        return { entry, etag: etagOf(response.etag, entry) };
      } catch (error) {
        const status = statusOf(error);
        // An If-Match on an absent entry is a stale etag too (HTTP's 412), as in the SQLite adapter.
        const stale = condition.ifMatch !== undefined && (status === 412 || status === 404);
        const exists = condition.ifMatch === undefined && condition.ifNoneMatch === '*' && status === 409;
        if (!stale && !exists) throw error;
        const own = state.ambiguous ? await this.#ownEarlierWrite(item, state) : undefined;
        if (own !== undefined) return own;
        if (exists) throw new AppError('ALREADY_EXISTS', `Ledger entry ${keyText(entry)} exists`);
        throw changed(entry);
      }
    });
  }

  delete(
    key: RecordKey,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean> {
    const connection = this.#connection;
    return connection.call(`delete ledger entry ${key.customerId}/${key.id}`, options, async (state) => {
      try {
        const response = await connection.container
          .item(key.id, key.customerId)
          .delete(connection.writeOptions(state, condition));
        connection.charged(state, response.requestCharge, () => estimateDeleteUnits(LEDGER_INDEXED_TERMS));
        return true;
      } catch (error) {
        const status = statusOf(error);
        // After an attempt whose outcome was lost, a 404 is that attempt having deleted it.
        if (status === 404) return state.ambiguous;
        if (status === 412) throw changed(key);
        throw error;
      }
    });
  }

  query(query: LedgerQuery, options?: OperationOptions): Promise<LedgerPage> {
    return this.#page('query the archive ledger', ledgerQuerySpec(query), query, options, ({ entry }) => ({
      purgeAfter: entry.purgeAfter,
      customerId: entry.customerId,
      id: entry.id,
    }));
  }

  queryDueRetries(query: DueRetriesQuery, options?: OperationOptions): Promise<DueRetriesPage> {
    return this.#page(
      'query the due retries of the archive ledger',
      ledgerDueRetriesSpec(query),
      query,
      options,
      ({ entry }) => ({
        // Every answered entry has one: the query filters on it.
        nextAttemptAt: entry.nextAttemptAt ?? '',
        customerId: entry.customerId,
        id: entry.id,
      }),
    );
  }

  /** One page of entries in the query's order, within one customer's partition when it names one. */
  #page<P>(
    what: string,
    spec: SqlQuerySpec,
    query: { readonly limit: number; readonly customerId?: string },
    options: OperationOptions | undefined,
    positionOf: (stored: StoredLedgerEntry) => P,
  ): Promise<{ items: StoredLedgerEntry[]; next: P | undefined }> {
    const connection = this.#connection;
    return connection.call(what, options, async (state) => {
      const rows = await connection.queryAll<LedgerRow>(state, spec, {
        maxItemCount: query.limit + 1,
        ...(query.customerId !== undefined ? { partitionKey: query.customerId } : {}),
      });
      return pageOf(
        rows,
        query.limit,
        (row): StoredLedgerEntry => ({ entry: row.entry, etag: etagOf(row._etag, row.entry) }),
        positionOf,
      );
    });
  }

  /**
   * Index-served COUNT queries across partitions (the emulator has no GROUP BY; one query each): copies
   * past the purge's position are in grace or due, the rest of the unparked copies are history.
   */
  counts(query: LedgerCountsQuery = {}, options?: OperationOptions): Promise<LedgerCounts> {
    const connection = this.#connection;
    return connection.call('count the archive ledger', options, async (state) => {
      const count = (where: string, parameters: SqlParameter[]): Promise<number> =>
        connection.count(state, where, parameters);
      const unparked = (ledgerState: LedgerState, extra?: ReturnType<typeof afterKeyset>): Promise<number> =>
        count(`c.state = @state AND c.parked = false${extra === undefined ? '' : ` AND ${extra.clause}`}`, [
          { name: '@state', value: ledgerState },
          ...(extra?.parameters ?? []),
        ]);
      const position = query.purgedThrough;
      const [allCopied, copied, failed, parked] = await Promise.all([
        unparked('copied'),
        position === undefined
          ? undefined
          : unparked(
              'copied',
              afterKeyset('purgeAfter', {
                leading: position.purgeAfter,
                customerId: position.customerId,
                id: position.id,
              }),
            ),
        unparked('failed'),
        count('c.parked = true', []),
      ]);
      return {
        copied: copied ?? allCopied,
        failed,
        parked,
        archived: allCopied - (copied ?? allCopied),
      };
    });
  }

  /** The service expires history itself (each item's ttl under the container's defaultTtl of -1). */
  sweepExpired(): Promise<number> {
    return Promise.resolve(0);
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  async #readRaw(key: RecordKey, state: AttemptState): Promise<RawLedgerItem | undefined> {
    try {
      const response = await this.#connection.container
        .item(key.id, key.customerId)
        .read<RawLedgerItem>(this.#connection.requestOptions(state));
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
   * If the stored item is exactly what was sent, the write happened: answer it, with the current etag.
   */
  async #ownEarlierWrite(item: LedgerItem, state: AttemptState): Promise<StoredLedgerEntry | undefined> {
    const current = await this.#readRaw(item.entry, state);
    if (current === undefined) return undefined;
    const { id, customerId, state: ledgerState, parked, purgeAfter, entry } = current;
    const stored = { id, customerId, state: ledgerState, parked, purgeAfter, entry };
    // The ttl is left out: it counts from each attempt's own instant.
    const { ttl: _ttl, ...sent } = item;
    if (!isDeepStrictEqual(stored, jsonCopy(sent))) return undefined;
    return { entry: item.entry, etag: etagOf(current._etag, item.entry) };
  }
}

/**
 * The query for one page: TOP limit + 1 (the extra row says whether there is a next page), keyset after
 * `query.after`, ORDER BY the equality-filtered properties then (purgeAfter, customerId, id), which is
 * the port's order since the leading properties are constant. Exported to test it against the policy.
 */
export function ledgerQuerySpec(query: LedgerQuery): SqlQuerySpec {
  const where: string[] = [];
  const parameters: SqlParameter[] = [{ name: '@n', value: query.limit + 1 }];
  const order: string[] = [];
  if (query.state !== undefined) {
    where.push('c.state = @state');
    parameters.push({ name: '@state', value: query.state });
    order.push('state');
  }
  if (query.parked !== undefined) {
    where.push('c.parked = @parked');
    parameters.push({ name: '@parked', value: query.parked });
    order.push('parked');
  }
  if (query.dueBy !== undefined) {
    where.push('c.purgeAfter <= @dueBy');
    parameters.push({ name: '@dueBy', value: query.dueBy });
  }
  if (query.customerId !== undefined) {
    // In the WHERE as well as the partitionKey option: the emulator ignores the option.
    where.push('c.customerId = @customerId');
    parameters.push({ name: '@customerId', value: query.customerId });
  }
  if (query.after !== undefined) {
    const { purgeAfter, customerId, id } = query.after;
    const keyset = afterKeyset('purgeAfter', { leading: purgeAfter, customerId, id });
    where.push(keyset.clause);
    parameters.push(...keyset.parameters);
  }
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
  const orderBy = [...order, ...ORDER_TAIL].map((property) => `c.${property} ASC`).join(', ');
  return { query: `SELECT TOP @n c.entry, c._etag FROM c${filter} ORDER BY ${orderBy}`, parameters };
}

/**
 * The due retries, one page: equality on state and parked, a range on the entry's nextAttemptAt, and the
 * keyset, under ORDER BY (state, parked, nextAttemptAt, customerId, id), which its composite index
 * serves whole. Exported to test it against the policy.
 */
export function ledgerDueRetriesSpec(query: DueRetriesQuery): SqlQuerySpec {
  const where = ['c.state = @state', 'c.parked = @parked', 'c.entry.nextAttemptAt <= @dueBy'];
  const parameters: SqlParameter[] = [
    { name: '@n', value: query.limit + 1 },
    { name: '@state', value: 'failed' },
    { name: '@parked', value: false },
    { name: '@dueBy', value: query.dueBy },
  ];
  if (query.customerId !== undefined) {
    // In the WHERE as well as the partitionKey option: the emulator ignores the option.
    where.push('c.customerId = @customerId');
    parameters.push({ name: '@customerId', value: query.customerId });
  }
  if (query.after !== undefined) {
    const { nextAttemptAt, customerId, id } = query.after;
    const keyset = afterKeyset('entry.nextAttemptAt', { leading: nextAttemptAt, customerId, id });
    where.push(keyset.clause);
    parameters.push(...keyset.parameters);
  }
  const orderBy = RETRY_ORDER.map((path) => `c.${path.replace('/', '.')} ASC`).join(', ');
  return {
    query: `SELECT TOP @n c.entry, c._etag FROM c WHERE ${where.join(' AND ')} ORDER BY ${orderBy}`,
    parameters,
  };
}

/**
 * The entries of these keys: an OR of exact (customerId, id) pairs, each an index seek. `id IN (…) AND
 * customerId IN (…)` would load the cross product, and ids repeat across customers. Flat, as afterKeyset.
 */
export function ledgerGetManySpec(keys: readonly RecordKey[]): SqlQuerySpec {
  const parameters: SqlParameter[] = [];
  const pairs = keys.map((key, index) => {
    parameters.push({ name: `@c${index}`, value: key.customerId }, { name: `@i${index}`, value: key.id });
    return `(c.customerId = @c${index} AND c.id = @i${index})`;
  });
  return { query: `SELECT c.entry, c._etag FROM c WHERE ${pairs.join(' OR ')}`, parameters };
}

/** The stored item; `now` turns the entry's expiresAt into the service's ttl, which counts from the write. */
function toItem(entry: LedgerEntry, now: Date): LedgerItem {
  return {
    id: entry.id,
    customerId: entry.customerId,
    state: entry.state,
    parked: entry.parked === true,
    purgeAfter: entry.purgeAfter,
    entry,
    ...(entry.expiresAt !== undefined ? { ttl: ttlSeconds(entry.expiresAt, now) } : {}),
  };
}

/** Whole seconds from `now` to `expiresAt`, at least 1 (the service refuses 0; -1 would mean never). */
export function ttlSeconds(expiresAt: string, now: Date): number {
  return Math.max(1, Math.ceil((Date.parse(expiresAt) - now.getTime()) / 1000));
}

function toStored(raw: RawLedgerItem, key: RecordKey): StoredLedgerEntry {
  if (raw.entry === undefined) {
    throw new AppError('UNAVAILABLE', `Ledger item ${keyText(key)} has no entry`, { retryable: false });
  }
  return { entry: raw.entry, etag: etagOf(raw._etag, key) };
}

function keyText(key: RecordKey): string {
  return `${key.customerId}/${key.id}`;
}

function changed(key: RecordKey): AppError {
  return new AppError('PRECONDITION_FAILED', `Ledger entry ${keyText(key)} has changed`);
}
