// The public entry of the package (`import { openDataAccess } from 'billing-archive'`): the data-access
// layer for a service of its own, opened from settings or over the clients the service already holds.
// It is the same layer the HTTP API and the Functions edge use (src/composition/open-data-access.ts):
// tier-invisible reads, conditional writes with the record's own version, integrity checks on every
// archived read, single-flight archive reads, and the two-phase archival with its grace period.
import type { ArchivalService } from '../archival/archival-service.ts';
import {
  openDataAccess as openLayer,
  type DataAccessHooks,
  type DataAccessSource,
} from '../composition/open-data-access.ts';
import type { WiredServices } from '../composition/wire-services.ts';
import type { RecordService } from '../records/record-service.ts';

export type { DataAccessHooks, DataAccessSource } from '../composition/open-data-access.ts';
export type { ReadyClients } from '../composition/open-adapters.ts';
export { ConfigError } from '../config/app-config.ts';
/** The policies the engine's queries need (create containers with them, or check yours: `indexingGaps`). */
export {
  RECORDS_INDEXING_POLICY,
  LEDGER_INDEXING_POLICY,
  indexingGaps,
  recordsIndexingPolicy,
  describeGap,
  type IndexingGap,
} from '../composition/check-indexing.ts';
/** The HTTP API's bytes and ETag of a record: identical whatever tier served it. */
export { serializeRecord } from '../domain/billing-record.ts';
export { etagOf } from '../domain/etag.ts';
export { AppError, isAppError, hasCode, ERROR_CODES, type ErrorCode } from '../domain/errors.ts';
export type { RecordKey } from '../domain/record-rules.ts';
/** Record profiles: the built-in billing record, or an existing container's own documents. */
export { BILLING_PROFILE } from '../domain/billing-profile.ts';
export type { RecordProfile, AgeFormat } from '../domain/record-profile.ts';
export type { BillingRecord, RecordInput, RecordSummary, ListQuery } from '../domain/billing-record.ts';
export type {
  RecordRead,
  RecordPageResult,
  WritePreconditions,
  StorageTier,
} from '../records/record-service.ts';
export type { RehydrationResult } from '../records/rehydration.ts';
export type { BulkRehydrationRequest } from '../records/bulk-rehydration.ts';
export type { ArchivalStatus } from '../archival/archival-status.ts';
export type { RunOptions } from '../archival/archive-run.ts';
export type { RunReport } from '../archival/run-reports.ts';
export type { JobReport } from '../jobs/job-service.ts';
export type { OperationOptions } from '../ports/operation-options.ts';

/** What a service gets: the record operations, archival, rehydration and their status. */
export interface DataAccess {
  /** Reads and writes, whatever tier the record is in; failures are `AppError`s with a stable `code`. */
  readonly records: Pick<
    RecordService,
    'get' | 'create' | 'replace' | 'patch' | 'delete' | 'list' | 'rehydrate' | 'countByTier'
  >;
  /** Runs (in this call, or started in the background), their reports, the status, verify and collect. */
  readonly archival: Pick<
    ArchivalService,
    'run' | 'startRun' | 'getRun' | 'listRuns' | 'status' | 'verify' | 'collect'
  >;
  /** Bulk rehydration (the rollback of archival): started as a job, or run in this call. */
  readonly rehydrations: WiredServices['rehydrations'];
  /** Job reports of started rehydrations. */
  getJob(jobId: string): ReturnType<WiredServices['jobs']['get']>;
  /** One line per store, to log at start. */
  readonly description: readonly string[];
  /** Stops background work, then closes what it opened (never the caller's own clients). */
  close(): Promise<void>;
}

/**
 * Opens the layer. From settings (`{ settings: process.env }`: the README's settings table; SQLite and
 * the file archive need Node 22.5+), or over ready clients (`{ clients: { records, ledger, archive,
 * control, audit, redis? } }`: Cosmos DB containers, Blob container clients, an ioredis client; Node 20+).
 */
export async function openDataAccess(
  source: DataAccessSource,
  hooks: DataAccessHooks = {},
): Promise<DataAccess> {
  const opened = await openLayer(source, hooks);
  const { records, archival, rehydrations, jobs } = opened.services;
  return {
    records,
    archival,
    rehydrations,
    getJob: (jobId) => jobs.get(jobId),
    description: opened.adapters.description,
    close: () => opened.close(),
  };
}
