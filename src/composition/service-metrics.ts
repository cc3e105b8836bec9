// The service's own instruments (OpenTelemetry), created once per meter and fed by the use cases'
// events. Prometheus reads them at /metrics, Azure Monitor under the same names, and the in-process
// alert evaluator too. The composition creates them before the adapters, since the cache reports its
// errors here. Names are the Prometheus names (counters already end in `_total`).
import type { DenialReason } from '../api/authentication.ts';
import type { Attributes, Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
import { createMetricsPipeline } from './telemetry.ts';

/** Seconds; archived reads are milliseconds from the cache and tens of milliseconds from Blob. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface ServiceMetrics {
  readonly meter: Meter;
  readonly cacheErrors: Counter;
  readonly archivedReads: Counter;
  readonly archivedReadDuration: Histogram;
  readonly integrityFailures: Counter;
  readonly spikeRehydrations: Counter;
  readonly archivalRecords: Counter;
  readonly archivalRuns: Counter;
  readonly archivalItems: Gauge;
  readonly archivalLastSuccess: Gauge;
  readonly archivalBacklog: Gauge;
  readonly archivalRequestUnits: Counter;
  readonly authDenied: Counter;
  readonly httpRequestDuration: Histogram;
  readonly alertNotifications: Counter;
  /** Audit events made durable. */
  readonly auditEvents: Counter;
}

/** Why a request was refused 401/403 (`auth_denied_total{reason}`). */
export const AUTH_DENIAL_REASONS = [
  'missing_token',
  'malformed_token',
  'algorithm_not_allowed',
  'unknown_key',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_audience',
  'wrong_issuer',
  'invalid_token',
  'role',
  'customer_scope',
] as const satisfies readonly DenialReason[];

export function createServiceMetrics(meter: Meter = createMetricsPipeline().meter): ServiceMetrics {
  const counter = (name: string, description: string, zeroes: readonly Attributes[] = []): Counter => {
    const instrument = meter.createCounter(name, { description });
    // Series that alerts watch exist from the start, so the first increase is seen as one.
    for (const attributes of zeroes) instrument.add(0, attributes);
    return instrument;
  };
  return {
    meter,
    cacheErrors: counter(
      'cache_errors_total',
      'Cache operations that failed open (served from the store instead)',
    ),
    archivedReads: counter('archived_reads_total', 'Reads of archived records, by where the body came from'),
    archivedReadDuration: meter.createHistogram('archived_read_duration_seconds', {
      description: 'Time to produce an archived record, by source (cache, archive)',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    integrityFailures: counter(
      'archive_integrity_failures_total',
      'Archived blobs that failed their sha256 check (never served; run `archive verify`)',
      [{}],
    ),
    spikeRehydrations: counter(
      'spike_rehydrations_total',
      'Archived records brought back hot because they were read often',
    ),
    archivalRecords: counter(
      'archival_records_total',
      'Records handled by archival runs, by step and outcome',
      [
        { step: 'copy', outcome: 'failed' },
        { step: 'purge', outcome: 'failed' },
      ],
    ),
    archivalRuns: counter('archival_runs_total', 'Finished archival runs, by status', [
      { status: 'failed' },
      { status: 'succeeded' },
    ]),
    archivalItems: meter.createGauge('archival_items', {
      description: 'Ledger items needing attention: stuck (overdue for purge), failed (retrying), parked',
    }),
    archivalLastSuccess: meter.createGauge('archival_last_success_timestamp_seconds', {
      description: 'When the last archival run that succeeded finished (Unix seconds)',
    }),
    archivalBacklog: meter.createGauge('archival_backlog_records', {
      description: 'Eligible records the last run found and left hot (not copied)',
    }),
    archivalRequestUnits: counter('archival_request_units_total', 'Request units archival runs spent'),
    authDenied: counter(
      'auth_denied_total',
      'Requests refused 401/403, by reason',
      AUTH_DENIAL_REASONS.map((reason) => ({ reason })),
    ),
    httpRequestDuration: meter.createHistogram('http_request_duration_seconds', {
      description: 'HTTP requests by route, method and status',
      advice: { explicitBucketBoundaries: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
    }),
    alertNotifications: counter(
      'alert_notifications_total',
      'Alert changes sent to ALERT_WEBHOOK_URL, by outcome',
    ),
    auditEvents: counter('audit_events_total', 'Audit events written durably'),
  };
}
