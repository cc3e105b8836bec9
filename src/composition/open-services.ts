// The composition root of a process (server, Functions worker, CLI): the adapters the config names,
// the one wiring of the use cases over them, and the API application. Closing stops background work
// first, then the adapters, in reverse order of opening.
import type { Logger } from 'pino';
import { loadAlertRules } from '../alerts/alert-rules.ts';
import { LiveLatency } from '../archival/live-latency.ts';
import { type ApiApplication, createApiApplication } from '../api/api-application.ts';
import { createHttpMetrics, type HttpMetrics } from '../api/http-metrics.ts';
import { createRateLimiter } from '../api/rate-limits.ts';
import type { ApiServices } from '../api/route-definition.ts';
import type { AppConfig } from '../config/app-config.ts';
import type { Clock } from '../ports/clock.ts';
import { openTokenVerifier } from './open-adapters.ts';
import { type DataAccessHooks, openDataAccess } from './open-data-access.ts';
import { type Alerting, startAlerting } from './alerting.ts';
import { ArchivalWorker } from './archival-worker.ts';
import { cachedReadiness, checkReadiness } from './readiness.ts';
import { createServiceMetrics } from './service-metrics.ts';
import { systemClock } from './system-clock.ts';
import { createMetricsPipeline, loadAzureMonitorMetrics, type MetricsPipeline } from './telemetry.ts';
import type { WiredServices } from './wire-services.ts';

export interface OpenedServices extends WiredServices {
  readonly application: ApiApplication;
  readonly httpMetrics: HttpMetrics;
  readonly telemetry: MetricsPipeline;
  readonly alerting: Alerting;
  /** One line per part, for the start banner. */
  readonly description: readonly string[];
  close(): Promise<void>;
}

export interface OpenServicesOptions {
  /**
   * Run archival in the worker process (archival-worker.ts) rather than on this process's event loop:
   * the server of `npm start` does unless ARCHIVE_WORKER=in-process; never under Functions (the queue).
   */
  readonly archivalWorker?: boolean;
  /** See DataAccessHooks.wrapPorts (benchmarks only); runs then stay in this process, beside the wrapped ports. */
  readonly wrapPorts?: DataAccessHooks['wrapPorts'];
}

export async function openServices(
  config: AppConfig,
  logger: Logger,
  options: OpenServicesOptions = {},
): Promise<OpenedServices> {
  const connectionString = config.telemetry.connectionString;
  if (connectionString !== undefined) await loadAzureMonitorMetrics();
  const telemetry = createMetricsPipeline({ connectionString, runtimeMetrics: true });
  const metrics = createServiceMetrics(telemetry.meter);
  // Every API request's duration feeds the archiver's back-pressure as well as the histogram.
  const liveLatency = new LiveLatency(systemClock);
  const histogram = createHttpMetrics(metrics.httpRequestDuration);
  const httpMetrics: HttpMetrics = {
    observeRequest(labels, seconds) {
      histogram.observeRequest(labels, seconds);
      liveLatency.record(seconds * 1000);
    },
  };
  // Auth first: a bad AUTH_* setting stops the start before any store is opened.
  const description: string[] = [];
  const verifyToken = await openTokenVerifier(config, description);
  const worker =
    options.archivalWorker === true &&
    config.functions.runQueue === undefined &&
    options.wrapPorts === undefined
      ? new ArchivalWorker({
          config,
          log: logger.child({ component: 'archival-worker' }),
          liveLatencyRatio: () => liveLatency.ratio(),
        })
      : undefined;
  // Started beside the opening of this process's stores; awaited once they are open.
  const workerStarted = worker?.start();
  workerStarted?.catch(() => undefined);
  // The one data-access layer, the same the library entry opens.
  const dataAccess = await openDataAccess(
    { config },
    {
      logger,
      metrics,
      liveLatency,
      onCacheError: (operation) => metrics.cacheErrors.add(1, { operation }),
      ...(worker !== undefined ? { archival: { archivalRunner: worker } } : {}),
      ...(options.wrapPorts !== undefined ? { wrapPorts: options.wrapPorts } : {}),
    },
  );
  description.push(...dataAccess.adapters.description);
  if (worker !== undefined) {
    try {
      await workerStarted;
    } catch (error) {
      await dataAccess.close();
      await worker.close();
      throw error;
    }
    description.push(`Archival: runs in a worker process (pid ${worker.pid}), off the API's event loop`);
  }
  for (const endpoint of config.security.insecureEndpoints) {
    // Accepted through ALLOW_INSECURE_ENDPOINTS: said at every start, so nobody forgets it is on.
    logger.warn({ setting: endpoint.split(' ')[0] }, `INSECURE: ${endpoint} (ALLOW_INSECURE_ENDPOINTS=true)`);
  }
  const wired = dataAccess.services;
  // Probed when metrics are read (a scrape, an evaluation): the archive down is an alert of its own.
  telemetry.meter
    .createObservableGauge('dependency_up', { description: 'Whether each store answers (1) or not (0)' })
    .addCallback(async (result) => {
      const report = await checkReadiness(wired.ports);
      for (const [dependency, state] of Object.entries(report.checks))
        if (state !== 'absent') result.observe(state === 'up' ? 1 : 0, { dependency });
    });
  await wired.refreshArchivalGauges();
  const alerting = startAlerting({
    rules: loadAlertRules(),
    reader: telemetry.reader,
    clock: systemClock,
    log: logger.child({ component: 'alerts' }),
    intervalMs: config.alerts.evaluationIntervalMs,
    webhookUrl: config.alerts.webhookUrl,
    // Without a schedule in this process (on-demand runs, or the Functions timer elsewhere), no run is overdue.
    inactive: new Set(config.archival.schedule === undefined ? ['ArchivalRunOverdue'] : []),
    onNotification: (outcome) => metrics.alertNotifications.add(1, { outcome }),
  });
  return {
    ...wired,
    application: createApiApplication(
      apiServices(wired, telemetry, alerting, { readinessClock: systemClock }),
      verifyToken,
      {
        clock: systemClock,
        onAuthDenied: (reason) => metrics.authDenied.add(1, { reason }),
        rateLimiter: createRateLimiter(dataAccess.adapters.cache, systemClock, config.rateLimits),
      },
    ),
    httpMetrics,
    telemetry,
    alerting,
    description,
    async close() {
      await alerting.close();
      // Cancels the runs in flight (in the worker too) and waits for their reports, then ends the worker.
      await dataAccess.close();
      await worker?.close();
      await telemetry.shutdown();
    },
  };
}

/**
 * What the routes see: the use cases, readiness of the stores, the metrics text and the alerts. With
 * `readinessClock`, a readiness answer is reused for READINESS_CACHE_MS.
 */
export function apiServices(
  wired: WiredServices,
  telemetry: Pick<MetricsPipeline, 'prometheusText'>,
  alerting: Pick<Alerting, 'alerts'>,
  options: { readinessClock?: Clock } = {},
): ApiServices {
  const check = () => checkReadiness(wired.ports);
  const readiness =
    options.readinessClock === undefined ? check : cachedReadiness(check, options.readinessClock);
  return {
    records: wired.records,
    archival: wired.archival,
    jobs: wired.jobs,
    rehydrations: wired.rehydrations,
    retention: wired.retention,
    erasure: wired.erasure,
    exportCustomer: (customerId) => wired.exportCustomer(customerId),
    audit: wired.audit,
    legalHolds: wired.legalHolds,
    costReport: () => wired.costReport(),
    readiness,
    metricsText: () => telemetry.prometheusText(),
    alerts: () => alerting.alerts(),
    refreshArchivalGauges: () => wired.refreshArchivalGauges(),
  };
}
