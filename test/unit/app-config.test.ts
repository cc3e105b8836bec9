import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/app-config.ts';

describe('configuration', () => {
  it('defaults to the embedded stores, dev keys and the archival defaults', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe('/srv/app/.data');
    expect(config.hotStore).toEqual({ kind: 'sqlite', path: '/srv/app/.data/hot-store.sqlite' });
    expect(config.archive).toEqual({ kind: 'files', folder: '/srv/app/.data/archive' });
    expect(config.cache.kind).toBe('memory');
    expect(config.auth.kind).toBe('dev-keys');
    expect(config.archival.after.text).toBe('P3M');
    expect(config.archival.gracePeriod.text).toBe('P7D');
    expect(config.archival.schedule).toBeUndefined();
    expect(Object.isFrozen(config.hotStore)).toBe(true);
  });

  it('reads Azure settings', () => {
    const config = loadConfig(
      {
        COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
        COSMOS_DATABASE: 'bills',
        BLOB_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
        REDIS_URL: 'rediss://cache:6380',
        AUTH_JWKS_URI: 'https://login.microsoftonline.com/t/discovery/v2.0/keys',
        AUTH_ISSUER: 'https://login.microsoftonline.com/t/v2.0',
        AUTH_AUDIENCE: 'api://billing',
        ARCHIVE_GRACE_PERIOD: 'P0D',
        ARCHIVE_SCHEDULE: '0 3 * * *',
      },
      '/srv',
    );
    expect(config.hotStore).toMatchObject({
      kind: 'cosmos',
      database: 'bills',
      container: 'records',
      key: undefined,
    });
    expect(config.archive).toMatchObject({ kind: 'blob', accountUrl: 'https://acct.blob.core.windows.net' });
    expect(config.cache).toEqual({
      kind: 'redis',
      url: 'rediss://cache:6380',
      ttlMs: 3_600_000,
      decodedMaxBytes: 64 * 1024 * 1024,
    });
    expect(config.auth.kind).toBe('jwks-uri');
    expect(config.archival.gracePeriod.days).toBe(0);
  });

  it('reads the archival settings, with defaults', () => {
    const defaults = loadConfig({}, '/srv').archival;
    expect(defaults).toMatchObject({
      timeBudgetMs: 9 * 60_000,
      requestUnitsPerSecond: undefined,
      throughputShare: 0.25,
      batchSize: 100,
      concurrency: 16,
    });
    expect(defaults.coolDown.text).toBe('P1D');
    expect(defaults.collectorSafetyWindowMs).toBe(86_400_000);
    const tuned = loadConfig(
      {
        ARCHIVE_COOL_DOWN: 'P14D',
        ARCHIVE_TIME_BUDGET: 'PT4M30S',
        ARCHIVE_MAX_RU_PER_SECOND: '400',
        CACHE_TTL: 'PT5M',
        CACHE_DECODED_MAX_BYTES: '0',
      },
      '/srv',
    );
    expect(tuned.archival.coolDown.days).toBe(14);
    expect(tuned.archival.timeBudgetMs).toBe(270_000);
    expect(tuned.archival.requestUnitsPerSecond).toBe(400);
    // 0 stays a way to say "no limit"; unset means a share of the container's throughput.
    expect(loadConfig({ ARCHIVE_MAX_RU_PER_SECOND: '0' }, '/srv').archival.requestUnitsPerSecond).toBe(0);
    expect(loadConfig({ ARCHIVE_THROUGHPUT_SHARE_PERCENT: '10' }, '/srv').archival.throughputShare).toBe(0.1);
    expect(tuned.cache.ttlMs).toBe(300_000);
    expect(loadConfig({}, '/srv').cache.decodedMaxBytes).toBe(64 * 1024 * 1024);
    expect(tuned.cache.decodedMaxBytes).toBe(0);
  });

  it('chooses embedded Azurite instead of the file archive with EMBEDDED_ARCHIVE=azurite', () => {
    const config = loadConfig({ EMBEDDED_ARCHIVE: 'azurite', AZURITE_PORT: '10000' }, '/srv/app');
    expect(config.archive).toMatchObject({ kind: 'azurite', folder: '/srv/app/.data/azurite', port: 10000 });
  });

  it.each([
    [{ EMBEDDED_ARCHIVE: 'memory' }, 'EMBEDDED_ARCHIVE must be one of files, azurite'],
    [
      { EMBEDDED_ARCHIVE: 'files', BLOB_ACCOUNT_URL: 'https://acct.blob.core.windows.net' },
      'EMBEDDED_ARCHIVE chooses the archive without Blob settings',
    ],
    [{ ARCHIVE_TIME_BUDGET: 'P1M' }, 'ARCHIVE_TIME_BUDGET'],
    [{ ARCHIVE_BATCH_SIZE: '0' }, 'ARCHIVE_BATCH_SIZE'],
    [{ CACHE_DECODED_MAX_BYTES: '-1' }, 'CACHE_DECODED_MAX_BYTES'],
    [{ ARCHIVE_MAX_RU_PER_SECOND: '-5' }, 'ARCHIVE_MAX_RU_PER_SECOND'],
    [{ BLOB_CONTROL_CONTAINER: 'billing-archive' }, 'BLOB_CONTROL_CONTAINER'],
    [{ FUNCTIONS_WORKER_RUNTIME: 'node' }, 'COSMOS_ENDPOINT and BLOB_ACCOUNT_URL'],
    [{ FUNCTIONS_WORKER_RUNTIME: 'node' }, 'ARCHIVE_QUEUE__QUEUESERVICEURI (or ARCHIVE_QUEUE) is required'],
    [{ ARCHIVE_GC_SAFETY_WINDOW: 'PT1M' }, 'ARCHIVE_GC_SAFETY_WINDOW must be at least ARCHIVE_TIME_BUDGET'],
    [{ COST_THROUGHPUT_MODE: 'free' }, 'COST_THROUGHPUT_MODE'],
    [{ COST_CACHE_TIER: 'gold' }, 'COST_CACHE_TIER'],
    [{ COST_PRICES_PATH: 'no-such-prices.json' }, 'COST_PRICES_PATH'],
    [{ ARCHIVE_TIMER_SCHEDULE: '0 3 * * *' }, 'ARCHIVE_TIMER_SCHEDULE'],
    [{ ARCHIVE_GC_TIMER_SCHEDULE: '0 0 25 * * *' }, 'ARCHIVE_GC_TIMER_SCHEDULE'],
    [{ COSMOS_DATABASE: 'bills' }, 'COSMOS_DATABASE and COSMOS_KEY need COSMOS_ENDPOINT'],
  ])('refuses %j naming the setting', (env, name) => {
    expect(() => loadConfig(env, '/srv')).toThrow(name);
  });

  it('queues admin-started runs only under Functions', () => {
    const queue = { ARCHIVE_QUEUE__QUEUESERVICEURI: 'https://acct.queue.core.windows.net' };
    expect(loadConfig(queue, '/srv').functions.runQueue).toBeUndefined();
    const functions = {
      ...queue,
      FUNCTIONS_WORKER_RUNTIME: 'node',
      COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
      BLOB_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
      AUTH_JWKS_URI: 'https://login.example/keys',
      AUTH_ISSUER: 'https://login.example/v2.0',
      AUTH_AUDIENCE: 'api://billing',
    };
    expect(loadConfig(functions, '/srv').functions.runQueue).toEqual({
      kind: 'service-uri',
      serviceUrl: 'https://acct.queue.core.windows.net',
      name: 'archival-runs',
    });
  });

  it('names every bad setting at once', () => {
    let error: unknown;
    try {
      loadConfig(
        {
          PORT: 'eighty',
          ARCHIVE_AFTER: 'three months',
          ARCHIVE_SCHEDULE: 'whenever',
          REDIS_URL: 'http://x',
          BLOB_CONTAINER: 'Bad_Name',
          AUTH_JWKS_PATH: 'jwks.json',
        },
        '/srv',
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of [
      'PORT',
      'ARCHIVE_AFTER',
      'ARCHIVE_SCHEDULE',
      'REDIS_URL',
      'BLOB_CONTAINER',
      'AUTH_ISSUER',
      'AUTH_AUDIENCE',
    ]) {
      expect(message).toContain(name);
    }
  });

  it('says what each bad setting must be, and what it got', () => {
    const problemsOf = (env: Record<string, string>): readonly string[] => {
      try {
        loadConfig(env, '/srv');
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    expect(
      problemsOf({ PORT: 'eighty', LOG_LEVEL: 'loud', COSMOS_ALLOW_INSECURE_TLS: 'yes', CACHE_TTL: 'P1M' }),
    ).toEqual([
      "PORT must be an integer from 0 to 65535 (got 'eighty')",
      "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got 'loud')",
      "COSMOS_ALLOW_INSECURE_TLS must be true or false (got 'yes')",
      "CACHE_TTL must be a fixed duration such as PT9M or P1D, without months or years (got 'P1M')",
    ]);
    // Secrets are named, never echoed: the message ends up in logs.
    const secretProblems = problemsOf({
      BLOB_CONNECTION_STRING: 'SharedAccessSignature=sv=hunter2',
      REDIS_URL: 'http://:hunter2@cache:6379',
    });
    expect(secretProblems).toHaveLength(2);
    expect(secretProblems.join('\n')).toMatch(/BLOB_CONNECTION_STRING[^]*REDIS_URL/);
    expect(secretProblems.join('\n')).not.toContain('hunter2');
  });

  it('ignores variables it does not know, and reads empty ones as unset', () => {
    const config = loadConfig({ PATH: '/usr/bin', HOME: '/root', PORT: '', ARCHIVE_AFTER: '  ' }, '/srv');
    expect(config.port).toBe(8080);
    expect(config.archival.after.text).toBe('P3M');
  });

  it('reads booleans as app settings spell them', () => {
    const azure = {
      COSMOS_ENDPOINT: 'https://localhost:8081',
      AUTH_JWKS_PATH: 'jwks.json',
      AUTH_ISSUER: 'issuer',
      AUTH_AUDIENCE: 'audience',
    };
    const allowInsecureTls = (value: string) => {
      const hotStore = loadConfig({ ...azure, COSMOS_ALLOW_INSECURE_TLS: value }, '/srv').hotStore;
      return hotStore.kind === 'cosmos' && hotStore.allowInsecureTls;
    };
    expect(['true', 'True', '1', 'false', 'FALSE', '0', ''].map(allowInsecureTls)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });

  it('reads the Functions timer schedules (NCRONTAB, with seconds)', () => {
    expect(loadConfig({}, '/srv').functions).toEqual({
      archiveTimerSchedule: '0 0 3 * * *',
      collectorTimerSchedule: '0 0 4 * * 0',
      retentionTimerSchedule: '0 0 5 * * *',
      runQueueName: 'archival-runs',
    });
    expect(
      loadConfig(
        { ARCHIVE_TIMER_SCHEDULE: '0 */30 * * * *', ARCHIVE_GC_TIMER_SCHEDULE: '0 0 5 * * 6' },
        '/srv',
      ).functions,
    ).toEqual({
      archiveTimerSchedule: '0 */30 * * * *',
      collectorTimerSchedule: '0 0 5 * * 6',
      retentionTimerSchedule: '0 0 5 * * *',
      runQueueName: 'archival-runs',
    });
  });

  it('reads RETENTION_PERIOD (empty keeps every record) and schedules retention only with archival', () => {
    expect(loadConfig({}, '/srv').retention).toEqual({ period: undefined, schedule: undefined });
    expect(loadConfig({ RETENTION_PERIOD: 'P7Y' }, '/srv').retention).toMatchObject({
      period: { years: 7, text: 'P7Y' },
      schedule: undefined,
    });
    expect(
      loadConfig({ RETENTION_PERIOD: 'P7Y', ARCHIVE_SCHEDULE: '0 3 * * *' }, '/srv').retention.schedule,
    ).toBe('0 5 * * *');
    expect(() => loadConfig({ RETENTION_PERIOD: '7 years' }, '/srv')).toThrow(/RETENTION_PERIOD/);
  });

  it('refuses dev keys when a real Cosmos account is configured', () => {
    expect(() => loadConfig({ COSMOS_ENDPOINT: 'https://acct.documents.azure.com' }, '/srv')).toThrow(
      /AUTH_JWKS_URI/,
    );
  });
});
