// The Azure Functions edge: the registered handlers, invoked with the library's own request objects,
// answer exactly as the HTTP server does.
import { HttpRequest, type HttpFunctionOptions, type HttpHandler, InvocationContext } from '@azure/functions';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_TABLE } from '../../src/api/api-application.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import { registerHttpFunctions } from '../../src/functions/http-functions.ts';
import { createTestApplication, type TestApplication } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const registered = new Map<string, HttpFunctionOptions>();
let test: TestApplication;

beforeAll(async () => {
  test = await createTestApplication();
  registerHttpFunctions(
    (name, options) => registered.set(name, options),
    ROUTE_TABLE.routes,
    () => Promise.resolve(test.application),
  );
});
afterAll(async () => {
  await test.store.close();
});

function handler(name: string): HttpHandler {
  const options = registered.get(name);
  if (options === undefined) throw new Error(`no function ${name}`);
  return options.handler;
}

const context = (): InvocationContext =>
  new InvocationContext({ functionName: 'test', logHandler: () => undefined });

describe('Azure Functions HTTP triggers', () => {
  it('registers one anonymous trigger per route, on the paths of API.md', () => {
    expect([...registered.keys()].sort()).toEqual(ROUTE_TABLE.routes.map((r) => r.operationId).sort());
    const get = registered.get('getBillingRecord');
    expect(get).toMatchObject({
      methods: ['GET'],
      authLevel: 'anonymous',
      route: 'api/v1/customers/{customerId}/billing-records/{recordId}',
    });
    expect(registered.get('liveness')?.route).toBe('healthz');
  });

  it('creates and reads a record with the same bytes and ETag the HTTP server gives', async () => {
    const token = await test.token();
    const input = makeInput({ id: 'fn-1' });
    const created = await handler('createBillingRecord')(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/v1/customers/cust-fn/billing-records',
        params: { customerId: 'cust-fn' },
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: { string: JSON.stringify(input) },
      }),
      context(),
    );
    expect(created.status).toBe(201);
    expect(created.headers).toMatchObject({
      etag: '"1"',
      location: '/api/v1/customers/cust-fn/billing-records/fn-1',
    });

    const read = await handler('getBillingRecord')(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/v1/customers/cust-fn/billing-records/fn-1',
        params: { customerId: 'cust-fn', recordId: 'fn-1' },
        headers: { authorization: `Bearer ${token}` },
      }),
      context(),
    );
    expect(read.status).toBe(200);
    // A hot record's JSON goes out as the bytes the store kept: the same text.
    const readText = Buffer.from(read.body as Uint8Array).toString('utf8');
    expect(readText).toBe(created.body);

    const server = await buildHttpServer(test.application);
    const viaHttp = await server.inject({
      method: 'GET',
      url: '/api/v1/customers/cust-fn/billing-records/fn-1',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(viaHttp.body).toBe(readText);
    expect(viaHttp.headers.etag).toBe((read.headers as Record<string, string>).etag);
    await server.close();
  });

  it('answers problems the same way: 401 without a token, 400 with field errors, 413 over 1 MiB', async () => {
    const unauthenticated = await handler('listBillingRecords')(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/v1/customers/c/billing-records',
        params: { customerId: 'c' },
      }),
      context(),
    );
    expect(unauthenticated.status).toBe(401);
    expect((unauthenticated.headers as Record<string, string>)['content-type']).toBe(
      'application/problem+json; charset=utf-8',
    );

    const token = await test.token();
    const invalid = await handler('createBillingRecord')(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/v1/customers/c/billing-records',
        params: { customerId: 'c' },
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: { string: JSON.stringify({ ...makeInput(), totalMinor: 1 }) },
      }),
      context(),
    );
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body as string).errors[0].field).toBe('/totalMinor');

    const huge = await handler('createBillingRecord')(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/v1/customers/c/billing-records',
        params: { customerId: 'c' },
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: { string: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }) },
      }),
      context(),
    );
    expect(huge.status).toBe(413);
  });

  it('states the same Content-Type as the HTTP server for every kind of JSON answer', async () => {
    const token = await test.token(['Billing.Admin', 'Billing.Read', 'Billing.Write']);
    const auth = { authorization: `Bearer ${token}` };
    const input = makeInput({ id: 'fn-type' });
    await test.wired.records.create('cust-fn-type', input);
    const recordParams = { customerId: 'cust-fn-type', recordId: 'fn-type' };
    const cases: Array<
      [name: string, url: string, params: Record<string, string>, headers: Record<string, string>]
    > = [
      ['getBillingRecord', '/api/v1/customers/cust-fn-type/billing-records/fn-type', recordParams, auth],
      [
        'listBillingRecords',
        '/api/v1/customers/cust-fn-type/billing-records?limit=1',
        { customerId: 'cust-fn-type' },
        auth,
      ],
      ['getArchivalStatus', '/api/v1/admin/archival/status', {}, auth],
      ['liveness', '/healthz', {}, {}],
      [
        'getBillingRecord',
        '/api/v1/customers/cust-fn-type/billing-records/absent',
        { ...recordParams, recordId: 'absent' },
        auth,
      ],
      [
        'listBillingRecords',
        '/api/v1/customers/cust-fn-type/billing-records',
        { customerId: 'cust-fn-type' },
        {},
      ],
    ];
    const seen: string[] = [];
    const server = await buildHttpServer(test.application);
    try {
      for (const [name, url, params, headers] of cases) {
        const viaFunctions = await handler(name)(
          new HttpRequest({ method: 'GET', url: `http://localhost${url}`, params, headers }),
          context(),
        );
        const viaHttp = await server.inject({ method: 'GET', url, headers });
        expect(viaFunctions.status, url).toBe(viaHttp.statusCode);
        const type = (viaFunctions.headers as Record<string, string>)['content-type'];
        expect(type, `${url} answered ${viaHttp.statusCode}`).toBe(viaHttp.headers['content-type']);
        seen.push(`${viaHttp.statusCode} ${type}`);
      }
    } finally {
      await server.close();
    }
    expect(seen).toEqual([
      '200 application/json; charset=utf-8',
      '200 application/json; charset=utf-8',
      '200 application/json; charset=utf-8',
      '200 application/json; charset=utf-8',
      '404 application/problem+json; charset=utf-8',
      '401 application/problem+json; charset=utf-8',
    ]);
  });

  it('serves the list with query parameters from the URL', async () => {
    const token = await test.token();
    const list = await handler('listBillingRecords')(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/v1/customers/cust-fn/billing-records?limit=1',
        params: { customerId: 'cust-fn' },
        headers: { authorization: `Bearer ${token}` },
      }),
      context(),
    );
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body as string).items).toHaveLength(1);
  });

  it('streams a customer export through the Functions edge, the same bytes the HTTP server sends', async () => {
    const token = await test.token(['Billing.Admin', 'Billing.Read', 'Billing.Write']);
    for (const id of ['fx-1', 'fx-2']) {
      await handler('createBillingRecord')(
        new HttpRequest({
          method: 'POST',
          url: 'http://localhost/api/v1/customers/cust-fx/billing-records',
          params: { customerId: 'cust-fx' },
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: { string: JSON.stringify(makeInput({ id })) },
        }),
        context(),
      );
    }
    const exported = await handler('exportCustomer')(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/v1/admin/customers/cust-fx/export',
        params: { customerId: 'cust-fx' },
        headers: { authorization: `Bearer ${token}` },
      }),
      context(),
    );
    expect(exported.status).toBe(200);
    expect(exported.body).toBeInstanceOf(Readable);
    const chunks: Buffer[] = [];
    for await (const chunk of exported.body as Readable) chunks.push(Buffer.from(chunk as string));
    const server = await buildHttpServer(test.application);
    const viaHttp = await server.inject({
      method: 'GET',
      url: '/api/v1/admin/customers/cust-fx/export',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(Buffer.concat(chunks).toString()).toBe(viaHttp.body);
    expect(viaHttp.body.split('\n').filter(Boolean)).toHaveLength(2);
    await server.close();
  });
});
