// The composition root of a process (server, Functions worker, CLI): the adapters the config names,
// the one wiring of the use cases over them, and the API application. Closing stops background work
// first, then the adapters, in reverse order of opening.
import type { Logger } from 'pino';
import { type ApiApplication, createApiApplication } from '../api/api-application.ts';
import { createHttpMetrics, type HttpMetrics } from '../api/http-metrics.ts';
import { createRateLimiter } from '../api/rate-limits.ts';
import type { ApiServices, ReadinessReport } from '../api/route-definition.ts';
import type { AppConfig } from '../config/app-config.ts';
import type { ArchivalPolicy } from '../domain/archival-policy.ts';
import type { Cache } from '../ports/cache.ts';
import { openAdapters } from './open-adapters.ts';
import { createServiceMetrics } from './service-metrics.ts';
import { systemClock } from './system-clock.ts';
import { type ServicePorts, wireServices, type WiredServices } from './wire-services.ts';

export interface OpenedServices extends WiredServices {
  readonly application: ApiApplication;
  readonly httpMetrics: HttpMetrics;
  /** One line per part, for the start banner. */
  readonly description: readonly string[];
  close(): Promise<void>;
}

export async function openServices(config: AppConfig, logger: Logger): Promise<OpenedServices> {
  const httpMetrics = createHttpMetrics();
  const metrics = createServiceMetrics(httpMetrics.registry);
  const adapters = await openAdapters(config, logger, {
    onCacheError: (operation) => metrics.cacheErrors.inc({ operation }),
  });
  const { store, ledger, archive, control, cache, audit } = adapters;
  for (const endpoint of config.security.insecureEndpoints) {
    // Accepted through ALLOW_INSECURE_ENDPOINTS: said at every start, so nobody forgets it is on.
    logger.warn({ setting: endpoint.split(' ')[0] }, `INSECURE: ${endpoint} (ALLOW_INSECURE_ENDPOINTS=true)`);
  }
  const wired = wireServices(
    { store, ledger, archive, control, cache, audit },
    {
      clock: systemClock,
      log: logger,
      policy: archivalPolicy(config),
      archival: {
        batchSize: config.archival.batchSize,
        concurrency: config.archival.concurrency,
        timeBudgetMs: config.archival.timeBudgetMs,
        requestUnitsPerSecond: config.archival.requestUnitsPerSecond,
      },
      collectorSafetyWindowMs: config.archival.collectorSafetyWindowMs,
      cacheTtlMs: config.cache.ttlMs,
      decodedCacheBytes: config.cache.decodedMaxBytes,
      readSpikes: {
        threshold: config.archival.rehydrateAfterReads,
        windowMs: config.archival.rehydrateWindowMs,
        // Counted in Redis, so every instance sees every read; the in-process LRU adds nothing there.
        shared: config.cache.kind === 'redis',
      },
      cost: {
        ...config.cost,
        archiveAfterMonths: config.archival.after.months + 12 * config.archival.after.years,
      },
      metrics,
    },
  );
  return {
    ...wired,
    application: createApiApplication(apiServices(wired), adapters.verifyToken, {
      clock: systemClock,
      onAuthDenied: (reason) => metrics.authDenied.inc({ reason }),
      rateLimiter: createRateLimiter(cache, systemClock, config.rateLimits),
    }),
    httpMetrics,
    description: adapters.description,
    async close() {
      await wired.shutdown();
      await adapters.close();
    },
  };
}

/** What the routes see: the use cases, readiness of the stores, and the metrics text. */
export function apiServices(wired: WiredServices): ApiServices {
  return {
    records: wired.records,
    archival: wired.archival,
    jobs: wired.jobs,
    rehydrations: wired.rehydrations,
    audit: wired.audit,
    legalHolds: wired.legalHolds,
    costReport: () => wired.costReport(),
    readiness: () => readiness(wired.ports),
    async metricsText() {
      const registry = wired.metrics.registry;
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

export function archivalPolicy(config: AppConfig): ArchivalPolicy {
  return {
    archiveAfter: config.archival.after,
    gracePeriod: config.archival.gracePeriod,
    coolDown: config.archival.coolDown,
  };
}

async function readiness(ports: ServicePorts): Promise<ReadinessReport> {
  const up = (promise: Promise<unknown>): Promise<'up' | 'down'> =>
    promise.then(
      () => 'up' as const,
      () => 'down' as const,
    );
  const cacheCheck = (cache: Cache | undefined): Promise<'up' | 'down' | 'absent'> =>
    cache === undefined ? Promise.resolve('absent') : cache.healthy().then((ok) => (ok ? 'up' : 'down'));
  const [hotStore, archiveState, cacheState] = await Promise.all([
    up(ports.store.ping()),
    up(ports.archive.ping()),
    cacheCheck(ports.cache),
  ]);
  // The cache fails open: a cache outage slows archived reads but does not make the service unready.
  return {
    ready: hotStore === 'up' && archiveState === 'up',
    checks: { hotStore, archive: archiveState, cache: cacheState },
  };
}
