// The monthly bill of the reference workload (2,000,000 records, the generator's sizes, 36 months of
// history) before tiering, after it and at its floor, priced by src/domain/cost-model.ts from a
// measured sample: N generated records, each sized as the hot store keeps it, as canonical JSON, as
// the gzip blob the archiver uploads, and as the stub the purge writes; then scaled to 2,000,000.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCustomerCount, generateRecords } from '../src/demo/billing-record-generator.ts';
import { archiveCutoff } from '../src/domain/archival-policy.ts';
import { buildArchiveArtifact } from '../src/domain/archive-artifact.ts';
import {
  type CostInput,
  costByThroughputMode,
  DEFAULT_PRICES,
  monthlyCost,
  workloadRates,
} from '../src/domain/cost-model.ts';
import { fullDocument, type StubDocument, summaryOf, toPersisted } from '../src/domain/record-document.ts';
import {
  estimateReadUnits,
  estimateWriteUnits,
  LEDGER_INDEXED_TERMS,
  RECORD_INDEXED_TERMS,
  RU_MODEL,
} from '../src/domain/request-unit-model.ts';
import { type BenchResult, type Figure, RESULTS_DIR, runBenchmark } from './support/bench-result.ts';
import { BENCH_POLICY } from './support/bench-world.ts';
import { round } from './support/latency-stats.ts';
import { GENERATOR_NOW, GENERATOR_SEED } from './support/profile.ts';

const REFERENCE_RECORDS = 2_000_000;
const MONTHS_OF_HISTORY = 36;
/** "Rarely read": 1 % of the archived records read once a month, every read a cache miss. */
const ARCHIVED_READ_SHARE_PER_MONTH = 0.01;
/**
 * Pessimistic: 2 % of each month's copies are superseded within Cold's 90-day minimum (changed during the
 * grace, so the copy is dropped, or written soon after archival) and collected 10 days after upload
 * (7 days of grace, the collector's one-day safety window, its weekly schedule).
 */
const SUPERSEDED_SHARE_OF_COPIES = 0.02;
const SUPERSEDED_AGE_DAYS = 10;

await runBenchmark('cost-reference', ({ profile, log }) => {
  const sample = profile.costSample;
  const cutoff = archiveCutoff(BENCH_POLICY, GENERATOR_NOW).toISOString();
  const archivedAt = GENERATOR_NOW.toISOString();
  const totals = {
    hot: 0,
    hotBytes: 0,
    archived: 0,
    stubBytes: 0,
    archivedJsonBytes: 0,
    archivedStoredBytes: 0,
    archivedDocumentBytes: 0,
    allJsonBytes: 0,
    allStoredBytes: 0,
    // Archiver floor per record: the body read, a small ledger entry (~the stub's size) and the stub.
    floorRu: 0,
  };
  const step = Math.max(1, Math.round(sample / 5));
  let seen = 0;
  // The first N records of the 2,000,000-record world: indexes are independent, so this is a fair sample.
  for (const record of generateRecords({
    seed: GENERATOR_SEED,
    count: sample,
    customers: defaultCustomerCount(REFERENCE_RECORDS, MONTHS_OF_HISTORY),
    now: GENERATOR_NOW,
    monthsOfHistory: MONTHS_OF_HISTORY,
  })) {
    const document = fullDocument(record);
    const documentBytes = Buffer.byteLength(JSON.stringify(toPersisted(document)));
    const artifact = buildArchiveArtifact(record);
    totals.allJsonBytes += artifact.size;
    totals.allStoredBytes += artifact.body.byteLength;
    if (record.issuedAt < cutoff) {
      // The stub exactly as the purge step writes it.
      const stub: StubDocument = {
        id: record.id,
        customerId: record.customerId,
        tier: 'archived',
        summary: summaryOf(document),
        sys: document.sys,
        archive: {
          blobPath: artifact.path,
          sha256: artifact.sha256,
          size: artifact.size,
          encoding: 'gzip',
          archivedAt,
        },
      };
      const stubBytes = Buffer.byteLength(JSON.stringify(toPersisted(stub)));
      totals.archived += 1;
      totals.stubBytes += stubBytes;
      totals.archivedJsonBytes += artifact.size;
      totals.archivedStoredBytes += artifact.body.byteLength;
      totals.archivedDocumentBytes += documentBytes;
      totals.floorRu +=
        estimateReadUnits(documentBytes) +
        estimateWriteUnits(stubBytes + 250, LEDGER_INDEXED_TERMS) +
        estimateWriteUnits(stubBytes, RECORD_INDEXED_TERMS);
    } else {
      totals.hot += 1;
      totals.hotBytes += documentBytes;
    }
    if (++seen % step === 0) log(`sampled ${seen}/${sample} records`);
  }

  const scale = REFERENCE_RECORDS / sample;
  const measured = (value: number, how: string) => ({
    value: value * scale,
    source: 'measured' as const,
    how,
  });
  const archivalRu = measuredArchivalRu() ?? {
    value: totals.floorRu / Math.max(1, totals.archived),
    how: 'estimated: the floor per record (run bench/archival-throughput.ts for the measured figure)',
  };
  const archivedRecords = totals.archived * scale;
  const base: Omit<CostInput, 'throughput'> = {
    totalRecords: { value: REFERENCE_RECORDS, source: 'measured', how: 'the reference workload' },
    hotRecords: measured(totals.hot, `records of the sample issued since ${cutoff}, scaled`),
    hotBytes: measured(totals.hotBytes, 'their documents as the hot store keeps them, scaled'),
    archivedRecords: measured(
      totals.archived,
      'records of the sample older than ARCHIVE_AFTER (P3M), scaled',
    ),
    stubBytes: measured(totals.stubBytes, 'their stubs as the purge writes them, scaled'),
    archivedJsonBytes: measured(
      totals.archivedDocumentBytes,
      'their full documents as the hot store kept them, scaled',
    ),
    archivedStoredBytes: measured(totals.archivedStoredBytes, 'their gzip blobs as uploaded, scaled'),
    monthly: {
      archivedBlobReads: archivedRecords * ARCHIVED_READ_SHARE_PER_MONTH,
      recordsArchived: REFERENCE_RECORDS / MONTHS_OF_HISTORY,
      archivalRuPerRecord: archivalRu.value,
      supersededBlobsDeleted: (REFERENCE_RECORDS / MONTHS_OF_HISTORY) * SUPERSEDED_SHARE_OF_COPIES,
      supersededBlobAgeDays: SUPERSEDED_AGE_DAYS,
    },
    cacheTier: 'none',
    archiveTier: 'Cold',
  };
  const scenarios = {
    provisioned: monthlyCost(
      { ...base, throughput: { mode: 'provisioned', workloadRuPerSecond: 0 } },
      DEFAULT_PRICES,
    ),
    serverless: monthlyCost(
      { ...base, throughput: { mode: 'serverless', workloadRuPerMonth: 0 } },
      DEFAULT_PRICES,
    ),
    provisioned1000: monthlyCost(
      { ...base, throughput: { mode: 'provisioned', workloadRuPerSecond: 1000 } },
      DEFAULT_PRICES,
    ),
  };
  const headline = scenarios.provisioned;
  // The cost advisor over the same store with no workload on top: each mode at its own floor.
  const modes = costByThroughputMode(
    { ...base, throughput: { mode: 'provisioned', workloadRuPerSecond: 0 } },
    workloadRates({ mode: 'provisioned', workloadRuPerSecond: 0 }, 1),
  );
  const modeOf = (mode: string) => modes.find((candidate) => candidate.mode === mode)!.comparison;
  const afterToFloor = (mode: string) => round(modeOf(mode).after.total / modeOf(mode).floor.total);
  const compressionRatio = round(totals.allJsonBytes / totals.allStoredBytes, 2);
  const usd = (value: number) => round(value, 2);
  const figures: Record<string, Figure> = {
    'cost.beforeMonthlyUsd': {
      value: usd(headline.before.total),
      unit: 'USD/month',
      description: 'reference workload, everything in Cosmos DB (provisioned throughput at its minimum)',
    },
    'cost.afterMonthlyUsd': {
      value: usd(headline.after.total),
      unit: 'USD/month',
      description:
        'reference workload tiered: hot set and stubs in Cosmos DB, gzip blobs in Cold, archival and Blob traffic',
    },
    'cost.floorMonthlyUsd': {
      value: usd(headline.floor.total),
      unit: 'USD/month',
      description:
        'the floor: hot set, stubs and compressed cold set, only the throughput storage forces, no traffic',
    },
    'cost.afterToBeforeRatio': {
      value: round(headline.ratio),
      unit: 'x',
      description: 'after / before, reference workload, provisioned',
      target: { kind: 'max', value: 0.15, text: '<= 0.15' },
    },
    'cost.afterToFloorRatio': {
      value: round(headline.after.total / headline.floor.total),
      unit: 'x',
      description: 'after / floor, reference workload, provisioned',
      target: { kind: 'max', value: 1.05, text: '<= 1.05' },
    },
    'cost.compressionRatio': {
      value: compressionRatio,
      unit: 'x',
      description: 'canonical JSON bytes / gzip bytes over the whole sample',
    },
    'cost.earlyDeletionMonthlyUsd': {
      value: round(headline.after.blobEarlyDeletion, 6),
      unit: 'USD/month',
      description: `Cold early deletion (90-day minimum) of superseded blobs the collector removes: ${SUPERSEDED_SHARE_OF_COPIES * 100} % of a month's copies, ${SUPERSEDED_AGE_DAYS} days old (model figure, included in cost.afterMonthlyUsd)`,
    },
    'cost.afterToFloorRatioAutoscale': {
      value: afterToFloor('autoscale'),
      unit: 'x',
      description: 'after / floor, reference workload, autoscale (maximum at the least the storage allows)',
      target: { kind: 'max', value: 1.05, text: '<= 1.05' },
    },
    'cost.afterToFloorRatioServerless': {
      value: afterToFloor('serverless'),
      unit: 'x',
      description:
        'after / floor, reference workload, serverless (the archiver’s RU are billed; the floor has none)',
      target: { kind: 'max', value: 1.05, text: '<= 1.05' },
    },
    'cost.cheapestModeAfterMonthlyUsd': {
      value: usd(modes[0]!.comparison.after.total),
      unit: 'USD/month',
      description: `the cost advisor's cheapest throughput mode for the reference workload with no traffic on top: ${modes[0]!.mode} (then ${modes
        .slice(1)
        .map((mode) => `${mode.mode} $${usd(mode.comparison.after.total)}`)
        .join(', ')})`,
    },
    'cost.afterToBeforeRatioServerless': {
      value: round(scenarios.serverless.ratio),
      unit: 'x',
      description: 'after / before with serverless throughput (no workload RU counted)',
    },
  };
  const perRecord = (value: number, count: number) => Math.round(value / Math.max(1, count));
  return {
    figures,
    details: {
      sample,
      referenceRecords: REFERENCE_RECORDS,
      cutoff,
      prices: headline.prices,
      sampleMeans: {
        hotShare: round(totals.hot / sample, 4),
        documentBytes: perRecord(totals.hotBytes + totals.archivedDocumentBytes, sample),
        canonicalJsonBytes: perRecord(totals.allJsonBytes, sample),
        gzipBytes: perRecord(totals.allStoredBytes, sample),
        stubBytes: perRecord(totals.stubBytes, totals.archived),
      },
      input: { ...base, throughput: 'per scenario' },
      archivalRuPerRecord: archivalRu,
      assumptions: [
        'provisioned (headline): manual throughput at the minimum the storage allows (no workload RU/s on top), as COST_THROUGHPUT_MODE and COST_WORKLOAD_RU default',
        `archived reads: ${ARCHIVED_READ_SHARE_PER_MONTH * 100} % of archived records a month, all from Blob; cache tier none (embedded default)`,
        `archival traffic: one month of records (${Math.round(REFERENCE_RECORDS / MONTHS_OF_HISTORY)}) crosses the age line each month`,
        'document bytes are the JSON the stores keep; Cosmos system properties (~200 B a document) and index storage are not counted',
        `request units: model figures from the published RU table (${RU_MODEL.source}); real accounts report their own charges`,
        `early deletion: ${SUPERSEDED_SHARE_OF_COPIES * 100} % of each month's copies superseded and collected ${SUPERSEDED_AGE_DAYS} days after upload, each billed the Cold storage of the remaining ${DEFAULT_PRICES.blob.Cold.earlyDeletionDays - SUPERSEDED_AGE_DAYS} days`,
      ],
      scenarios,
    },
  };
});

/** The engine's RU per record measured by bench/archival-throughput.ts, when it has run. */
function measuredArchivalRu(): { value: number; how: string } | undefined {
  const file = join(RESULTS_DIR, 'archival-throughput.json');
  if (!existsSync(file)) return undefined;
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  const figure = result.figures['archive.ruPerRecord'];
  return figure === undefined
    ? undefined
    : {
        value: figure.value,
        how: `measured by ${result.command} (${result.startedAt}), model figures (published RU table)`,
      };
}
