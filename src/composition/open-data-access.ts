// The data-access layer as one call: the adapters (from settings, or over clients the caller holds), the
// one wiring of the use cases over them, and a close that stops background work before the adapters.
// The library entry (src/library/index.ts) exports it; the HTTP server, the Functions edge and the CLI
// open their services through it too (open-services.ts), so there is one data-access layer.
import type { Logger } from 'pino';
import { type AppConfig, loadConfig } from '../config/app-config.ts';
import type { ArchivalPolicy } from '../domain/archival-policy.ts';
import { checkProfile, type RecordProfile } from '../domain/record-profile.ts';
import { createLogger } from './create-logger.ts';
import { openAdapters, openClientAdapters, type OpenedAdapters, type ReadyClients } from './open-adapters.ts';
import type { ServiceMetrics } from './service-metrics.ts';
import { systemClock } from './system-clock.ts';
import { type ServicePorts, wireServices, type WiredServices, type WiringOptions } from './wire-services.ts';

type Settings = Readonly<Record<string, string | undefined>>;

/**
 * Where the stores come from: the settings of the README's table (`process.env`, or an object of
 * them), an already validated configuration, or ready clients (with settings for the archival policy,
 * the cache and the rest; defaults when absent).
 */
export type DataAccessSource = (
  | { readonly settings: Settings; readonly cwd?: string }
  | { readonly config: AppConfig }
  | { readonly clients: ReadyClients; readonly settings?: Settings; readonly cwd?: string }
) & {
  /**
   * What the records are: the billing record of API.md when absent, or an existing container's own
   * documents (record-profile.ts), which are read and written as their owner wrote them.
   */
  readonly profile?: RecordProfile;
};

export interface DataAccessHooks {
  /** JSON logs (pino); one at LOG_LEVEL on stdout when absent. */
  readonly logger?: Logger;
  /** Instruments to feed; a private registry when absent. */
  readonly metrics?: ServiceMetrics;
  readonly onCacheError?: (operation: string, error: unknown) => void;
  /** The latency callers see (the API's requests): the archiver slows down when it rises. */
  readonly liveLatency?: WiringOptions['liveLatency'];
  /** Wraps the opened adapters before the wiring (the benchmarks' model of remote round trips and RU limits). */
  readonly wrapPorts?: (ports: ServicePorts) => ServicePorts;
  /** Where archival runs execute, and where a worker's run events go (see WiringOptions). */
  readonly archival?: Pick<WiringOptions, 'archivalRunner' | 'archivalEvents' | 'archivalExecutor'>;
}

export interface OpenedDataAccess {
  readonly config: AppConfig;
  readonly services: WiredServices;
  readonly adapters: OpenedAdapters;
  /** Stops background work (runs, jobs, audit flushes), then closes the adapters it opened. */
  close(): Promise<void>;
}

export async function openDataAccess(
  source: DataAccessSource,
  hooks: DataAccessHooks = {},
): Promise<OpenedDataAccess> {
  const config =
    'config' in source
      ? source.config
      : loadConfig(source.settings ?? {}, ('cwd' in source ? source.cwd : undefined) ?? process.cwd());
  const logger = hooks.logger ?? createLogger(config);
  const profile = source.profile === undefined ? undefined : checkProfile(source.profile);
  const adapterHooks = {
    ...(hooks.onCacheError !== undefined ? { onCacheError: hooks.onCacheError } : {}),
    ...(profile !== undefined ? { profile } : {}),
  };
  const adapters =
    'clients' in source
      ? await openClientAdapters(source.clients, config, logger, adapterHooks)
      : await openAdapters(config, logger, adapterHooks);
  // The adapters are the ports, less what only their opener uses.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- left out, never called
  const { description: _description, close: _close, ...ports } = adapters;
  const services = wireServices(hooks.wrapPorts === undefined ? ports : hooks.wrapPorts(ports), {
    ...wiringOptions(config, logger, hooks, {
      sharedCache:
        config.cache.kind === 'redis' || ('clients' in source && source.clients.redis !== undefined),
    }),
    ...(profile !== undefined ? { profile } : {}),
  });
  return {
    config,
    services,
    adapters,
    async close() {
      await services.shutdown();
      await adapters.close();
    },
  };
}

/** The wiring the settings describe. */
function wiringOptions(
  config: AppConfig,
  logger: Logger,
  hooks: Pick<DataAccessHooks, 'metrics' | 'liveLatency' | 'archival'>,
  cache: { readonly sharedCache: boolean },
): WiringOptions {
  const { metrics, liveLatency } = hooks;
  return {
    clock: systemClock,
    log: logger,
    policy: archivalPolicy(config),
    archival: {
      batchSize: config.archival.batchSize,
      concurrency: config.archival.concurrency,
      timeBudgetMs: config.archival.timeBudgetMs,
      requestUnitsPerSecond: config.archival.requestUnitsPerSecond,
      throughputShare: config.archival.throughputShare,
    },
    collectorSafetyWindowMs: config.archival.collectorSafetyWindowMs,
    cacheTtlMs: config.cache.ttlMs,
    decodedCacheBytes: config.cache.decodedMaxBytes,
    readSpikes: {
      threshold: config.archival.rehydrateAfterReads,
      windowMs: config.archival.rehydrateWindowMs,
      // Counted in Redis, so every instance sees every read; the in-process LRU adds nothing there.
      shared: cache.sharedCache,
    },
    cost: {
      ...config.cost,
      archiveAfterMonths: config.archival.after.months + 12 * config.archival.after.years,
    },
    ...(metrics !== undefined ? { metrics } : {}),
    ...(liveLatency !== undefined ? { liveLatency } : {}),
    ...hooks.archival,
    ...(config.retention.period !== undefined ? { retentionPeriod: config.retention.period } : {}),
  };
}

export function archivalPolicy(config: AppConfig): ArchivalPolicy {
  return {
    archiveAfter: config.archival.after,
    gracePeriod: config.archival.gracePeriod,
    coolDown: config.archival.coolDown,
    historyTtl: config.archival.historyTtl,
  };
}
