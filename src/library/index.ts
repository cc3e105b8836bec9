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
import type { BillingRecord, ListQuery, RecordSummary } from '../domain/billing-record.ts';
import type { RecordProfile } from '../domain/record-profile.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordService, StorageTier, WritePreconditions } from '../records/record-service.ts';
import type { RehydrationResult } from '../records/rehydration.ts';

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
  RecordApiRead,
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

/**
 * The record operations over documents of type `R` whose list items are `S`: the billing record and
 * its summary, or (with a record profile) the owner's documents and their stub fields.
 */
export interface RecordOperations<R = BillingRecord, S = RecordSummary> {
  get(
    key: RecordKey,
    options?: OperationOptions,
  ): Promise<{ readonly record: R; readonly tier: StorageTier }>;
  create(customerId: string, body: unknown, options?: OperationOptions): Promise<R>;
  replace(
    key: RecordKey,
    body: unknown,
    preconditions: WritePreconditions,
    options?: OperationOptions,
  ): Promise<R>;
  patch(
    key: RecordKey,
    patch: unknown,
    preconditions: WritePreconditions,
    options?: OperationOptions,
  ): Promise<R>;
  delete(key: RecordKey, preconditions: WritePreconditions, options?: OperationOptions): Promise<void>;
  list(
    customerId: string,
    query: ListQuery,
    options?: OperationOptions,
  ): Promise<{ readonly items: readonly S[]; readonly nextCursor: string | null }>;
  rehydrate(key: RecordKey, options?: OperationOptions): Promise<RehydrationResult>;
  countByTier: RecordService['countByTier'];
}

/** What a service gets: the record operations, archival, rehydration and their status. */
export interface DataAccess<R = BillingRecord, S = RecordSummary> {
  /** Reads and writes, whatever tier the record is in; failures are `AppError`s with a stable `code`. */
  readonly records: RecordOperations<R, S>;
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
export function openDataAccess(
  source: DataAccessSource & { readonly profile?: undefined },
  hooks?: DataAccessHooks,
): Promise<DataAccess>;
/**
 * With a record profile: the records are the owner's documents (`D`, as stored, byte for byte), list
 * items their stub fields; documents without the `sys` property (written before adoption) are hot.
 */
export function openDataAccess<D extends object = Record<string, unknown>>(
  source: DataAccessSource & { readonly profile: RecordProfile },
  hooks?: DataAccessHooks,
): Promise<DataAccess<D, Partial<D>>>;
export async function openDataAccess(
  source: DataAccessSource,
  hooks: DataAccessHooks = {},
): Promise<DataAccess<object, object>> {
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
