// Shared by `npm start` and `npm run demo`: load the config, open the services, listen, print how to
// use it, and shut down cleanly on SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { SYSTEM_ACTOR } from '../audit/operation-audit.ts';
import { buildHttpServer } from '../api/http-server.ts';
import { type AppConfig, ConfigError, loadConfig } from '../config/app-config.ts';
import { consoleSignIn } from '../composition/console-sign-in.ts';
import { createLogger } from '../composition/create-logger.ts';
import { startArchivalScheduler } from '../composition/archival-scheduler.ts';
import { openServices, type OpenedServices } from '../composition/open-services.ts';
import { startTracing } from '../composition/telemetry.ts';
import { systemClock } from '../composition/system-clock.ts';

/** The actor of scheduled jobs in the audit trail. */

/** The settings from the environment, with `overrides` (a command's options for one setting) on top. */
export function loadConfigOrExit(overrides: Readonly<Record<string, string>> = {}): AppConfig {
  try {
    return loadConfig({ ...process.env, ...overrides }, process.cwd());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(
        `${error.message}\nFix the settings above (see the Configuration table in README.md) and start again.`,
      );
      process.exit(1);
    }
    throw error;
  }
}

export async function serve(
  config: AppConfig,
  /** Runs before listening; answers the extra banner lines, given the URL the server listens on. */
  prepare?: (services: OpenedServices) => Promise<(baseUrl: string) => string[]>,
): Promise<void> {
  // Before the logger and the stores: pino, ioredis and the Azure SDK are instrumented as they open.
  await startTracing({ connectionString: config.telemetry.connectionString });
  const logger = createLogger(config);
  console.log('Starting the billing records API ...');
  let services: OpenedServices;
  try {
    services = await openServices(config, logger, { archivalWorker: config.archival.worker === 'process' });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(
        `${error.message}\nFix the settings above (see the Configuration table in README.md) and start again.`,
      );
      process.exit(1);
    }
    console.error(`Could not open the stores: ${(error as Error).message}`);
    console.error(
      'Check the store settings (COSMOS_*, BLOB_*, REDIS_URL) and that the services answer, then start again.',
    );
    process.exit(1);
  }
  const describeExtra = prepare === undefined ? () => [] : await prepare(services);
  const tls =
    config.tls === undefined
      ? undefined
      : { cert: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) };
  const app = await buildHttpServer({
    ...services.application,
    logger,
    metrics: services.httpMetrics,
    ...(tls !== undefined ? { tls } : {}),
    console: consoleSignIn(config),
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    console.error(`Could not listen on ${config.host}:${config.port}: ${(error as Error).message}`);
    console.error('Set PORT to a free port (or HOST to another interface) and start again.');
    await services.close();
    process.exit(1);
  }
  const scheduler =
    config.archival.schedule === undefined
      ? undefined
      : startArchivalScheduler(
          services.archival,
          { archival: config.archival.schedule, collector: config.archival.collectorSchedule },
          logger.child({ component: 'scheduler' }),
          { trail: services.audit, clock: systemClock },
          config.retention.schedule === undefined
            ? undefined
            : {
                schedule: config.retention.schedule,
                run: () => services.retention.run({}, { actor: SYSTEM_ACTOR }),
              },
        );
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '127.0.0.1' ? 'localhost' : config.host;
  const url = `${tls !== undefined ? 'https' : 'http'}://${host}:${port}`;
  console.log(
    [
      `Billing records API listening on ${url}`,
      `  API docs:  ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
      `  Health:    ${url}/healthz, ${url}/readyz   Metrics: ${url}/metrics`,
      `  Console:   ${url}/console`,
      ...services.description.map((line) => `  ${line}`),
      scheduler === undefined
        ? '  Archival: on demand (POST /api/v1/admin/archival/runs or npm run archive -- run); ARCHIVE_SCHEDULE runs it on a schedule'
        : `  Archival: scheduled '${config.archival.schedule}', next run ${scheduler.nextRun()?.toISOString() ?? 'never'}`,
      ...(config.auth.kind === 'dev-keys'
        ? ['  Get a token: TOKEN=$(npm run -s token -- --role Billing.Read Billing.Write)']
        : []),
      ...describeExtra(url),
      'Press Ctrl+C to stop.',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      console.error('Second signal: exiting now.');
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal} received: finishing requests and closing the stores ...`);
    void (async () => {
      await scheduler?.stop();
      await app.close();
      await services.close();
      console.log('Stopped cleanly.');
      process.exit(0);
    })();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
