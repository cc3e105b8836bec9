// The one wiring of the use cases over ports: the server, the Functions edge, the CLI, the test
// harnesses, the simulation and the benchmarks all build their services here, each with its own
// adapters (real, in memory, or wrapped by a fault injector), so none of them wires by hand.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ArchivalRunEvents, ArchivalSettings } from '../archival/archive-run.ts';
import type { ArchivalRunner } from '../archival/archival-runner.ts';
import type { RunExecutor } from '../archival/run-reports.ts';
import { ArchivalService } from '../archival/archival-service.ts';
import type { LiveLatency } from '../archival/live-latency.ts';
import { SqliteAuditLog } from '../adapters/sqlite/sqlite-audit-log.ts';
import { ControlLegalHoldStore } from '../adapters/control/control-legal-hold-store.ts';
import { AuditTrail } from '../audit/audit-trail.ts';
import { buildCostReport, type CostReport, type CostSettings } from '../costs/cost-report.ts';
import { tierCountersOf } from '../costs/tier-counters.ts';
import { baselineIfEmpty, tierRecountJob } from '../costs/tier-recount.ts';
import type { ArchivalPolicy } from '../domain/archival-policy.ts';
import { DEFAULT_PRICES } from '../domain/cost-model.ts';
import { type JobActor, JobService, type JobReport, type JobStarter } from '../jobs/job-service.ts';
import { customerHoldMarkingJob, type HoldMarkingRequest } from '../records/customer-hold-marking.ts';
import type { ArchiveLedger } from '../ports/archive-ledger.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { ArchivalRunQueue } from '../ports/archival-run-queue.ts';
import type { AuditLog } from '../ports/audit-log.ts';
import type { Cache } from '../ports/cache.ts';
import type { LegalHoldStore } from '../ports/legal-hold-store.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore } from '../ports/record-store.ts';
import type { RecordProfile } from '../domain/record-profile.ts';
import type { TierCounterStore } from '../ports/tier-counter-store.ts';
import { ArchivedRecordReader } from '../records/archived-record-reader.ts';
import { bulkRehydrationJob, type BulkRehydrationRequest } from '../records/bulk-rehydration.ts';
import { exportCustomer, type ExportLine } from '../records/customer-export.ts';
import { CustomerLegalHolds } from '../records/customer-legal-holds.ts';
import { ReadSpikeDetector } from '../records/read-spike-detector.ts';
import { RecordService } from '../records/record-service.ts';
import { rebuildJob, type RebuildRequest } from '../records/archive-rebuild.ts';
import { erasureJob, type ErasureRequest, refuseHeldCustomer } from '../records/customer-erasure.ts';
import { PinRegister } from '../records/record-pins.ts';
import type { RecordRemovalDependencies, RemovalAudit } from '../records/record-removal.ts';
import { RecordTombstones } from '../records/record-tombstones.ts';
import { retentionJob, type RetentionRequest } from '../records/retention.ts';
import type { IsoDuration } from '../domain/iso-duration.ts';
import { createServiceMetrics, type ServiceMetrics } from './service-metrics.ts';

/** Who removes a tombstone: the collector, whoever started its pass (that start is audited on its own). */
const COLLECTOR_ACTOR = { sub: 'system:collector', roles: ['system'] } as const;

/** The adapters the use cases work over. */
export interface ServicePorts {
  readonly store: RecordStore;
  readonly ledger: ArchiveLedger;
  readonly archive: ArchiveStore;
  readonly control: ArchivalControlStore;
  /** The shared cache of archived reads; none means every archived read goes to the archive. */
  readonly cache?: Cache;
  /** Under Azure Functions: admin-started runs are queued here; none means they run in process. */
  readonly runQueue?: ArchivalRunQueue;
  /** The audit trail's store; absent (tests, benchmarks, simulation): a private SQLite log in memory. */
  readonly audit?: AuditLog;
  /** Customer holds and the hold register; absent: documents in the control store. */
  readonly holds?: LegalHoldStore;
}

export interface WiringOptions {
  readonly clock: Clock;
  /** What the records are (record-profile.ts); the billing record of API.md when absent. */
  readonly profile?: RecordProfile;
  readonly log: Logger;
  readonly policy: ArchivalPolicy;
  readonly archival?: Partial<ArchivalSettings>;
  /** The API's request latency, which slows the archiver when it rises (where this process serves the API). */
  readonly liveLatency?: Pick<LiveLatency, 'ratio'>;
  /** Where archival runs execute; absent: in this process (`npm start` gives its archival worker). */
  readonly archivalRunner?: ArchivalRunner;
  /**
   * Where this process's archival run events go instead of its own instruments: the archival worker
   * forwards them to the API's process, whose instruments /metrics reads.
   */
  readonly archivalEvents?: ArchivalRunEvents;
  /** Set in the archival worker process: its run reports name it. */
  readonly archivalExecutor?: RunExecutor;
  readonly collectorSafetyWindowMs?: number;
  readonly cacheTtlMs?: number;
  /** Decoded archived records kept in process in front of the cache; 0 (the default here) turns it off. */
  readonly decodedCacheBytes?: number;
  /**
   * Archived reads of one record within the window that bring it back hot (absent or 0: off);
   * `shared`: counted in the cache, across instances.
   */
  readonly readSpikes?: { readonly threshold: number; readonly windowMs: number; readonly shared?: boolean };
  /** How the cost report prices; the built-in price table, provisioned throughput and no cache when absent. */
  readonly cost?: CostSettings;
  /** Instruments to feed; a fresh registry when absent. */
  readonly metrics?: ServiceMetrics;
  /** Ids for records created without one (tests make them deterministic). */
  readonly newId?: () => string;
  /** This instance's audit chain id; a fresh one per process when absent. */
  readonly auditChain?: string;
  /** Read events are written within this long (1 s by default). */
  readonly auditFlushIntervalMs?: number;
  /** RETENTION_PERIOD: records issued longer ago are removed by retention runs; absent: kept for ever. */
  readonly retentionPeriod?: IsoDuration;
}

export interface WiredServices {
  readonly ports: ServicePorts;
  readonly metrics: ServiceMetrics;
  readonly reader: ArchivedRecordReader;
  readonly records: RecordService;
  readonly archival: ArchivalService;
  readonly jobs: JobService;
  readonly audit: AuditTrail;
  readonly legalHolds: CustomerLegalHolds;
  /** Bulk rehydration, the rollback of archival: in the background (API) or in this call (CLI). */
  readonly rehydrations: {
    start(request: BulkRehydrationRequest): Promise<{ jobId: string }>;
    run(
      request: BulkRehydrationRequest,
      options?: { signal?: AbortSignal; onProgress?: (report: JobReport) => void },
    ): Promise<JobReport>;
  };
  /** Retention runs (RETENTION_PERIOD); `enabled` is false when the period is empty (then they refuse). */
  readonly retention: JobStarter<RetentionRequest> & { readonly enabled: boolean };
  /** Erasure of a customer; refused with LEGAL_HOLD before the job starts while anything of it is held. */
  readonly erasure: JobStarter<ErasureRequest>;
  /** The stubs of every archived record recreated from the archive alone. */
  readonly rebuild: JobStarter<RebuildRequest>;
  /** A customer's records as NDJSON lines, both tiers, ascending issuedAt then id, streamed. */
  exportCustomer(customerId: string, options?: OperationOptions): AsyncIterable<ExportLine>;
  costReport(): Promise<CostReport>;
  /** The explicit recount of the tier totals that status and the cost report read, as a job. */
  readonly tierRecount: {
    start(): Promise<{ jobId: string }>;
    run(options?: { signal?: AbortSignal; onProgress?: (report: JobReport) => void }): Promise<JobReport>;
    /** A zero baseline for an empty store, instead of a recount later (see baselineIfEmpty). */
    baselineIfEmpty(): Promise<boolean>;
  };
  /** The tier totals, kept as work happens (status, cost report, the recount). */
  readonly tierCounters: TierCounterStore;
  /**
   * Sets the archival gauges from what is stored (the last successful run, the items needing
   * attention), at start; runs keep them current afterwards.
   */
  refreshArchivalGauges(): Promise<void>;
  /** Cancels background work and waits for it; closes no adapter (their opener does). */
  shutdown(): Promise<void>;
}

export function wireServices(ports: ServicePorts, options: WiringOptions): WiredServices {
  const { clock, log } = options;
  const metrics = options.metrics ?? createServiceMetrics();
  const reader = new ArchivedRecordReader({
    archive: ports.archive,
    ...(ports.cache !== undefined ? { cache: ports.cache } : {}),
    ...(options.cacheTtlMs !== undefined ? { cacheTtlMs: options.cacheTtlMs } : {}),
    decodedCacheBytes: options.decodedCacheBytes ?? 0,
    events: {
      onRead: (_stub, source, seconds) => {
        metrics.archivedReads.add(1, { source });
        metrics.archivedReadDuration.record(seconds, { source });
      },
      onIntegrityFailure: (stub, error) => {
        metrics.integrityFailures.add(1);
        log.error(
          { customerId: stub.customerId, recordId: stub.id, blobPath: stub.archive.blobPath, err: error },
          'archived blob failed its integrity check',
        );
      },
    },
  });
  const auditLog = ports.audit ?? new SqliteAuditLog({ path: ':memory:' });
  const audit = new AuditTrail({
    log: auditLog,
    clock,
    logger: log,
    chain: options.auditChain ?? newAuditChainId(),
    ...(options.auditFlushIntervalMs !== undefined ? { flushIntervalMs: options.auditFlushIntervalMs } : {}),
    onWritten: (events) => metrics.auditEvents.add(events.length),
  });
  const holds = ports.holds ?? new ControlLegalHoldStore(ports.control);
  const archiveHolds = ports.archive.legalHolds;
  const jobs = new JobService({ control: ports.control, clock, log });
  const legalHolds = new CustomerLegalHolds({
    holds,
    clock,
    ...(archiveHolds !== undefined
      ? {
          startMarking: (request: HoldMarkingRequest) =>
            jobs.start(customerHoldMarkingJob({ holds, store: ports.store, archiveHolds }, request)),
        }
      : {}),
  });
  const tierCounters = tierCountersOf(ports.control, log);
  const spikes = options.readSpikes;
  const tombstones = new RecordTombstones(ports.archive);
  const pins = new PinRegister(ports.control);
  const records = new RecordService({
    store: ports.store,
    clock,
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
    tierCounters,
    archive: reader,
    holds,
    tombstones,
    pins,
    ...(archiveHolds !== undefined ? { archiveHolds } : {}),
    ...(options.newId !== undefined ? { newId: options.newId } : {}),
    ...(spikes !== undefined && spikes.threshold > 0
      ? {
          readSpikes: {
            detector: new ReadSpikeDetector(spikes, clock, spikes.shared === true ? ports.cache : undefined),
            onRehydrated: (_key, result) => metrics.spikeRehydrations.add(1, { outcome: result }),
            onError: (key, error) => {
              metrics.spikeRehydrations.add(1, { outcome: 'failed' });
              log.warn(
                { customerId: key.customerId, recordId: key.id, err: error },
                'background rehydration failed',
              );
            },
          },
        }
      : {}),
  });
  const archival = new ArchivalService({
    store: ports.store,
    tierCounters,
    ledger: ports.ledger,
    archive: ports.archive,
    holds,
    control: ports.control,
    clock,
    policy: options.policy,
    log,
    events: options.archivalEvents ?? {
      onRecord: (step, outcome) => metrics.archivalRecords.add(1, { step, outcome }),
      onRunFinished: (report) => {
        metrics.archivalRuns.add(1, { status: report.status });
        metrics.archivalRequestUnits.add(report.requestCharge.requestUnits);
        if (report.status === 'succeeded' && report.finishedAt !== null)
          metrics.archivalLastSuccess.record(Date.parse(report.finishedAt) / 1000);
        // Eligible records this run saw and left hot (a dry run copies none of them).
        metrics.archivalBacklog.record(Math.max(0, report.counts.candidates - report.counts.copied));
        void tierCounters.flush().catch((error: unknown) => {
          log.warn({ err: error }, 'could not write the tier counters after a run');
        });
        void refreshAttention();
      },
    },
    ...(ports.runQueue !== undefined ? { runQueue: ports.runQueue } : {}),
    ...(options.archivalRunner !== undefined ? { runner: options.archivalRunner } : {}),
    ...(options.archivalExecutor !== undefined ? { executedBy: options.archivalExecutor } : {}),
    ...(options.archival !== undefined ? { settings: options.archival } : {}),
    ...(options.liveLatency !== undefined
      ? { liveLatencyRatio: options.liveLatency.ratio.bind(options.liveLatency) }
      : {}),
    ...(options.collectorSafetyWindowMs !== undefined
      ? { collectorSafetyWindowMs: options.collectorSafetyWindowMs }
      : {}),
    // Each tombstone removed is a deletion on record, as each record removed is.
    onTombstoneRemoved: (key, tombstone) =>
      audit.recordNow({
        at: clock.now().toISOString(),
        actor: COLLECTOR_ACTOR,
        action: 'archive.gc',
        customerId: key.customerId,
        recordId: key.id,
        status: 204,
        requestId: null,
        reason: `tombstone of ${key.customerId}/${key.id} (written ${tombstone.lastModified.toISOString()}) removed: no blob it hides is left`,
      }),
  });
  const refreshAttention = async (): Promise<void> => {
    try {
      const counts = await archival.attention();
      for (const [state, count] of Object.entries(counts) as Array<[string, number]>)
        metrics.archivalItems.record(count, { state });
    } catch (error) {
      log.warn({ err: error }, 'could not count the archival items needing attention');
    }
  };
  const rehydrationJob = (request: BulkRehydrationRequest) =>
    bulkRehydrationJob(
      { store: ports.store, rehydrate: (key, callOptions) => records.rehydrate(key, callOptions) },
      request,
    );
  const removal: RecordRemovalDependencies = {
    store: ports.store,
    ledger: ports.ledger,
    archive: ports.archive,
    holds,
    control: ports.control,
    reader,
    tombstones,
    tierCounters,
  };
  const removalAudit = (by: JobActor, why: string): RemovalAudit => {
    const reason = by.reason !== undefined ? `${why}; ${by.reason}` : why;
    return {
      reason,
      record: (key) =>
        audit.recordNow({
          at: clock.now().toISOString(),
          actor: by.actor,
          action: 'record.delete',
          customerId: key.customerId,
          recordId: key.id,
          status: 204,
          requestId: null,
          reason,
        }),
    };
  };
  const retentionOf = (request: RetentionRequest, by: JobActor) => {
    return retentionJob({ ...removal, clock, period: options.retentionPeriod }, request, (reason) =>
      removalAudit(by, reason),
    );
  };
  const erasureOf = (request: ErasureRequest, by: JobActor) =>
    erasureJob(removal, request, removalAudit(by, `erasure of customer ${request.customerId}`));
  const rebuildOf = (request: RebuildRequest) =>
    rebuildJob({ store: ports.store, archive: ports.archive, holds, pins, tombstones }, request);
  return {
    ports,
    metrics,
    reader,
    records,
    archival,
    jobs,
    audit,
    legalHolds,
    tierCounters,
    retention: {
      enabled: options.retentionPeriod !== undefined,
      start: (request, by) => jobs.start(retentionOf(request, by)),
      run: (request, by, runOptions) => jobs.run(retentionOf(request, by), runOptions),
    },
    erasure: {
      async start(request, by) {
        await refuseHeldCustomer(removal, request.customerId);
        return jobs.start(erasureOf(request, by));
      },
      async run(request, by, runOptions) {
        await refuseHeldCustomer(removal, request.customerId);
        return jobs.run(erasureOf(request, by), runOptions);
      },
    },
    rebuild: {
      start: (request) => jobs.start(rebuildOf(request)),
      run: (request, _by, runOptions) => jobs.run(rebuildOf(request), runOptions),
    },
    rehydrations: {
      start: (request) => jobs.start(rehydrationJob(request)),
      run: (request, runOptions) => jobs.run(rehydrationJob(request), runOptions),
    },
    exportCustomer: (customerId, exportOptions) =>
      exportCustomer(
        { store: ports.store, get: (key, callOptions) => records.getJson(key, callOptions) },
        customerId,
        exportOptions,
      ),
    costReport: () =>
      buildCostReport(
        { ...ports, counters: tierCounters },
        options.cost ?? defaultCostSettings(options.policy),
        clock.now(),
      ),
    tierRecount: {
      start: () => jobs.start(tierRecountJob({ ...ports, counters: tierCounters, clock })),
      run: (runOptions) => jobs.run(tierRecountJob({ ...ports, counters: tierCounters, clock }), runOptions),
      baselineIfEmpty: () => baselineIfEmpty({ ...ports, counters: tierCounters, clock }),
    },
    async refreshArchivalGauges() {
      await refreshAttention();
      try {
        const lastSuccess = (await archival.listRuns(20)).find((run) => run.status === 'succeeded');
        if (lastSuccess?.finishedAt != null)
          metrics.archivalLastSuccess.record(Date.parse(lastSuccess.finishedAt) / 1000);
      } catch (error) {
        log.warn({ err: error }, 'could not read the last archival runs');
      }
    },
    async shutdown() {
      await archival.shutdown();
      await jobs.shutdown();
      await records.whenIdle();
      await tierCounters.flush().catch((error: unknown) => {
        log.warn({ err: error }, 'could not write the tier counters at shutdown; a recount mends them');
      });
      // Last: the events of everything above are flushed before the adapters close.
      await audit.close();
      if (ports.audit === undefined) await auditLog.close();
    },
  };
}

function defaultCostSettings(policy: ArchivalPolicy): CostSettings {
  return {
    prices: DEFAULT_PRICES,
    throughput: { mode: 'provisioned', workloadRuPerSecond: 0 },
    peakToMean: 3,
    cacheTier: 'none',
    archiveAfterMonths: policy.archiveAfter.months + 12 * policy.archiveAfter.years,
  };
}

/** One chain per writer instance: the host and process make it readable, the random part unique. */
function newAuditChainId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 40)}-${process.pid}-${randomUUID().slice(0, 8)}`;
}
