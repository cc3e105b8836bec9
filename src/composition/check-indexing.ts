// `archive check-indexing`: the configured records container's indexing policy against what the engine's
// queries need. It reads the policy and reports; it never changes it (that is the infrastructure's job).
import { type IndexingGap, indexingGaps, readIndexingPolicy } from '../adapters/cosmos/indexing-check.ts';
import { type AppConfig, ConfigError } from '../config/app-config.ts';

export { type IndexingGap, indexingGaps, recordsIndexingPolicy } from '../adapters/cosmos/indexing-check.ts';
export { RECORDS_INDEXING_POLICY } from '../adapters/cosmos/cosmos-record-store.ts';
export { LEDGER_INDEXING_POLICY } from '../adapters/cosmos/cosmos-archive-ledger.ts';

export interface IndexingReport {
  /** database/container */
  readonly container: string;
  readonly gaps: readonly IndexingGap[];
}

export async function checkRecordsIndexing(config: Pick<AppConfig, 'hotStore'>): Promise<IndexingReport> {
  const hot = config.hotStore;
  if (hot.kind !== 'cosmos') {
    throw new ConfigError([
      'check-indexing reads a Cosmos DB container: set COSMOS_ENDPOINT, COSMOS_DATABASE and COSMOS_CONTAINER (the embedded SQLite store has its own indexes)',
    ]);
  }
  const policy = await readIndexingPolicy({
    endpoint: hot.endpoint,
    databaseId: hot.database,
    containerId: hot.container,
    ...(hot.key !== undefined ? { key: hot.key } : {}),
    allowInsecureTls: hot.allowInsecureTls,
  });
  return { container: `${hot.database}/${hot.container}`, gaps: indexingGaps(policy) };
}

/** One line per gap, saying what to add to the policy. */
export function describeGap(gap: IndexingGap): string {
  switch (gap.kind) {
    case 'indexing-mode':
      return `indexingMode is ${gap.actual}: set it to "consistent" with automatic indexing`;
    case 'path':
      return `includedPaths lacks ${gap.path} (or an excluded path covers it)`;
    case 'composite-index':
      return `compositeIndexes lacks [${gap.paths.map((p) => `${p.path} ${p.order ?? 'ascending'}`).join(', ')}]`;
  }
}
