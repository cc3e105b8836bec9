// The service's own Prometheus instruments, created once per registry and fed by the use cases'
// events. The composition creates them before the adapters, since the cache reports its errors here.
import { Counter, Registry } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly cacheErrors: Counter<'operation'>;
  readonly archivedReads: Counter<'source'>;
  readonly integrityFailures: Counter;
  readonly spikeRehydrations: Counter<'outcome'>;
  /** 401s and 403s by reason (the telemetry issue's unauthorized-access alert reads it). */
  readonly authDenied: Counter<'reason'>;
  /** Audit events made durable. */
  readonly auditEvents: Counter;
}

export function createServiceMetrics(registry: Registry = new Registry()): ServiceMetrics {
  return {
    registry,
    cacheErrors: new Counter({
      name: 'cache_errors_total',
      help: 'Cache operations that failed open (served from the store instead)',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    archivedReads: new Counter({
      name: 'archived_reads_total',
      help: 'Reads of archived records, by where the body came from',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    integrityFailures: new Counter({
      name: 'archive_integrity_failures_total',
      help: 'Archived blobs that failed their sha256 check (never served; run `archive verify`)',
      registers: [registry],
    }),
    spikeRehydrations: new Counter({
      name: 'spike_rehydrations_total',
      help: 'Archived records brought back hot because they were read often',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    authDenied: new Counter({
      name: 'auth_denied_total',
      help: 'Requests refused with 401 or 403, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    auditEvents: new Counter({
      name: 'audit_events_total',
      help: 'Audit events written durably',
      registers: [registry],
    }),
  };
}
