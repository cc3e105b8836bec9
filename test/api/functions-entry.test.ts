// The Azure Functions entry point: importing it registers every route with the host (app.http is the
// only thing stubbed) and opens nothing; the first request opens the stores once per worker, a
// failed open is retried on the next request, and the host's terminate hook closes them.
import {
  type HttpFunctionOptions,
  HttpRequest,
  HttpResponse,
  type HttpResponseInit,
  InvocationContext,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadOrCreateDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { ROUTE_TABLE } from '../../src/api/api-application.ts';
import { DEV_AUDIENCE, DEV_ISSUER } from '../../src/config/app-config.ts';
import { AppError } from '../../src/domain/errors.ts';
import { type OpenedApplication, registerAll } from '../../src/functions/main.ts';
import { createTestApplication, type TestApplication } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const host = vi.hoisted(() => ({
  registered: new Map<string, HttpFunctionOptions>(),
  timers: new Map<string, TimerFunctionOptions>(),
  queues: new Map<string, StorageQueueFunctionOptions>(),
  onTerminate: [] as Array<() => Promise<void> | void>,
}));

// The Functions host's registration surface, and nothing else: requests and contexts are the real ones.
vi.mock('@azure/functions', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@azure/functions')>();
  return {
    ...actual,
    app: {
      http: (name: string, options: HttpFunctionOptions) => host.registered.set(name, options),
      timer: (name: string, options: TimerFunctionOptions) => host.timers.set(name, options),
      storageQueue: (name: string, options: StorageQueueFunctionOptions) => host.queues.set(name, options),
      hook: { appTerminate: (handler: () => Promise<void> | void) => host.onTerminate.push(handler) },
    },
  };
});

const context = (): InvocationContext =>
  new InvocationContext({ functionName: 'test', logHandler: () => undefined });

function request(method: string, path: string, init: { token?: string; body?: unknown } = {}): HttpRequest {
  const url = new URL(path, 'http://localhost');
  const route = ROUTE_TABLE.routes.find(
    (candidate) =>
      candidate.method === method &&
      new RegExp(`^${candidate.path.replace(/\{\w+\}/g, '[^/]+')}$`).test(url.pathname),
  );
  const names = [...(route?.path.matchAll(/\{(\w+)\}/g) ?? [])].map((match) => match[1] ?? '');
  const values = new RegExp(`^${route?.path.replace(/\{\w+\}/g, '([^/]+)') ?? ''}$`).exec(url.pathname) ?? [];
  return new HttpRequest({
    method,
    url: url.toString(),
    params: Object.fromEntries(names.map((name, index) => [name, values[index + 1] ?? ''])),
    headers: {
      ...(init.token !== undefined ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: { string: JSON.stringify(init.body) } } : {}),
  });
}

function handlerOf(
  registered: ReadonlyMap<string, HttpFunctionOptions>,
  name: string,
): (httpRequest: HttpRequest) => Promise<HttpResponseInit> {
  const options = registered.get(name);
  if (options === undefined) throw new Error(`no function ${name}`);
  return async (httpRequest) => {
    const answer = await options.handler(httpRequest, context());
    if (answer instanceof HttpResponse) throw new Error('the edge answers with HttpResponseInit');
    return answer;
  };
}

describe('src/functions/main.ts as the Functions host loads it', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'billing-functions-')), 'data');

  // The static import above already ran main.ts (as the host does at indexing); settings are read later.
  beforeAll(() => {
    vi.stubEnv('DATA_DIR', dataDir);
    vi.stubEnv('LOG_LEVEL', 'silent');
    // The embedded stores, whatever the developer's shell has set.
    for (const name of ['COSMOS_ENDPOINT', 'BLOB_CONNECTION_STRING', 'BLOB_ACCOUNT_URL', 'REDIS_URL'])
      vi.stubEnv(name, '');
    for (const name of ['AUTH_JWKS_PATH', 'AUTH_JWKS_URI', 'AUTH_ISSUER', 'AUTH_AUDIENCE'])
      vi.stubEnv(name, '');
  });
  afterAll(async () => {
    for (const terminate of host.onTerminate) await terminate();
    vi.unstubAllEnvs();
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('registers one anonymous HTTP trigger per route, and a terminate hook, without opening a store', () => {
    expect([...host.registered.keys()].sort()).toEqual(
      ROUTE_TABLE.routes.map((route) => route.operationId).sort(),
    );
    for (const route of ROUTE_TABLE.routes) {
      expect(host.registered.get(route.operationId)).toMatchObject({
        methods: [route.method],
        authLevel: 'anonymous',
        route: route.path.slice(1),
      });
    }
    expect(host.onTerminate).toHaveLength(1);
    expect([...host.timers.keys()].sort()).toEqual(['archivalRun', 'archiveCollector']);
    expect(host.timers.get('archivalRun')?.schedule).toBe('0 0 3 * * *');
    // Admin-started runs arrive through a Storage queue, each in an invocation of its own.
    expect(host.queues.get('archivalRunQueued')).toMatchObject({
      queueName: 'archival-runs',
      connection: 'ARCHIVE_QUEUE',
    });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('opens the configured stores on the first request and serves the API from them', async () => {
    const ready = await handlerOf(host.registered, 'readiness')(request('GET', '/readyz'));
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body as string)).toMatchObject({ checks: { hotStore: 'up', archive: 'up' } });
    expect(existsSync(join(dataDir, 'hot-store.sqlite'))).toBe(true);

    const keys = await loadOrCreateDevKeyPair(join(dataDir, 'dev-auth'));
    const token = await keys.sign({
      subject: 'functions-test',
      roles: ['Billing.Read', 'Billing.Write'],
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      expiresInSeconds: 300,
    });
    const created = await handlerOf(
      host.registered,
      'createBillingRecord',
    )(
      request('POST', '/api/v1/customers/cust-fn-entry/billing-records', {
        token,
        body: makeInput({ id: 'inv-fn-entry' }),
      }),
    );
    expect(created.status).toBe(201);
    const read = await handlerOf(
      host.registered,
      'getBillingRecord',
    )(request('GET', '/api/v1/customers/cust-fn-entry/billing-records/inv-fn-entry', { token }));
    expect(read.status).toBe(200);
    expect(Buffer.from(read.body as Uint8Array).toString('utf8')).toBe(created.body);
  });
});

describe('registerAll', () => {
  let test: TestApplication;
  beforeAll(async () => {
    test = await createTestApplication();
  });
  afterAll(async () => {
    await test.store.close();
  });

  function setUp(open: () => Promise<OpenedApplication>) {
    const registered = new Map<string, HttpFunctionOptions>();
    const opener = vi.fn(open);
    const functions = registerAll((name, options) => registered.set(name, options), opener);
    const liveness = handlerOf(registered, 'liveness');
    return { opener, functions, liveness: () => liveness(request('GET', '/healthz')) };
  }

  it('opens the application once per worker, however many requests arrive, and closes it once', async () => {
    const close = vi.fn(() => Promise.resolve());
    const { opener, functions, liveness } = setUp(() =>
      Promise.resolve({
        application: test.application,
        archival: test.archival,
        audit: test.wired.audit,
        close,
      }),
    );
    expect(opener).not.toHaveBeenCalled();
    const answers = await Promise.all([liveness(), liveness(), liveness()]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect((await liveness()).status).toBe(200);
    expect(opener).toHaveBeenCalledTimes(1);
    await functions.close();
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('retries a failed open on the next request instead of failing for ever', async () => {
    let attempts = 0;
    const { opener, liveness } = setUp(() => {
      attempts += 1;
      return attempts === 1
        ? Promise.reject(new Error('Cosmos DB is unreachable'))
        : Promise.resolve({
            application: test.application,
            archival: test.archival,
            audit: test.wired.audit,
            close: () => Promise.resolve(),
          });
    });
    // A store unreachable at cold start is an outage: 503 problem+json with Retry-After.
    const first = await liveness();
    expect(first.status).toBe(503);
    expect((first.headers as Record<string, string>)['retry-after']).toBeDefined();
    expect((await liveness()).status).toBe(200);
    expect((await liveness()).status).toBe(200);
    expect(opener).toHaveBeenCalledTimes(2);
  });

  it('registers the archival timers, which run the same use cases on the same lazily opened services', async () => {
    const timers = new Map<string, TimerFunctionOptions>();
    const opener = vi.fn(() =>
      Promise.resolve({
        application: test.application,
        archival: test.archival,
        audit: test.wired.audit,
        close: () => Promise.resolve(),
      }),
    );
    registerAll(() => undefined, opener, {
      register: (name, options) => timers.set(name, options),
      schedules: { archival: '0 */30 * * * *' },
    });
    expect(timers.get('archivalRun')?.schedule).toBe('0 */30 * * * *');
    expect(timers.get('archiveCollector')?.schedule).toBe('0 0 4 * * 0');
    const runsBefore = (await test.archival.listRuns()).length;
    await timers
      .get('archivalRun')!
      .handler({ isPastDue: false, scheduleStatus: undefined } as never, context());
    expect((await test.archival.listRuns()).length).toBe(runsBefore + 1);
    await timers.get('archiveCollector')!.handler({ isPastDue: false } as never, context());
    expect(opener).toHaveBeenCalledTimes(1);

    // Each timer's run is the system principal's act, durable in the audit trail before it started.
    const events = (await test.wired.audit.query({ actor: 'system:scheduler', limit: 10 })).items;
    expect(events.map((event) => [event.action, event.status, event.reason])).toEqual([
      ['archival.run', 202, 'timer archivalRun (0 */30 * * * *)'],
      ['archive.gc', 202, 'timer archiveCollector (0 0 4 * * 0)'],
    ]);
    expect(events[0]?.actor.roles).toEqual(['system']);
  });

  it('does not run a timer whose audit event the trail refuses: the invocation fails', async () => {
    const timers = new Map<string, TimerFunctionOptions>();
    const refusing = {
      recordNow: () => Promise.reject(new AppError('UNAVAILABLE', 'the audit log is unreachable')),
    };
    registerAll(
      () => undefined,
      () =>
        Promise.resolve({
          application: test.application,
          archival: test.archival,
          audit: refusing,
          close: () => Promise.resolve(),
        }),
      { register: (name, options) => timers.set(name, options) },
    );
    const runsBefore = (await test.archival.listRuns()).length;
    await expect(timers.get('archivalRun')!.handler({ isPastDue: true } as never, context())).rejects.toThrow(
      'the audit log is unreachable',
    );
    expect((await test.archival.listRuns()).length).toBe(runsBefore);
  });

  it('closes nothing and opens nothing on shutdown when no request came', async () => {
    const { opener, functions } = setUp(() =>
      Promise.resolve({
        application: test.application,
        archival: test.archival,
        audit: test.wired.audit,
        close: () => Promise.resolve(),
      }),
    );
    await functions.close();
    expect(opener).not.toHaveBeenCalled();
  });
});
