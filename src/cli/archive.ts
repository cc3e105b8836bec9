// `npm run archive -- <command>`: run | status | verify | gc | rehydrate | export | unpark | recount | cost-report
// | runs | retention | erase | rebuild | check-indexing.
// Each command parses its options, calls one use case (the same as the admin API's), and prints a
// progress bar (stderr) and a summary table.
import { createWriteStream } from 'node:fs';
import { userInfo } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { RunReport } from '../archival/run-reports.ts';
import type { JobReport } from '../jobs/job-service.ts';
import type { ExportLine } from '../records/customer-export.ts';
import { checkRecordsIndexing, describeGap } from '../composition/check-indexing.ts';
import { isAppError } from '../domain/errors.ts';
import { parseIsoDuration, addDuration } from '../domain/iso-duration.ts';
import { auditCli } from './cli-audit.ts';
import { type CliServices, withCliServices } from './cli-services.ts';
import { loadConfigOrExit } from './serve.ts';

const program = new Command()
  .name('archive')
  .description('Operate the archival of billing records (the same use cases as the admin API)')
  .showHelpAfterError();

function asInstant(value: string): string {
  const time = Date.parse(value);
  if (!Number.isFinite(time))
    throw new InvalidArgumentError('expected a date-time such as 2026-01-01T00:00:00Z');
  return new Date(time).toISOString();
}

function asPositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new InvalidArgumentError('expected a whole number of 1 or more');
  return number;
}

function asFixedDurationMs(value: string): number {
  const duration = parseIsoDuration(value);
  if (duration === undefined || duration.months !== 0 || duration.years !== 0) {
    throw new InvalidArgumentError('expected a fixed ISO 8601 duration such as PT1H or P1D');
  }
  return addDuration(new Date(0), duration).getTime();
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const output = new Table({ head, style: { head: [], border: [] } });
  output.push(...rows);
  return output.toString();
}

function printJobReport(report: JobReport): void {
  console.log(
    table(
      ['job', 'kind', 'status', ...Object.keys(report.counts)],
      [[report.jobId, report.kind, report.status, ...Object.values(report.counts)]],
    ),
  );
  if (report.stoppedBecause !== undefined) console.log(`Stopped early: ${report.stoppedBecause}`);
  for (const failure of report.failures.slice(0, 20)) console.log(`  failed: ${failure}`);
  if ((report.counts.failed ?? 0) > 0) console.log('Run the same command again to retry what failed.');
}

function printRunReport(report: RunReport): void {
  console.log(
    table(
      ['run', 'status', 'candidates', 'copied', 'purged', 'skipped', 'failed', 'request charge', 'duration'],
      [
        [
          report.runId,
          report.status,
          report.counts.candidates,
          report.counts.copied,
          report.counts.purged,
          report.counts.skipped,
          report.counts.failed,
          `${report.requestCharge.requestUnits.toFixed(1)} RU${report.requestCharge.estimated ? ' (estimated)' : ''}`,
          `${(report.durationMs / 1000).toFixed(1)} s`,
        ],
      ],
    ),
  );
  const reasons = Object.entries(report.skippedReasons);
  if (reasons.length > 0) console.log(table(['skipped because', 'records'], reasons));
  const queries = report.queries;
  if (queries !== undefined) {
    // Queries without a partition key go to every physical partition: this is what that cost.
    const loaded = queries.service
      ? `; the service loaded ${queries.service.retrievedDocuments} documents (${queries.service.retrievedBytes} bytes) to return ${queries.service.outputDocuments}`
      : '';
    console.log(
      `Queries: ${queries.pages} pages, ${queries.partitionRequests} partition requests (widest page: ${queries.maxPartitionRequestsPerPage})${loaded}`,
    );
  }
  if (report.stoppedBecause !== undefined) console.log(`Stopped early: ${report.stoppedBecause}`);
  if (report.status === 'partial' && report.counts.failed === 0)
    console.log(
      'Run the same command again to go on from the checkpoint (--time-budget PT2H runs longer in one go).',
    );
  for (const failure of report.failures.slice(0, 20)) console.log(`  failed: ${failure}`);
  if (report.counts.failed > 0)
    console.log('Failed items are retried with backoff by later runs; see `archive status`.');
}

program
  .command('run')
  .description('Copy eligible records to the archive, then purge those past their grace period')
  .addOption(
    new Option('--as-of <date-time>', 'evaluate eligibility (and grace) as of this instant').argParser(
      asInstant,
    ),
  )
  .option('--dry-run', 'count the candidates, write nothing')
  .addOption(
    new Option('--limit <n>', 'copy at most n records (copies already due are still purged)').argParser(
      asPositiveInteger,
    ),
  )
  .option('--customer <customerId>', 'only this customer (a pilot)')
  .option('--full', 'sweep every slice whole, ignoring the watermarks')
  .option('--reason <text>', 'why: recorded in the audit trail')
  .option(
    '--time-budget <duration>',
    'stop cleanly after this long (ISO 8601, e.g. PT2H), instead of ARCHIVE_TIME_BUDGET, for a long run by hand',
  )
  .action(
    (options: {
      asOf?: string;
      dryRun?: boolean;
      limit?: number;
      customer?: string;
      full?: boolean;
      reason?: string;
      timeBudget?: string;
    }) =>
      withCliServices(async (services) => {
        await auditCli(services, 'archival.run', { customerId: options.customer, reason: options.reason });
        const bar = new cliProgress.SingleBar({
          format:
            'archive run | copied {copied} | purged {purged} | skipped {skipped} | failed {failed} | {ru} RU | {duration_formatted}',
          noTTYOutput: true,
          notTTYSchedule: 5_000,
        });
        bar.start(1, 0, { copied: 0, purged: 0, skipped: 0, failed: 0, ru: 0 });
        const report = await services.archival.run({
          ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
          ...(options.dryRun === true ? { dryRun: true } : {}),
          ...(options.limit !== undefined ? { limit: options.limit } : {}),
          ...(options.customer !== undefined ? { customerId: options.customer } : {}),
          ...(options.full === true ? { full: true } : {}),
          abortSignal: services.abortSignal,
          onProgress: (progress) =>
            bar.update(0, { ...progress.counts, ru: progress.requestCharge.requestUnits.toFixed(0) }),
        });
        bar.stop();
        printRunReport(report);
        return report.status === 'succeeded'
          ? 0
          : report.status === 'partial' && report.counts.failed === 0
            ? 0
            : 1;
      }, timeBudgetSetting(options.timeBudget)),
  );

/** `--time-budget` is ARCHIVE_TIME_BUDGET for this run: checked by the same schema, refused the same way. */
function timeBudgetSetting(value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { ARCHIVE_TIME_BUDGET: value };
}

program
  .command('check-indexing')
  .description(
    "Read the records container's indexing policy and report what the engine's queries need that it lacks (changes nothing)",
  )
  .option('--json', 'print the gaps as JSON')
  .action(async (options: { json?: boolean }) => {
    const config = loadConfigOrExit();
    try {
      const report = await checkRecordsIndexing(config);
      if (options.json === true) console.log(JSON.stringify(report, null, 2));
      else if (report.gaps.length === 0)
        console.log(`${report.container}: the indexing policy has everything the engine's queries need.`);
      else {
        console.log(`${report.container}: the indexing policy lacks what the engine's queries need:`);
        for (const gap of report.gaps) console.log(`  - ${describeGap(gap)}`);
        console.log('Add these to the policy in your infrastructure code, then run this again.');
      }
      process.exit(report.gaps.length === 0 ? 0 : 2);
    } catch (error) {
      console.error(isAppError(error) ? `${error.code}: ${error.message}` : (error as Error).message);
      console.error('Check the COSMOS_* settings and that the account answers, then run this again.');
      process.exit(1);
    }
  });

program
  .command('status')
  .description('How many records are hot, copied (in grace), archived, stuck and failed')
  .action(() =>
    withCliServices(async (services) => {
      const status = await services.archival.status();
      console.log(table(Object.keys(status.counts), [Object.values(status.counts)]));
      for (const [title, items] of [
        ['stuck', status.stuck],
        ['failed (parked for review)', status.failed],
      ] as const) {
        if (items.length === 0) continue;
        console.log(`\n${title}:`);
        console.log(
          table(
            ['customer', 'record', 'state', 'version', 'since', 'attempts', 'last error'],
            items.map((i) => [
              i.customerId,
              i.id,
              i.state,
              i.version,
              i.since,
              i.attempts,
              (i.lastError ?? '').slice(0, 60),
            ]),
          ),
        );
      }
      const runs = await services.archival.listRuns(5);
      if (runs.length > 0) {
        console.log('\nrecent runs:');
        console.log(
          table(
            ['run', 'status', 'copied', 'purged', 'failed', 'started'],
            runs.map((r) => [
              r.runId,
              r.status,
              r.counts.copied,
              r.counts.purged,
              r.counts.failed,
              r.startedAt,
            ]),
          ),
        );
      }
      return 0;
    }),
  );

program
  .command('verify')
  .description("Read every stub's blob and check its hash; exits non-zero on any mismatch")
  .option('--customer <customerId>', 'only this customer')
  .action((options: { customer?: string }) =>
    withCliServices(async (services) => {
      const { archived } = await services.records.countByTier();
      const bar = new cliProgress.SingleBar({
        format: 'verify |{bar}| {value}/{total} stubs | {mismatches} mismatches | ETA {eta_formatted}',
        noTTYOutput: true,
        notTTYSchedule: 5_000,
      });
      bar.start(Math.max(archived, 1), 0, { mismatches: 0 });
      const result = await services.archival.verify({
        ...(options.customer !== undefined ? { customerId: options.customer } : {}),
        abortSignal: services.abortSignal,
        onProgress: (checked, mismatches) => bar.update(checked, { mismatches }),
      });
      bar.stop();
      if (result.mismatches.length === 0) {
        console.log(
          `verify: ${result.checked} archived records checked, all blobs present with matching hashes`,
        );
        return 0;
      }
      console.log(
        table(
          ['customer', 'record', 'blob', 'problem'],
          result.mismatches.map((m) => [m.customerId, m.id, m.blobPath, m.problem.slice(0, 80)]),
        ),
      );
      console.log(`verify: ${result.mismatches.length} of ${result.checked} archived records do not match.`);
      console.log(
        'Rehydrate from a good copy where one exists, or restore the blob from backup; the API never serves these bytes.',
      );
      return 2;
    }),
  );

program
  .command('gc')
  .description('Delete archive blobs that no stub or ledger entry references, after a safety window')
  .option('--dry-run', 'count what would be deleted, delete nothing')
  .addOption(
    new Option(
      '--safety-window <duration>',
      'leave blobs touched more recently than this (default ARCHIVE_GC_SAFETY_WINDOW)',
    ).argParser(asFixedDurationMs),
  )
  .option('--reason <text>', 'why (kept in the audit trail)')
  .action((options: { dryRun?: boolean; safetyWindow?: number; reason?: string }) =>
    withCliServices(async (services) => {
      await auditCli(services, 'archive.gc', {
        reason: options.reason ?? (options.dryRun === true ? 'gc dry run' : 'gc'),
      });
      const bar = new cliProgress.SingleBar({
        format:
          'gc | examined {examined} | deleted {deleted} | referenced {referenced} | too recent {tooRecent}',
        noTTYOutput: true,
        notTTYSchedule: 5_000,
      });
      bar.start(1, 0, { examined: 0, deleted: 0, referenced: 0, tooRecent: 0 });
      if (
        options.safetyWindow !== undefined &&
        options.safetyWindow < loadConfigOrExit().archival.timeBudgetMs
      ) {
        console.error(
          'Warning: a safety window shorter than a run may delete a blob a running archival just uploaded; run gc only when no archival runs.',
        );
      }
      const counts = await services.archival.collect({
        ...(options.dryRun === true ? { dryRun: true } : {}),
        ...(options.safetyWindow !== undefined ? { safetyWindowMs: options.safetyWindow } : {}),
        abortSignal: services.abortSignal,
        onProgress: (progress) => bar.update(0, progress),
      });
      bar.stop();
      console.log(table(Object.keys(counts), [Object.values(counts) as number[]]));
      if (options.dryRun === true) console.log('Dry run: "deleted" counts what a real run would delete.');
      return 0;
    }),
  );

program
  .command('rehydrate')
  .description(
    'Bring archived records back to the hot store: one record, one customer, or everything (the rollback)',
  )
  .argument('[customerId]')
  .argument('[recordId]')
  .option('--all', 'every archived record (of the customer, when one is given), as a job')
  .option('--dry-run', 'with --all: count the archived records, change nothing')
  .option('--reason <text>', 'why: recorded in the audit trail')
  .action(
    (
      customerId: string | undefined,
      recordId: string | undefined,
      options: { all?: boolean; dryRun?: boolean; reason?: string },
    ) =>
      withCliServices(async (services) => {
        await auditCli(services, 'rehydrate', { customerId, recordId, reason: options.reason });
        if (options.all !== true) {
          if (customerId === undefined || recordId === undefined) {
            console.error('Name a record (archive rehydrate <customerId> <recordId>) or pass --all.');
            return 2;
          }
          console.log(
            `${customerId}/${recordId}: ${await services.records.rehydrate({ customerId, id: recordId })}`,
          );
          return 0;
        }
        const { archived } = await services.records.countByTier();
        const bar = new cliProgress.SingleBar({
          format:
            'rehydrate |{bar}| {value}/{total} | rehydrated {rehydrated} | failed {failed} | ETA {eta_formatted}',
          noTTYOutput: true,
          notTTYSchedule: 5_000,
        });
        bar.start(Math.max(archived, 1), 0, { rehydrated: 0, failed: 0 });
        const report = await services.rehydrations.run(
          {
            ...(customerId !== undefined ? { customerId } : {}),
            ...(options.dryRun === true ? { dryRun: true } : {}),
          },
          {
            signal: services.abortSignal,
            onProgress: (progress) =>
              bar.update(progress.counts.candidates ?? 0, {
                rehydrated: progress.counts.rehydrated ?? 0,
                failed: progress.counts.failed ?? 0,
              }),
          },
        );
        bar.stop();
        printJobReport(report);
        if (report.dryRun)
          console.log('Dry run: "candidates" counts the archived records a real run would bring back.');
        else
          console.log(
            'Set ARCHIVE_SCHEDULE empty (or pin the records) to keep later runs from archiving them again.',
          );
        return report.status === 'succeeded' ? 0 : 1;
      }),
  );

/**
 * Runs a job in this process with a progress line (its counts so far), prints its report, and answers
 * the exit code: 0 when it succeeded.
 */
async function runCliJob(
  services: CliServices,
  how: { readonly label: string; readonly shown: readonly string[]; readonly dryRunNote: string },
  run: (options: { signal: AbortSignal; onProgress: (report: JobReport) => void }) => Promise<JobReport>,
): Promise<number> {
  const bar = new cliProgress.SingleBar({
    format: `${how.label} | ${how.shown.map((name) => `${name} {${name}}`).join(' | ')} | {duration_formatted}`,
    noTTYOutput: true,
    notTTYSchedule: 5_000,
  });
  const zero = Object.fromEntries(how.shown.map((name) => [name, 0]));
  bar.start(1, 0, zero);
  let report: JobReport;
  try {
    report = await run({
      signal: services.abortSignal,
      onProgress: (progress) => bar.update(0, { ...zero, ...progress.counts }),
    });
  } finally {
    bar.stop();
  }
  printJobReport(report);
  if (report.dryRun) console.log(`Dry run: ${how.dryRunNote}`);
  return report.status === 'succeeded' ? 0 : 1;
}

const cliActor = (reason: string | undefined) => ({
  actor: { sub: `os:${userInfo().username}`, roles: ['cli'] },
  ...(reason !== undefined ? { reason } : {}),
});

program
  .command('retention')
  .description('Delete records issued before RETENTION_PERIOD from every tier (held records stay), as a job')
  .option('--dry-run', 'count what would be deleted and what is held, change nothing')
  .option('--as-of <instant>', 'evaluate expiry as of this instant', asInstant)
  .option('--sweep', 'look at every expired record again, not only those past the watermark')
  .option('--reason <text>', 'why: recorded in the audit trail with each deletion')
  .action((options: { dryRun?: boolean; asOf?: string; sweep?: boolean; reason?: string }) =>
    withCliServices(async (services) => {
      await auditCli(services, 'retention.run', { reason: options.reason });
      return runCliJob(
        services,
        {
          label: 'retention',
          shown: ['candidates', 'deleted', 'held', 'failed'],
          dryRunNote: '"deleted" counts the records a real run would delete.',
        },
        (jobOptions) =>
          services.retention.run(
            {
              ...(options.dryRun === true ? { dryRun: true } : {}),
              ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
              ...(options.sweep === true ? { sweep: true } : {}),
            },
            cliActor(options.reason),
            jobOptions,
          ),
      );
    }),
  );

program
  .command('erase')
  .description(
    'Delete every record of a customer from every tier (refused while anything of it is held), as a job',
  )
  .argument('<customerId>')
  .option('--dry-run', 'count what would be deleted, change nothing')
  .option('--reason <text>', 'why (the request, the ticket): recorded in the audit trail with each deletion')
  .action((customerId: string, options: { dryRun?: boolean; reason?: string }) =>
    withCliServices(async (services) => {
      await auditCli(services, 'erasure', { customerId, reason: options.reason });
      return runCliJob(
        services,
        {
          label: 'erase',
          shown: ['candidates', 'deleted', 'blobs', 'failed'],
          dryRunNote: '"deleted" counts the records a real run would delete.',
        },
        (jobOptions) =>
          services.erasure.run(
            { customerId, ...(options.dryRun === true ? { dryRun: true } : {}) },
            cliActor(options.reason),
            jobOptions,
          ),
      );
    }),
  );

program
  .command('rebuild')
  .description(
    'Recreate the stub of every archived record from the archive alone (after the hot store was lost)',
  )
  .option('--dry-run', 'count what would be restored, change nothing')
  .option('--reason <text>', 'why: recorded in the audit trail')
  .action((options: { dryRun?: boolean; reason?: string }) =>
    withCliServices(async (services) => {
      await auditCli(services, 'rehydrate', {
        reason: `rebuild: ${options.reason ?? 'hot store rebuilt from the archive'}`,
      });
      return runCliJob(
        services,
        {
          label: 'rebuild',
          shown: ['blobs', 'restored', 'current', 'tombstoned', 'failed'],
          dryRunNote: '"restored" counts the stubs a real run would write.',
        },
        (jobOptions) =>
          services.rebuild.run(
            { ...(options.dryRun === true ? { dryRun: true } : {}) },
            cliActor(options.reason),
            jobOptions,
          ),
      );
    }),
  );

program
  .command('export')
  .description(
    'Write every record of a customer (both tiers) as NDJSON, ascending issuedAt then id, as a GET returns each',
  )
  .argument('<customerId>')
  .option('-o, --out <file>', 'write to this file (default: standard output)')
  .option('--reason <text>', 'why (recorded in the audit trail)')
  .action((customerId: string, options: { out?: string; reason?: string }) =>
    withCliServices(async (services) => {
      // Who took a customer's data out, before any of it leaves.
      await auditCli(services, 'export', { customerId, reason: options.reason });
      const { hot, archived } = await services.records.countByTier();
      const bar = new cliProgress.SingleBar({
        format: 'export | {value} records | {mb} MB | {duration_formatted}',
        noTTYOutput: true,
        notTTYSchedule: 5_000,
      });
      // The totals are of every customer: the bar counts up, it has no end to show.
      bar.start(hot + archived, 0, { mb: '0.0' });
      let records = 0;
      let bytes = 0;
      const out = options.out === undefined ? process.stdout : createWriteStream(options.out);
      const counted = async function* (lines: AsyncIterable<ExportLine>): AsyncGenerator<Uint8Array> {
        for await (const line of lines) {
          records += 1;
          for (const chunk of line) bytes += chunk.byteLength;
          bar.update(records, { mb: (bytes / 1048576).toFixed(1) });
          yield* line;
        }
      };
      await pipeline(
        Readable.from(counted(services.exportCustomer(customerId, { abortSignal: services.abortSignal }))),
        out,
        { end: options.out !== undefined },
      );
      bar.stop();
      console.error(
        `export: ${records} records of ${customerId}, ${(bytes / 1048576).toFixed(1)} MB${options.out !== undefined ? ` written to ${options.out}` : ''}`,
      );
      return 0;
    }),
  );

program
  .command('unpark')
  .description('Retry items parked after repeated failures (all, or one record) on the next run')
  .argument('[customerId]')
  .argument('[recordId]')
  .option('--reason <text>', 'why (kept in the audit trail)')
  .action((customerId: string | undefined, recordId: string | undefined, options: { reason?: string }) =>
    withCliServices(async (services) => {
      const key =
        customerId !== undefined && recordId !== undefined ? { customerId, id: recordId } : undefined;
      if (customerId !== undefined && recordId === undefined) {
        console.error(
          'Name a record (archive unpark <customerId> <recordId>), or nothing for every parked item.',
        );
        return 2;
      }
      await auditCli(services, 'archival.unpark', { customerId, recordId, reason: options.reason });
      console.log(`unparked ${await services.archival.unpark(key)} item(s); the next run tries them again`);
      return 0;
    }),
  );

program
  .command('recount')
  .description(
    'Recount the per-tier totals that status and the cost report read (scans every stub and lists the whole archive: run it rarely)',
  )
  .action(() =>
    withCliServices(async (services) => {
      const bar = new cliProgress.SingleBar({
        format: 'recount | stubs {stubs} | blobs {blobs} | {duration_formatted}',
        noTTYOutput: true,
        notTTYSchedule: 5_000,
      });
      bar.start(1, 0, { stubs: 0, blobs: 0 });
      const report = await services.tierRecount.run({
        signal: services.abortSignal,
        onProgress: (progress) =>
          bar.update(0, { stubs: progress.counts.stubs ?? 0, blobs: progress.counts.blobs ?? 0 }),
      });
      bar.stop();
      printJobReport(report);
      if (report.status !== 'succeeded') {
        console.error(
          'The recount did not finish: run it again (it starts over and sets the totals at its end).',
        );
        return 1;
      }
      const reading = await services.tierCounters.read();
      if (reading !== undefined)
        console.log(table(Object.keys(reading.totals), [Object.values(reading.totals) as number[]]));
      return 0;
    }),
  );

program
  .command('cost-report')
  .description(
    'Measured sizes per tier and the monthly cost before, after and at the floor (COST_* settings)',
  )
  .option('--json', 'print the report as JSON')
  .action((options: { json?: boolean }) =>
    withCliServices(async (services) => {
      const report = await services.costReport();
      if (options.json === true) {
        console.log(JSON.stringify(report, null, 2));
        return 0;
      }
      console.log(
        table(
          ['measurement', 'value', 'how'],
          Object.entries(report.measurements).map(([name, figure]) => [
            name,
            Number.isInteger(figure.value) ? figure.value : figure.value.toFixed(2),
            `${figure.source}: ${figure.how}`.slice(0, 90),
          ]),
        ),
      );
      const money = (value: number): string => `$${value.toFixed(2)}`;
      console.log(
        table(
          [
            'monthly (' + report.prices.currency + ', prices of ' + report.prices.asOf + ')',
            'before',
            'after',
            'floor',
          ],
          (
            [
              'cosmosStorage',
              'cosmosThroughput',
              'blobStorage',
              'blobOperations',
              'blobEarlyDeletion',
              'cache',
              'total',
            ] as const
          ).map((part) => [
            part,
            money(report.before[part]),
            money(report.after[part]),
            money(report.floor[part]),
          ]),
        ),
      );
      console.log(
        `savings: ${money(report.savings.monthly)} a month (after/before ${report.savings.afterToBefore})`,
      );
      console.log(
        table(
          ['archive after', 'after (monthly)', 'after/before'],
          report.whatIf.map((w) => [
            `${w.archiveAfterMonths} months`,
            money(w.afterMonthly),
            w.afterToBefore,
          ]),
        ),
      );
      return 0;
    }),
  );

program
  .command('runs')
  .description('The most recent archival runs')
  .addOption(new Option('--limit <n>', 'how many').argParser(asPositiveInteger).default(10))
  .action((options: { limit: number }) =>
    withCliServices(async (services) => {
      const runs = await services.archival.listRuns(options.limit);
      console.log(
        table(
          ['run', 'status', 'candidates', 'copied', 'purged', 'skipped', 'failed', 'started', 'duration'],
          runs.map((r) => [
            r.runId,
            r.status,
            r.counts.candidates,
            r.counts.copied,
            r.counts.purged,
            r.counts.skipped,
            r.counts.failed,
            r.startedAt,
            `${(r.durationMs / 1000).toFixed(1)} s`,
          ]),
        ),
      );
      return 0;
    }),
  );

await program.parseAsync();
