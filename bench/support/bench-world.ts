// The embedded stack the benchmarks run on, assembled from the product's own adapters: a SQLite hot
// store and ledger in a file, Azurite (in this process) with the Blob adapters, and the archival
// engine with the product's defaults. Folders live on tmpfs when setup speed matters more than
// fsync (reads are served from the page cache either way) and on disk when it is what is measured.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedAzurite, startEmbeddedAzurite } from '../../src/adapters/azurite/embedded-azurite.ts';
import { BlobArchiveStore } from '../../src/adapters/blob/blob-archive-store.ts';
import { BlobControlStore } from '../../src/adapters/blob/blob-control-store.ts';
import { SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import type { ArchivalSettings } from '../../src/archival/archive-run.ts';
import type { ArchivalService } from '../../src/archival/archival-service.ts';
import { wireServices } from '../../src/composition/wire-services.ts';
import { systemClock } from '../../src/composition/system-clock.ts';
import { defaultCustomerCount, generateRecords } from '../../src/demo/billing-record-generator.ts';
import type { ArchivalPolicy } from '../../src/domain/archival-policy.ts';
import type { BillingRecord } from '../../src/domain/billing-record.ts';
import { parseIsoDuration } from '../../src/domain/iso-duration.ts';
import { fullDocument } from '../../src/domain/record-document.ts';
import type { RecordKey } from '../../src/domain/record-rules.ts';
import type { ArchiveStore } from '../../src/ports/archive-store.ts';
import type { ArchivalControlStore } from '../../src/ports/archival-control-store.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';
import { silentLogger } from '../../test/fakes/silent-logger.ts';
import { REPO_DIR } from './bench-result.ts';
import { GENERATOR_NOW, GENERATOR_SEED } from './profile.ts';

export { silentLogger };

/** The product defaults (P3M, 7 days of grace, 1 day of cool-down), except grace 0 so one run copies and purges. */
export const BENCH_POLICY: ArchivalPolicy = {
  archiveAfter: parseIsoDuration('P3M')!,
  gracePeriod: parseIsoDuration('P0D')!,
  coolDown: parseIsoDuration('P1D')!,
};

/**
 * CACHE_DECODED_MAX_BYTES for the cached-read figures: room for the whole working set (5,000 records,
 * about 95 MB of JSON, in full mode), since the benchmarks cycle through every record and an LRU
 * smaller than such a cycle never hits. The product default (64 MiB) is for a skewed set.
 */
export const DECODED_CACHE_BYTES = 256 * 1024 * 1024;

/** As of this instant every generated record is older than three months: a run archives them all. */
export const ARCHIVE_ALL_AS_OF = new Date(GENERATOR_NOW.getTime() + 125 * 24 * 3600_000).toISOString();

export type Medium = 'tmpfs' | 'disk';
/** Where an archival run's files live, or `remote-model`: tmpfs files behind modelled round trips. */
export type ArchivalMedium = Medium | 'remote-model';

/** A fresh folder for one benchmark; `disk` is under .data/bench (gitignored), `tmpfs` under /dev/shm. */
export function benchFolder(name: string, medium: Medium): string {
  const root =
    medium === 'disk' ? join(REPO_DIR, '.data', 'bench') : existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const folder = join(root, `billing-bench-${name}-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(folder, { recursive: true });
  return folder;
}

export function removeFolder(folder: string): void {
  rmSync(folder, { recursive: true, force: true });
}

/** The records of the reference generator: seeded, 36 months, the reference size distribution. */
export function benchRecords(count: number, offset = 0, total = count): Generator<BillingRecord> {
  return generateRecords({
    seed: GENERATOR_SEED,
    count,
    offset,
    customers: defaultCustomerCount(total),
    now: GENERATOR_NOW,
  });
}

/** Loads `count` generated records through the store's own create; returns their keys in load order. */
export async function loadRecords(
  store: RecordStore,
  count: number,
  log?: (message: string) => void,
): Promise<RecordKey[]> {
  const keys: RecordKey[] = [];
  const step = Math.max(1, Math.round(count / 5));
  for (const record of benchRecords(count)) {
    await store.create(fullDocument(record));
    keys.push({ customerId: record.customerId, id: record.id });
    if (keys.length % step === 0) log?.(`loaded ${keys.length}/${count} records`);
  }
  return keys;
}

export interface ArchiveStack {
  readonly azurite: EmbeddedAzurite;
  readonly archive: BlobArchiveStore;
  readonly control: BlobControlStore;
  close(): Promise<void>;
}

/** Azurite on `folder` (started here unless a connection string is given) and the two Blob stores. */
export async function openArchiveStack(
  folder: string,
  options: {
    readonly connectionString?: string;
    readonly container?: string;
    readonly inMemory?: boolean;
  } = {},
): Promise<ArchiveStack> {
  const azurite =
    options.connectionString === undefined
      ? await startEmbeddedAzurite({ folder, port: 0, inMemory: options.inMemory ?? false })
      : { blobEndpoint: '', connectionString: options.connectionString, stop: () => Promise.resolve() };
  const container = options.container ?? 'billing-archive';
  const archive = await BlobArchiveStore.connect({
    connectionString: azurite.connectionString,
    containerName: container,
  });
  const control = await BlobControlStore.connect({
    connectionString: azurite.connectionString,
    containerName: `${container}-control`,
  });
  return {
    azurite,
    archive,
    control,
    async close() {
      await archive.close();
      await control.close();
      await azurite.stop();
    },
  };
}

export interface HotStores {
  readonly store: SqliteRecordStore;
  readonly ledger: SqliteArchiveLedger;
  close(): Promise<void>;
}

export function openHotStores(path: string): HotStores {
  const store = new SqliteRecordStore({ path });
  const ledger = new SqliteArchiveLedger({ path });
  return {
    store,
    ledger,
    async close() {
      await ledger.close();
      await store.close();
    },
  };
}

/** The product's default settings, except the time budget: a benchmark run goes to the end. */
export function archivalEngine(
  hot: HotStores,
  stack: { readonly archive: ArchiveStore; readonly control: ArchivalControlStore },
  settings: Partial<ArchivalSettings> = {},
): ArchivalService {
  return wireServices(
    { store: hot.store, ledger: hot.ledger, archive: stack.archive, control: stack.control },
    {
      clock: systemClock,
      policy: BENCH_POLICY,
      log: silentLogger,
      archival: { timeBudgetMs: 24 * 3600_000, ...settings },
    },
  ).archival;
}

/** Wraps a port so every method call is counted by name (the calls still go to the real adapter). */
export function countingCalls<T extends object>(target: T, counts: Record<string, number>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const name = String(property);
      return (...args: unknown[]): unknown => {
        counts[name] = (counts[name] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/**
 * Delays every async method call of a port by `ms(method)` before it reaches the adapter: a model of
 * a remote service's round trip (the embedded stores answer in microseconds, in this very process).
 */
export function withLatency<T extends object>(target: T, ms: (method: string) => number): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const wait = ms(String(property));
      if (wait <= 0)
        return (...args: unknown[]): unknown => (value as (...a: unknown[]) => unknown).apply(object, args);
      return async (...args: unknown[]): Promise<unknown> => {
        await delay(wait);
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** Modelled round trips (ms), same region: Cosmos DB point operations and queries, Blob Storage calls. */
export const REMOTE_MODEL_MS = { cosmosPoint: 5, cosmosQuery: 10, blob: 15 } as const;

export function cosmosLatency(method: string): number {
  if (method === 'close') return 0;
  return ['scan', 'list', 'query', 'getMany', 'counts', 'countByTier'].includes(method)
    ? REMOTE_MODEL_MS.cosmosQuery
    : REMOTE_MODEL_MS.cosmosPoint;
}

export function blobLatency(method: string): number {
  return method === 'close' ? 0 : REMOTE_MODEL_MS.blob;
}
