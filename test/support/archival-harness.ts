// An archival world on real adapters with a manual clock: SQLite :memory: for the records and the ledger,
// and either the in-memory archive and control store or the embedded default's own (the file archive and
// the SQLite control store, in a fresh folder); and the four invariants of DESIGN.md as one check.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileArchiveStore } from '../../src/adapters/files/file-archive-store.ts';
import { SqliteArchiveLedger } from '../../src/adapters/sqlite/sqlite-archive-ledger.ts';
import { SqliteControlStore } from '../../src/adapters/sqlite/sqlite-control-store.ts';
import { SqliteRecordStore } from '../../src/adapters/sqlite/sqlite-record-store.ts';
import { MemoryArchiveStore } from '../fakes/memory-archive-store.ts';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import type { ArchivalSettings } from '../../src/archival/archive-run.ts';
import type { ArchivalService } from '../../src/archival/archival-service.ts';
import { createServiceMetrics } from '../../src/composition/service-metrics.ts';
import { wireServices, type WiredServices } from '../../src/composition/wire-services.ts';
import { collectUnreferencedBlobs } from '../../src/archival/blob-collector.ts';
import { sha256Hex } from '../../src/domain/archive-artifact.ts';
import type { ArchivalPolicy } from '../../src/domain/archival-policy.ts';
import { type BillingRecord, serializeRecord } from '../../src/domain/billing-record.ts';
import { BILLING_PROFILE } from '../../src/domain/billing-profile.ts';
import { isBillingProfile, type RecordProfile } from '../../src/domain/record-profile.ts';
import { parseIsoDuration } from '../../src/domain/iso-duration.ts';
import { TOMBSTONE_PREFIX } from '../../src/domain/tombstone.ts';
import type { ArchiveLedger, LedgerCounts } from '../../src/ports/archive-ledger.ts';
import { readPurgedThrough } from '../../src/archival/purge-position.ts';
import type { ArchiveStore } from '../../src/ports/archive-store.ts';
import type { ArchivalControlStore } from '../../src/ports/archival-control-store.ts';
import type { RecordStore } from '../../src/ports/record-store.ts';
import type { ArchivedRecordReader } from '../../src/records/archived-record-reader.ts';
import type { RecordService } from '../../src/records/record-service.ts';
import type { FaultInjector } from '../fakes/fault-injection.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { silentLogger } from '../fakes/silent-logger.ts';

export { silentLogger };

export function policyOf(archiveAfter = 'P3M', gracePeriod = 'P7D', coolDown = 'P1D'): ArchivalPolicy {
  return {
    archiveAfter: parseIsoDuration(archiveAfter)!,
    gracePeriod: parseIsoDuration(gracePeriod)!,
    coolDown: parseIsoDuration(coolDown)!,
  };
}

/**
 * The archive and control store a world runs over: `memory` (the fakes) or `files` (the embedded
 * default's adapters on real files). ARCHIVAL_ADAPTERS sets the default, so any archival test or
 * `npm run sim` can be run over the files.
 */
export type WorldAdapters = 'memory' | 'files';
export const WORLD_ADAPTERS: readonly WorldAdapters[] = ['memory', 'files'];

function defaultAdapters(): WorldAdapters {
  return process.env.ARCHIVAL_ADAPTERS === 'files' ? 'files' : 'memory';
}

export interface ArchivalWorld {
  readonly clock: ManualClock;
  /** What the records are: the billing record (default), or a foreign profile's owner documents. */
  readonly profile: RecordProfile;
  /** The bytes a read answers for a record as the layer returned it (the API's, or the owner's). */
  text(record: BillingRecord): string;
  /** The real stores; `stores(injector)` wraps them for a run that may crash. */
  readonly store: SqliteRecordStore;
  readonly ledger: SqliteArchiveLedger;
  readonly archive: ArchiveStore;
  readonly control: ArchivalControlStore;
  readonly adapters: WorldAdapters;
  readonly policy: ArchivalPolicy;
  /** Every record blob the archive holds, in path order (listed through the port); tombstones left out. */
  archivePaths(): Promise<string[]>;
  stores(injector?: FaultInjector): {
    store: RecordStore;
    ledger: ArchiveLedger;
    archive: ArchiveStore;
    control: ArchivalControlStore;
  };
  /** The use cases as the composition wires them, over the (possibly wrapped) stores. */
  services(options?: { injector?: FaultInjector; settings?: Partial<ArchivalSettings> }): WiredServices;
  /** The archival use cases (runs, status, unpark, verify, collect). */
  engine(options?: { injector?: FaultInjector; settings?: Partial<ArchivalSettings> }): ArchivalService;
  /** The API's data-access layer over (possibly wrapped) stores. */
  records(injector?: FaultInjector): RecordService;
  reader(injector?: FaultInjector): ArchivedRecordReader;
  close(): Promise<void>;
}

/** One set of instruments for every world: a meter pipeline per wiring would pile up over many seeds. */
const HARNESS_METRICS = createServiceMetrics();

export function createArchivalWorld(
  options: {
    policy?: ArchivalPolicy;
    start?: string;
    adapters?: WorldAdapters;
    profile?: RecordProfile;
  } = {},
): ArchivalWorld {
  const clock = new ManualClock(options.start ?? '2026-01-15T12:00:00.000Z');
  const profile = options.profile ?? BILLING_PROFILE;
  const store = new SqliteRecordStore({ path: ':memory:', nowMs: () => clock.now().getTime(), profile });
  const ledger = new SqliteArchiveLedger({ path: ':memory:' });
  const adapters = options.adapters ?? defaultAdapters();
  // Files on tmpfs where there is one: the same code paths (fsync included), without the disk's latency.
  const folder =
    adapters === 'files'
      ? mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'archival-world-'))
      : undefined;
  const archive: ArchiveStore =
    folder === undefined ? new MemoryArchiveStore({ clock }) : new FileArchiveStore({ folder, clock });
  const control: ArchivalControlStore =
    folder === undefined
      ? new MemoryControlStore(clock)
      : new SqliteControlStore({ path: join(folder, 'control.sqlite'), clock });
  const policy = options.policy ?? policyOf();
  const stores = (injector?: FaultInjector) => ({
    store: injector ? injector.wrap('store', store as RecordStore) : store,
    ledger: injector ? injector.wrap('ledger', ledger as ArchiveLedger) : ledger,
    archive: injector ? injector.wrap('archive', archive as ArchiveStore) : archive,
    control: injector ? injector.wrap('control', control as ArchivalControlStore) : control,
  });
  // Every wiring is shut down with the world (its audit trail and private log with it), and the plain
  // one (no injector, default settings) is shared: a simulation asks for it thousands of times.
  const wirings: WiredServices[] = [];
  let plain: WiredServices | undefined;
  const services = ({
    injector,
    settings,
  }: { injector?: FaultInjector; settings?: Partial<ArchivalSettings> } = {}): WiredServices => {
    if (injector === undefined && settings === undefined && plain !== undefined) return plain;
    const wired = wireServices(stores(injector), {
      clock,
      log: silentLogger,
      policy,
      archival: { batchSize: 4, ...settings },
      metrics: HARNESS_METRICS,
      profile,
    });
    wirings.push(wired);
    if (injector === undefined && settings === undefined) plain = wired;
    return wired;
  };
  return {
    clock,
    profile,
    // A foreign profile's record is the owner's document: its bytes are its JSON (canonical: false).
    text: (record) => (isBillingProfile(profile) ? serializeRecord(record) : JSON.stringify(record)),
    store,
    ledger,
    archive,
    control,
    adapters,
    policy,
    async archivePaths() {
      const paths: string[] = [];
      let continuation: string | undefined;
      do {
        const page = await archive.list('', { pageSize: 5_000, ...(continuation ? { continuation } : {}) });
        paths.push(...page.items.map((item) => item.path));
        continuation = page.continuation;
      } while (continuation !== undefined);
      return paths.filter((path) => !path.startsWith(TOMBSTONE_PREFIX));
    },
    stores,
    services,
    engine: (options) => services(options).archival,
    records: (injector) => services(injector !== undefined ? { injector } : {}).records,
    reader: (injector) => services(injector !== undefined ? { injector } : {}).reader,
    async close() {
      await Promise.allSettled(wirings.map((wired) => wired.shutdown()));
      await store.close();
      await ledger.close();
      await archive.close();
      await control.close();
      if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** What callers were told: the latest acknowledged content of each record, or deleted. */
export type Acknowledged = Map<string, BillingRecord | 'deleted'>;

export const keyOf = (record: { customerId: string; id: string }): string =>
  `${record.customerId}/${record.id}`;

/**
 * The four invariants of DESIGN.md. `collect`: run the collector first (safety window 0) and then
 * require that no blob is unreferenced.
 */
export async function checkInvariants(
  world: ArchivalWorld,
  acknowledged: Acknowledged,
  options: { collect?: boolean } = {},
): Promise<string[]> {
  const violations: string[] = [];
  const records = world.records();
  // 1 and 4: every acknowledged write reads back with its latest content, bytes identical whatever the tier.
  for (const [key, expected] of acknowledged) {
    const [customerId, id] = key.split('/') as [string, string];
    let actual: string;
    try {
      actual = world.text((await records.get({ customerId, id })).record);
    } catch (error) {
      actual =
        (error as { code?: string }).code === 'NOT_FOUND' ? 'deleted' : `error ${(error as Error).message}`;
    }
    const wanted = expected === 'deleted' ? 'deleted' : world.text(expected);
    if (actual !== wanted)
      violations.push(
        `invariant 1: ${key} reads ${actual.slice(0, 80)} but ${wanted.slice(0, 80)} was acknowledged`,
      );
  }
  // 2 and 3: every stub points at a present blob whose hash matches.
  const referenced = new Set<string>();
  let after;
  do {
    const page = await world.store.scan({ tier: 'archived', limit: 100, ...(after ? { after } : {}) });
    for (const item of page.items) {
      const pointer = item.sys.archive!;
      referenced.add(pointer.blobPath);
      const blob = await world.archive.get(pointer.blobPath);
      if (blob === undefined)
        violations.push(`invariant 3: stub ${keyOf(item)} points at missing ${pointer.blobPath}`);
      else if (blob.properties.metadata.sha256 !== pointer.sha256)
        violations.push(`invariant 2: ${pointer.blobPath} hash differs from its stub`);
      else {
        const { gunzipSync } = await import('node:zlib');
        if (sha256Hex(gunzipSync(blob.body)) !== pointer.sha256)
          violations.push(`invariant 2: ${pointer.blobPath} bytes do not hash to the stub's sha256`);
      }
    }
    after = page.next;
  } while (after !== undefined);
  if (options.collect === true) {
    await collectUnreferencedBlobs(world, { safetyWindowMs: 0 });
    const entries = await world.ledger.query({ limit: 10_000 });
    for (const { entry } of entries.items) referenced.add(entry.blobPath);
    for (const path of await world.archivePaths()) {
      if (!referenced.has(path)) violations.push(`invariant 3: ${path} is unreferenced after collection`);
    }
  }
  return violations;
}

/** The ledger's counts as the status reads them: entries the purge's saved position passed are history. */
export async function ledgerCounts(world: Pick<ArchivalWorld, 'ledger' | 'control'>): Promise<LedgerCounts> {
  const purgedThrough = await readPurgedThrough(world.control);
  return world.ledger.counts(purgedThrough !== undefined ? { purgedThrough } : {});
}

/** Replaces a blob by other bytes under the same metadata: what bit rot or a bad hand edit looks like. */
export async function corruptBlob(world: ArchivalWorld, path: string): Promise<void> {
  const blob = await world.archive.get(path);
  if (blob === undefined) throw new Error(`no blob ${path}`);
  const { gunzipSync, gzipSync } = await import('node:zlib');
  const json = gunzipSync(blob.body).toString('utf8').replace('"version":', '"version" :');
  await world.archive.delete(path, {});
  await world.archive.putIfAbsent({
    path,
    body: gzipSync(json),
    contentType: blob.properties.contentType,
    contentEncoding: 'gzip',
    metadata: blob.properties.metadata,
    accessTier: 'Cold',
  });
}
