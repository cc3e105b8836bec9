// What an existing container's indexing policy lacks for the engine's queries, read and never changed:
// the paths the queries filter and sort on (the age field, the system property), the composite indexes
// their multi-property ORDER BYs need, and consistent indexing. A lazy or absent index makes them fail
// or cost far more RU; Cosmos DB refuses an ORDER BY over several properties without its composite index.
import type { CompositePath, IndexingPolicy } from '@azure/cosmos';
import { AppError } from '../../domain/errors.ts';
import { type CosmosConnectionOptions, createCosmosClient } from './cosmos-connection.ts';
import { toAppError } from './cosmos-error-mapping.ts';
import { RECORDS_INDEXING_POLICY } from './cosmos-record-store.ts';
import { isBillingProfile, propertyOf, type RecordProfile } from '../../domain/record-profile.ts';

export type IndexingGap =
  | { readonly kind: 'indexing-mode'; readonly actual: string; readonly needed: 'consistent' }
  /** A path queried on that the policy leaves unindexed (not included, or excluded more specifically). */
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'composite-index'; readonly paths: readonly CompositePath[] };

/** The gaps of `actual` against what the engine's queries need (the policy the adapter creates). */
export function indexingGaps(
  actual: IndexingPolicy,
  needed: IndexingPolicy = RECORDS_INDEXING_POLICY,
): IndexingGap[] {
  const gaps: IndexingGap[] = [];
  const mode = actual.indexingMode ?? 'consistent';
  if (mode !== 'consistent' || actual.automatic === false)
    gaps.push({
      kind: 'indexing-mode',
      actual: `${mode}${actual.automatic === false ? ' (not automatic)' : ''}`,
      needed: 'consistent',
    });
  for (const { path } of needed.includedPaths ?? []) {
    if (!isIndexed(actual, path)) gaps.push({ kind: 'path', path });
  }
  const composites = actual.compositeIndexes ?? [];
  for (const paths of needed.compositeIndexes ?? []) {
    if (!composites.some((candidate) => servesOrderBy(candidate, paths)))
      gaps.push({ kind: 'composite-index', paths });
  }
  return gaps;
}

/**
 * What the engine's queries need of a profile's container: the billing profile's shipped policy, or for
 * another profile its partition key, age field and system property indexed, and the composite indexes of
 * the list (partition key, age desc, id desc) and scan (age, partition key, id) ORDER BYs.
 */
export function recordsIndexingPolicy(profile: RecordProfile): IndexingPolicy {
  if (isBillingProfile(profile)) return RECORDS_INDEXING_POLICY;
  const pk = `/${propertyOf(profile.partitionKeyPath)}`;
  const age = `/${propertyOf(profile.agePath)}`;
  return {
    indexingMode: 'consistent',
    automatic: true,
    includedPaths: [pk, age, '/sys/tier', '/sys/pinned'].map((path) => ({ path: `${path}/?` })),
    compositeIndexes: [
      [
        { path: pk, order: 'ascending' },
        { path: age, order: 'descending' },
        { path: '/id', order: 'descending' },
      ],
      [
        { path: age, order: 'ascending' },
        { path: pk, order: 'ascending' },
        { path: '/id', order: 'ascending' },
      ],
    ],
  };
}

/** Reads the container's policy (Cosmos SDK `container.read()`); UNAVAILABLE when it cannot. */
export async function readIndexingPolicy(
  options: CosmosConnectionOptions & { readonly containerId: string },
): Promise<IndexingPolicy> {
  const { client, agent } = createCosmosClient(options);
  const what = `read the indexing policy of ${options.databaseId}/${options.containerId}`;
  try {
    const { resource } = await client.database(options.databaseId).container(options.containerId).read();
    if (resource === undefined) throw new AppError('NOT_FOUND', `Could not ${what}: no such container`);
    return resource.indexingPolicy ?? {};
  } catch (error) {
    throw toAppError(error, what);
  } finally {
    client.dispose();
    agent?.destroy();
  }
}

/**
 * Whether a scalar path (`/a/b/?`) is indexed: the most specific matching policy path decides, as in
 * Cosmos DB (`/a/b/?` over `/a/*` over `/*`); an excluded path wins a tie.
 */
function isIndexed(policy: IndexingPolicy, path: string): boolean {
  const target = path.replace(/\/\?$/, '');
  let best: { length: number; included: boolean } | undefined;
  const consider = (candidate: string, included: boolean) => {
    const length = matchLength(candidate, target);
    if (length === undefined) return;
    if (best === undefined || length > best.length || (length === best.length && !included))
      best = { length, included };
  };
  for (const { path: candidate } of policy.includedPaths ?? []) consider(candidate, true);
  for (const { path: candidate } of policy.excludedPaths ?? []) consider(candidate, false);
  // No paths at all: Cosmos DB's default policy indexes everything.
  if ((policy.includedPaths ?? []).length === 0 && (policy.excludedPaths ?? []).length === 0) return true;
  return best?.included === true;
}

/** How specific a match `candidate` is for the property path `target`, or undefined when it does not match. */
function matchLength(candidate: string, target: string): number | undefined {
  if (candidate.endsWith('/?')) return candidate.slice(0, -2) === target ? candidate.length + 1 : undefined;
  if (candidate.endsWith('/*')) {
    const prefix = candidate.slice(0, -2);
    return prefix === '' || target === prefix || target.startsWith(`${prefix}/`)
      ? candidate.length
      : undefined;
  }
  return candidate === target ? candidate.length : undefined;
}

/** A composite index serves an ORDER BY over the same paths in the same orders, or all of them reversed. */
function servesOrderBy(candidate: readonly CompositePath[], needed: readonly CompositePath[]): boolean {
  if (candidate.length !== needed.length) return false;
  const order = (path: CompositePath) => path.order ?? 'ascending';
  const same = candidate.every(
    (path, i) => path.path === needed[i]!.path && order(path) === order(needed[i]!),
  );
  const reversed = candidate.every(
    (path, i) => path.path === needed[i]!.path && order(path) !== order(needed[i]!),
  );
  return same || reversed;
}
