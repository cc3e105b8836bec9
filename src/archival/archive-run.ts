// One archival run: copy what became eligible, then purge what has passed its grace. Work is cut in
// monthly slices of issuedAt; a Blob lease per slice keeps workers apart (correctness never depends
// on it: every write is conditional). Each slice keeps a watermark so a run reads only records that
// crossed the age line since the last run, plus records modified behind the watermark.
import { randomBytes } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import pLimit from 'p-limit';
import { archiveCutoff } from '../domain/archival-policy.ts';
import type { ArchivalPolicy } from '../domain/archival-policy.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { ArchivalControlStore, Lease } from '../ports/archival-control-store.ts';
import {
  type LedgerPosition,
  ledgerKeyOf,
  type RetryPosition,
  type StoredLedgerEntry,
} from '../ports/archive-ledger.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { ScanItem, ScanPosition } from '../ports/record-store.ts';
import {
  type ArchivalStores,
  DEFAULT_MAX_ATTEMPTS,
  describeError,
  isCode,
  type StepContext,
  type StepOutcome,
} from './archival-context.ts';
import { copyRecord, planCopies } from './copy-step.ts';
import { AdaptiveConcurrency, DEFAULT_ADAPTIVE_CONCURRENCY } from './adaptive-concurrency.ts';
import { type ArchivalBudget, archivalBudget, DEFAULT_THROUGHPUT_SHARE } from './archival-budget.ts';
import { observeCongestion } from './congestion-observer.ts';
import { LeaseRenewal } from './lease-renewal.ts';
import { purgeEntry } from './purge-step.ts';
import {
  advancePosition,
  isSettled,
  positionHorizon,
  positionOf,
  PURGE_CONTROL_NAME,
  type PurgedItem,
  type PurgePass,
  readPurgedThrough,
  savePurgedThrough,
  settledHistoryDue,
} from './purge-position.ts';
import { QueryTally } from './query-tally.ts';
import { RequestBudget } from './request-budget.ts';
import { inRootSpan, inSpan } from '../telemetry/spans.ts';
import { monthsBetween, planSlice, type SliceState } from './slice-plan.ts';
import {
  emptyCounts,
  MAX_REPORTED_FAILURES,
  type RunCounts,
  type RunReport,
  type RunRequest,
  type RunExecutor,
  runRequestOf,
  type RunStatus,
  saveRunReport,
} from './run-reports.ts';

export interface ArchivalSettings {
  /** Records per scan page and per checkpoint. */
  readonly batchSize: number;
  /** Records in flight at the start of a run; the adaptive controller moves it between 1 and `maxConcurrency`. */
  readonly concurrency: number;
  readonly maxConcurrency: number;
  /** Monthly slices worked at once (each under its own lease); the controller bounds their calls together. */
  readonly sliceConcurrency: number;
  /** A run stops cleanly between batches after this long (a Functions timeout is 10 minutes). */
  readonly timeBudgetMs: number;
  /**
   * Sustained RU/s the archiver may spend; 0 for no limit; undefined: derived from the container's
   * throughput (see archival-budget.ts).
   */
  readonly requestUnitsPerSecond: number | undefined;
  /** Share of the container's throughput the derived budget takes. */
  readonly throughputShare: number;
  readonly maxAttempts: number;
  /** Blob lease duration (15-60 s) of a slice, the purge and the retries; renewed every third of it. */
  readonly leaseSeconds: number;
  /** Incremental runs sweep a whole slice again when its last full sweep is older than this. */
  readonly fullSweepEveryMs: number;
}

export const DEFAULT_ARCHIVAL_SETTINGS: ArchivalSettings = {
  batchSize: 100,
  // Against a remote service each record waits on about six round trips: 16 in flight from the start,
  // and up to 64 as the controller finds no congestion (it halves on 429s and latency growth).
  concurrency: 16,
  maxConcurrency: 64,
  // A slice pays about ten round trips of its own (lease, state, scans, checkpoints) whatever its size:
  // a run over 37 monthly slices is bounded by them unless most slices run at once.
  sliceConcurrency: 16,
  timeBudgetMs: 9 * 60_000,
  requestUnitsPerSecond: undefined,
  throughputShare: DEFAULT_THROUGHPUT_SHARE,
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  leaseSeconds: 60,
  fullSweepEveryMs: 30 * 24 * 3600_000,
};

export type ArchivalStep = 'copy' | 'purge';

/** What a run reports as it goes, for metrics (the composition maps these to instruments). */
export interface ArchivalRunEvents {
  /** One record handled by a step: copied, purged, skipped, failed or parked. */
  onRecord?(step: ArchivalStep, outcome: 'copied' | 'purged' | 'skipped' | 'failed' | 'parked'): void;
  /** The run's final report (status, counts, request charge). */
  onRunFinished?(report: RunReport): void;
}

export interface ArchivalEngineDependencies extends ArchivalStores {
  readonly events?: ArchivalRunEvents;
  readonly control: ArchivalControlStore;
  readonly clock: Clock;
  readonly policy: ArchivalPolicy;
  readonly log: Logger;
  readonly settings?: Partial<ArchivalSettings>;
  /** The live API's recent latency over its idle latency (back-pressure), where this process serves one. */
  readonly liveLatencyRatio?: () => number | undefined;
  /** Set in the archival worker process: its reports say so (and which process it is). */
  readonly executedBy?: RunExecutor;
}

export interface RunOptions extends RunRequest {
  readonly runId?: string;
  /** Sweep every slice whole, whatever its watermark. */
  readonly full?: boolean;
  readonly abortSignal?: AbortSignal;
  /** Called after each batch with the report so far (progress bars, heartbeats). */
  readonly onProgress?: (report: RunReport) => void;
}

export function newRunId(now: Date): string {
  return `run-${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

export class ArchivalEngine {
  readonly #deps: ArchivalEngineDependencies;
  readonly #settings: ArchivalSettings;

  constructor(dependencies: ArchivalEngineDependencies) {
    this.#deps = dependencies;
    this.#settings = { ...DEFAULT_ARCHIVAL_SETTINGS, ...dependencies.settings };
  }

  get settings(): ArchivalSettings {
    return this.#settings;
  }

  /** Runs to the end (or to the time budget, the limit, or a cancellation) and returns the final report. */
  async run(options: RunOptions = {}): Promise<RunReport> {
    const run = new Run(this.#deps, this.#settings, options);
    return run.execute();
  }
}

class Run {
  readonly #deps: ArchivalEngineDependencies;
  readonly #settings: ArchivalSettings;
  readonly #options: RunOptions;
  readonly #budget: RequestBudget;
  readonly #queries = new QueryTally();
  readonly #concurrency: AdaptiveConcurrency;
  #throughput: ArchivalBudget | undefined;
  /** Rebuilt once, when the run has read the purge's saved position (#execute). */
  #context: StepContext;
  readonly #startedAt: Date;
  readonly #runId: string;
  readonly #pilot: boolean;
  readonly #counts: RunCounts = emptyCounts();
  readonly #skipped: Record<string, number> = {};
  readonly #failures: string[] = [];
  /** Records the retry pass took up, so a sweep of their slice in the same run does not count them again. */
  readonly #retried = new Set<string>();
  /** The last report save queued: saves run one after another (see #save). */
  #saving: Promise<unknown> = Promise.resolve();
  /** A progress save queued and not yet started: later progress joins it instead of queueing its own. */
  #progressQueued: Promise<RunReport> | undefined;
  #stoppedBecause: string | undefined;
  /** The run's `limit` of copies is reached: the copy stops, the purge of what is due still runs. */
  #copyLimitReached = false;

  constructor(deps: ArchivalEngineDependencies, settings: ArchivalSettings, options: RunOptions) {
    this.#deps = deps;
    this.#settings = settings;
    this.#options = options;
    this.#startedAt = deps.clock.now();
    this.#runId = options.runId ?? newRunId(this.#startedAt);
    // The budget's rate is known once the run has read the container's throughput (#execute).
    this.#budget = new RequestBudget({ requestUnitsPerSecond: 0 }, deps.clock);
    this.#concurrency = new AdaptiveConcurrency(
      {
        ...DEFAULT_ADAPTIVE_CONCURRENCY,
        initial: settings.concurrency,
        max: Math.max(settings.concurrency, settings.maxConcurrency),
        ...(deps.liveLatencyRatio !== undefined ? { liveLatencyRatio: deps.liveLatencyRatio } : {}),
      },
      deps.clock,
    );
    const observe = <T extends object>(port: T, name: string): T =>
      observeCongestion(port, name, this.#concurrency, deps.clock, options.abortSignal);
    // A pilot (asOf or one customer) sweeps whole slices and leaves the watermarks alone.
    this.#pilot = options.asOf !== undefined || options.customerId !== undefined || options.full === true;
    this.#context = {
      store: observe(deps.store, 'store'),
      ledger: observe(deps.ledger, 'ledger'),
      archive: observe(deps.archive, 'archive'),
      ...(deps.holds !== undefined ? { holds: deps.holds } : {}),
      ...(deps.tierCounters !== undefined ? { tierCounters: deps.tierCounters } : {}),
      clock: deps.clock,
      policy: deps.policy,
      asOf: options.asOf === undefined ? this.#startedAt : new Date(options.asOf),
      maxAttempts: settings.maxAttempts,
      callOptions: {
        onRequestCharge: this.#budget.charge,
        onQueryPage: this.#queries.add,
        priority: 'low',
        ...(options.abortSignal !== undefined ? { abortSignal: options.abortSignal } : {}),
      },
    };
  }

  execute(): Promise<RunReport> {
    // A run is a trace of its own: a span per slice and per batch below it.
    return inRootSpan('archival.run', { 'archival.run_id': this.#runId }, async (span) => {
      const report = await this.#execute();
      span.setAttributes({
        'archival.status': report.status,
        'archival.copied': report.counts.copied,
        'archival.purged': report.counts.purged,
        'archival.failed': report.counts.failed,
      });
      this.#deps.events?.onRunFinished?.(report);
      return report;
    });
  }

  async #execute(): Promise<RunReport> {
    const log = this.#deps.log;
    this.#throughput = await this.#resolveBudget();
    this.#budget.setRate(this.#throughput.requestUnitsPerSecond);
    log.info(
      { runId: this.#runId, request: this.#request(), budget: this.#throughput },
      'archival run started',
    );
    await this.#save('running');
    let status: RunStatus;
    try {
      // The purge follows the copy rather than overlapping it: a purge dropping a record's stale entry
      // while the copy rewrites that entry would turn the new copy away until the next run.
      const purgedThrough = await readPurgedThrough(this.#deps.control, this.#context.callOptions);
      if (purgedThrough !== undefined) this.#context = { ...this.#context, purgedThrough };
      await this.#copyPhase();
      if (this.#options.dryRun !== true && !this.#shouldStop()) await this.#purgePhase();
      if (this.#copyLimitReached) this.#stoppedBecause ??= `limit of ${this.#options.limit} records reached`;
      status =
        this.#stoppedBecause !== undefined ? 'partial' : this.#counts.failed > 0 ? 'partial' : 'succeeded';
    } catch (error) {
      this.#stoppedBecause = describeError(error);
      log.error({ runId: this.#runId, err: error }, 'archival run failed');
      status = this.#counts.copied + this.#counts.purged > 0 ? 'partial' : 'failed';
    }
    const report = await this.#save(status);
    log.info(
      { runId: this.#runId, status, counts: report.counts, requestCharge: report.requestCharge },
      'archival run finished',
    );
    return report;
  }

  // ---- Phase 1: copy ----

  async #copyPhase(): Promise<void> {
    await this.#retryFailedCopies();
    if (this.#copyShouldStop()) return;
    const cutoff = archiveCutoff(this.#deps.policy, this.#context.asOf).toISOString();
    const oldest = await this.#deps.store.scan(
      { tier: 'hot', issuedBefore: cutoff, limit: 1, ...this.#customerFilter() },
      this.#context.callOptions,
    );
    const first = oldest.items[0];
    if (first === undefined) return;
    // Slices in parallel, each under its own lease; the concurrency controller bounds their calls together.
    const slices = pLimit(this.#settings.sliceConcurrency);
    await settleAll(
      monthsBetween(first.issuedAt.slice(0, 7), cutoff.slice(0, 7)).map((month) =>
        slices(async () => {
          if (this.#copyShouldStop()) return;
          await this.#stopsAllOnFailure(this.#copySlice(month, cutoff));
        }),
      ),
    );
  }

  #copySlice(month: string, cutoff: string): Promise<void> {
    return inSpan('archival.slice', { 'archival.slice': month }, () => this.#copySliceInSpan(month, cutoff));
  }

  async #copySliceInSpan(month: string, cutoff: string): Promise<void> {
    const control = this.#deps.control;
    const name = `slices/${month}.json`;
    const lease = await control.acquireLease(name, this.#settings.leaseSeconds, this.#context.callOptions);
    if (lease === undefined) {
      this.#skip('slice-leased-by-another-worker');
      return;
    }
    await this.#underLease(lease, async (renewal) => {
      const state = (await control.read<SliceState | null>(name, this.#context.callOptions))?.value ?? {};
      const plan = planSlice({
        state,
        month,
        cutoff,
        nowMs: this.#deps.clock.now().getTime(),
        policy: this.#deps.policy,
        fullSweepEveryMs: this.#settings.fullSweepEveryMs,
        pilot: this.#pilot,
        scope: {
          ...(this.#options.customerId !== undefined ? { customerId: this.#options.customerId } : {}),
          ...(this.#options.asOf !== undefined ? { asOf: this.#options.asOf } : {}),
        },
      });
      // Whether a checkpoint of this scan is stored: a pilot, which writes nothing else, then clears it.
      let ownCheckpoint = plan.ranges.some((range) => range.id === state.checkpoint?.range);
      for (const { id, resumeAfter, ...range } of plan.ranges) {
        let after = resumeAfter;
        const scan = (position: ScanPosition | undefined) =>
          prefetched(
            this.#context.store.scan(
              {
                tier: 'hot',
                ...range,
                limit: this.#settings.batchSize,
                ...this.#customerFilter(),
                ...(position ? { after: position } : {}),
              },
              this.#context.callOptions,
            ),
          );
        let pending = scan(after);
        for (;;) {
          const page = await pending;
          // The next page is read while this one is copied (a keyset position: copies do not move it).
          if (page.next !== undefined) pending = scan(page.next);
          await this.#copyPage(page.items);
          // Cut short inside the page (cancelled, or the run's limit): the checkpoint stays at the page's
          // start, so its records not yet copied are scanned again instead of waiting for a full sweep.
          if (
            this.#options.abortSignal?.aborted === true ||
            this.#stoppedBecause !== undefined ||
            this.#copyLimitReached
          )
            return;
          after = page.next;
          const checkpoint =
            after === undefined
              ? undefined
              : { range: id, position: after, scanStartedMs: plan.scanStartedMs };
          if (!(await this.#holds(name, renewal))) return;
          // A pilot keeps the slice state as it found it, but for its own checkpoints while it runs.
          if (!this.#pilot || checkpoint !== undefined || ownCheckpoint) {
            const next = checkpoint === undefined ? plan.settled : { ...state, checkpoint };
            if (!(await this.#writeSlice(name, lease, next))) return;
            ownCheckpoint = checkpoint !== undefined;
          }
          this.#saveProgress();
          if (after === undefined) break;
          if (this.#copyShouldStop()) return;
        }
      }
      if (plan.completed !== undefined) await this.#writeSlice(name, lease, plan.completed);
    });
  }

  async #copyPage(items: readonly ScanItem[]): Promise<void> {
    // Cancelled: no task of the batch would run, so the page is not looked up either.
    const plans =
      this.#options.abortSignal?.aborted === true
        ? []
        : await planCopies(
            this.#context,
            items.filter((item) => !this.#retried.has(ledgerKeyOf(item))),
          );
    await this.#processBatch(
      'copy',
      plans.map((plan) => () => {
        if ('lookupFailed' in plan) throw plan.lookupFailed;
        if ('skip' in plan) return Promise.resolve({ kind: 'skipped', reason: plan.skip } as const);
        return this.#copyOne(plan.item, plan.ledger);
      }),
    );
  }

  /**
   * Copies whose last attempt failed are retried once their backoff is over, found through their ledger
   * entries: incremental scans never read behind the watermark again, so they would wait for the next
   * full sweep. A lease (taken only when there is work) keeps two workers from retrying the same items.
   */
  async #retryFailedCopies(): Promise<void> {
    const control = this.#deps.control;
    const name = 'retries.json';
    const dueBy = this.#context.asOf.toISOString();
    const query = (after: RetryPosition | undefined) =>
      this.#deps.ledger.queryDueRetries(
        { dueBy, limit: this.#settings.batchSize, ...this.#customerFilter(), ...(after ? { after } : {}) },
        this.#context.callOptions,
      );
    try {
      let page = await query(undefined);
      if (page.items.length === 0) return;
      const lease = await control.acquireLease(name, this.#settings.leaseSeconds, this.#context.callOptions);
      if (lease === undefined) {
        this.#skip('retries-leased-by-another-worker');
        return;
      }
      await this.#underLease(lease, async (renewal) => {
        for (;;) {
          for (const { entry } of page.items) this.#retried.add(ledgerKeyOf(entry));
          await this.#processBatch(
            'copy',
            page.items.map(
              (stored) => () =>
                this.#copyOne({ customerId: stored.entry.customerId, id: stored.entry.id }, stored),
            ),
          );
          if (this.#options.abortSignal?.aborted === true || this.#stoppedBecause !== undefined) return;
          if (!(await this.#holds(name, renewal))) return;
          this.#saveProgress();
          if (page.next === undefined || this.#copyShouldStop()) return;
          page = await query(page.next);
        }
      });
    } catch (error) {
      // The slices' own work goes on: a retry that cannot be found now is found by a later run.
      if (this.#options.abortSignal?.aborted === true) return;
      this.#count('copy', { kind: 'failed', reason: `retries: ${describeError(error)}`, parked: false });
    }
  }

  async #copyOne(key: RecordKey, ledger: StoredLedgerEntry | undefined): Promise<StepOutcome | undefined> {
    if (this.#options.limit !== undefined && this.#counts.candidates >= this.#options.limit) {
      this.#copyLimitReached = true;
      return undefined;
    }
    this.#counts.candidates += 1;
    if (this.#options.dryRun === true) return undefined;
    await this.#spend();
    return copyRecord(this.#context, key, ledger);
  }

  // ---- Phase 2: purge ----

  async #purgePhase(): Promise<void> {
    const name = PURGE_CONTROL_NAME;
    const lease = await this.#deps.control.acquireLease(
      name,
      this.#settings.leaseSeconds,
      this.#context.callOptions,
    );
    if (lease === undefined) {
      this.#skip('purge-leased-by-another-worker');
      return;
    }
    await this.#underLease(lease, async (renewal) => {
      // Due by asOf, or by now when asOf is earlier: a copy is due no earlier than its write (copy-step.ts),
      // so a run as of a moment ago still purges its own copies with no grace period.
      const asOf = new Date(
        Math.max(this.#context.asOf.getTime(), this.#deps.clock.now().getTime()),
      ).toISOString();
      // Past the saved position: what lies before it is history, not read again. A run for one customer
      // saves none (its pass says nothing of the others' entries); a run at another instant (asOf) may,
      // as the horizon keeps the position behind both that instant and the run's real start.
      const start = await readPurgedThrough(this.#deps.control, this.#context.callOptions);
      let saving = this.#options.customerId === undefined;
      // When each page was asked for: the position passes only entries due before it (positionHorizon).
      const query = (after: LedgerPosition | undefined) => {
        const readAt = this.#deps.clock.now();
        return prefetched(
          this.#context.ledger
            .query(
              {
                state: 'copied',
                parked: false,
                dueBy: asOf,
                limit: this.#settings.batchSize,
                ...this.#customerFilter(),
                ...(after ? { after } : {}),
              },
              this.#context.callOptions,
            )
            .then((page) => ({ ...page, readAt })),
        );
      };
      let pending = query(start);
      let pass: PurgePass = { through: start, stop: undefined };
      let historyDue: string | undefined;
      let after;
      do {
        const page = await pending;
        // The next page is read while this one is purged.
        if (page.next !== undefined) pending = query(page.next);
        historyDue ??= settledHistoryDue(page.readAt);
        const due = historyDue;
        const settled = page.items.map(() => false);
        const movedTo = page.items.map((): string | undefined => undefined);
        await this.#processBatch(
          'purge',
          page.items.map((stored, index) => async () => {
            if (stored.entry.nextAttemptAt !== undefined && stored.entry.nextAttemptAt > asOf) {
              return { kind: 'skipped', reason: 'backing-off' } as const;
            }
            await this.#spend();
            const outcome = await purgeEntry(this.#context, stored, due);
            settled[index] = isSettled(outcome);
            if (outcome.kind === 'purged') movedTo[index] = outcome.movedTo;
            return outcome;
          }),
        );
        after = page.next;
        if (!(await this.#holds(name, renewal))) saving = false;
        if (saving) {
          // Each entry where it stands now: one the purge moved back is passed there.
          const purged: PurgedItem[] = page.items.map(({ entry }, index) => ({
            read: entry,
            at: { ...positionOf(entry), purgeAfter: movedTo[index] ?? entry.purgeAfter },
            settled: settled[index] === true,
          }));
          const advanced = advancePosition(pass, purged, positionHorizon(page.readAt));
          if (advanced.through !== undefined && advanced.through !== pass.through)
            await savePurgedThrough(this.#deps.control, lease, advanced.through, this.#context.callOptions);
          pass = advanced;
        }
        this.#saveProgress();
      } while (after !== undefined && !this.#shouldStop());
    });
  }

  // ---- Shared ----

  /** A branch that fails stops its siblings at their next check, as the sequential run stopped. */
  async #stopsAllOnFailure(branch: Promise<void>): Promise<void> {
    try {
      await branch;
    } catch (error) {
      this.#stoppedBecause ??= describeError(error);
      throw error;
    }
  }

  /** Waits for the request-unit budget; a wait keeps the concurrency controller from adding calls. */
  async #spend(): Promise<void> {
    if (await this.#budget.acquire(this.#options.abortSignal)) this.#concurrency.budgetWaited();
  }

  /** The set figure, else a share of what the container has (read once per run, never fatal). */
  async #resolveBudget(): Promise<ArchivalBudget> {
    const { requestUnitsPerSecond, throughputShare } = this.#settings;
    if (requestUnitsPerSecond !== undefined)
      return archivalBudget(requestUnitsPerSecond, throughputShare, { kind: 'embedded' });
    const throughput = await this.#deps.store
      .readThroughput(this.#context.callOptions)
      .catch((error: unknown) => ({ kind: 'unknown', reason: describeError(error) }) as const);
    return archivalBudget(undefined, throughputShare, throughput);
  }

  #processBatch(
    step: ArchivalStep,
    tasks: ReadonlyArray<() => Promise<StepOutcome | undefined>>,
  ): Promise<void> {
    if (tasks.length === 0) return this.#processTasks(step, tasks);
    return inSpan('archival.batch', { 'archival.step': step, 'archival.batch_size': tasks.length }, () =>
      this.#processTasks(step, tasks),
    );
  }

  async #processTasks(
    step: ArchivalStep,
    tasks: ReadonlyArray<() => Promise<StepOutcome | undefined>>,
  ): Promise<void> {
    await Promise.all(
      tasks.map(async (task) => {
        try {
          await this.#concurrency.acquire(this.#options.abortSignal);
        } catch {
          return; // cancelled while waiting for a slot
        }
        try {
          if (this.#options.abortSignal?.aborted === true) return;
          const outcome = await task();
          if (outcome !== undefined) this.#count(step, outcome);
        } catch (error) {
          this.#count(step, { kind: 'failed', reason: describeError(error), parked: false });
        } finally {
          this.#concurrency.release();
        }
      }),
    );
    // Embedded stores answer without I/O (SQLite is synchronous; with no request-unit budget nothing
    // sleeps), so a whole phase could run as one chain of microtasks: no timer, signal (Ctrl+C) or IPC
    // message would be handled until it ended. One turn of the event loop per batch lets them in.
    await setImmediate();
    this.#options.onProgress?.(this.#report('running'));
  }

  #count(step: ArchivalStep, outcome: StepOutcome): void {
    this.#deps.events?.onRecord?.(
      step,
      outcome.kind === 'failed' && outcome.parked ? 'parked' : outcome.kind,
    );
    if (outcome.kind === 'skipped') this.#skip(outcome.reason.split(':')[0] ?? outcome.reason);
    else if (outcome.kind !== 'failed') this.#counts[outcome.kind] += 1;
    else {
      this.#counts.failed += 1;
      if (this.#failures.length < MAX_REPORTED_FAILURES) this.#failures.push(outcome.reason);
      this.#deps.log.warn(
        { runId: this.#runId, reason: outcome.reason, parked: outcome.parked },
        'archival step failed',
      );
    }
  }

  #skip(reason: string): void {
    this.#counts.skipped += 1;
    this.#skipped[reason] = (this.#skipped[reason] ?? 0) + 1;
  }

  /**
   * Runs `work` under a lease renewed on a timer (a third of its duration), so a page slower than the
   * lease keeps it; the timer ends before the lease is released, whatever `work` does.
   */
  async #underLease(lease: Lease, work: (renewal: LeaseRenewal) => Promise<void>): Promise<void> {
    const renewal = new LeaseRenewal(this.#deps.control, lease, this.#deps.clock, {
      everyMs: (this.#settings.leaseSeconds * 1000) / 3,
      callOptions: this.#context.callOptions,
    });
    try {
      await work(renewal);
    } finally {
      await renewal.stop();
      await this.#deps.control.releaseLease(lease).catch(() => undefined);
    }
  }

  /**
   * Renews the lease between batches (the timer renews it within them): false, and the run stops, once
   * another worker has taken it.
   */
  async #holds(name: string, renewal: LeaseRenewal): Promise<boolean> {
    if (await renewal.confirm()) return true;
    this.#stoppedBecause ??= `lost the lease on ${name} to another worker`;
    return false;
  }

  /**
   * Writes the slice state under its lease, fenced: a worker that lost the lease (taken between two
   * renewals) is refused, and stops instead of overwriting the new holder's watermark or checkpoint.
   */
  async #writeSlice(name: string, lease: Lease, state: SliceState): Promise<boolean> {
    try {
      await this.#deps.control.write<SliceState>(name, state, { lease }, this.#context.callOptions);
      return true;
    } catch (error) {
      if (!isCode(error, 'PRECONDITION_FAILED')) throw error;
      this.#stoppedBecause ??= `lost the lease on ${name} to another worker`;
      return false;
    }
  }

  /** The copy phase stops at the run's limit too; the purge does not (a limit counts copies). */
  #copyShouldStop(): boolean {
    return this.#copyLimitReached || this.#shouldStop();
  }

  #shouldStop(): boolean {
    if (this.#stoppedBecause !== undefined) return true;
    if (this.#options.abortSignal?.aborted === true) this.#stoppedBecause = 'cancelled';
    else if (this.#deps.clock.now().getTime() - this.#startedAt.getTime() >= this.#settings.timeBudgetMs) {
      this.#stoppedBecause = `time budget of ${this.#settings.timeBudgetMs} ms used; the next run resumes from the checkpoint`;
    }
    return this.#stoppedBecause !== undefined;
  }

  #customerFilter(): { customerId?: string } {
    return this.#options.customerId === undefined ? {} : { customerId: this.#options.customerId };
  }

  #request(): RunRequest {
    return runRequestOf(this.#options);
  }

  #report(status: RunStatus): RunReport {
    const now = this.#deps.clock.now();
    return {
      runId: this.#runId,
      status,
      request: this.#request(),
      counts: { ...this.#counts },
      startedAt: this.#startedAt.toISOString(),
      finishedAt: status === 'running' ? null : now.toISOString(),
      heartbeatAt: now.toISOString(),
      ...(this.#stoppedBecause !== undefined ? { stoppedBecause: this.#stoppedBecause } : {}),
      skippedReasons: { ...this.#skipped },
      failures: [...this.#failures],
      requestCharge: this.#budget.spent,
      ...(this.#queries.totals !== undefined ? { queries: this.#queries.totals } : {}),
      ...(this.#throughput !== undefined
        ? { throughput: { ...this.#throughput, concurrency: this.#concurrency.report() } }
        : {}),
      ...(this.#deps.executedBy !== undefined ? { executedBy: this.#deps.executedBy } : {}),
      durationMs: now.getTime() - this.#startedAt.getTime(),
    };
  }

  /**
   * Saves the report so far behind the work, not in its way (a save never rejects): slices and pages
   * go on while it is written, and progress made meanwhile joins the save still queued.
   */
  #saveProgress(): void {
    void this.#save('running');
  }

  /**
   * One save at a time, each report made when its turn comes: slices save side by side, and two writes
   * in flight could land out of order, leaving an older report (or a `running` one after the last) stored.
   * A progress save queued behind another is shared, so a run writes at most one report per round trip.
   */
  #save(status: RunStatus): Promise<RunReport> {
    if (status === 'running' && this.#progressQueued !== undefined) return this.#progressQueued;
    const saved = this.#saving.then(async () => {
      if (status === 'running') this.#progressQueued = undefined;
      const report = this.#report(status);
      try {
        await saveRunReport(this.#deps.control, report);
      } catch (error) {
        // The run's work is safe without its report; say so and go on.
        this.#deps.log.warn({ runId: this.#runId, err: error }, 'could not save the run report');
      }
      return report;
    });
    this.#saving = saved;
    if (status === 'running') this.#progressQueued = saved;
    return saved;
  }
}

/** A read started ahead of its use: if the run stops before using it, its failure is nobody's. */
function prefetched<T>(pending: Promise<T>): Promise<T> {
  pending.catch(() => undefined);
  return pending;
}

/** Waits for every branch (none is left running behind the run's report), then throws the first failure. */
async function settleAll(branches: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(branches);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
