// Tracing under the Azure Functions edge, through an in-memory span exporter: each HTTP invocation is a
// server span in the caller's trace (its traceparent, else the host's), the store, cache and Blob spans
// are its descendants, and the trace id reaches the problem body and the log lines.
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { HttpRequest, type HttpFunctionOptions, type HttpHandler, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_TABLE } from '../../src/api/api-application.ts';
import { startTracing } from '../../src/composition/telemetry.ts';
import { registerHttpFunctions } from '../../src/functions/http-functions.ts';
import { policyOf } from '../support/archival-harness.ts';
import { createTestApplication, type TestApplication } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const exporter = new InMemorySpanExporter();
const registered = new Map<string, HttpFunctionOptions>();
let test: TestApplication;

beforeAll(async () => {
  await startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  test = await createTestApplication({ policy: policyOf('P3M', 'P0D', 'P1D') });
  registerHttpFunctions(
    (name, options) => registered.set(name, options),
    ROUTE_TABLE.routes,
    () => Promise.resolve(test.application),
  );
});
afterAll(async () => {
  await test.wired.shutdown();
  await test.store.close();
});

function handler(name: string): HttpHandler {
  const options = registered.get(name);
  if (options === undefined) throw new Error(`no function ${name}`);
  return options.handler;
}

interface LoggedLine {
  readonly message: unknown;
  readonly fields: Record<string, unknown>;
}

function invocation(lines: LoggedLine[] = [], traceContext?: { traceParent: string }): InvocationContext {
  return new InvocationContext({
    functionName: 'test',
    invocationId: 'inv-1',
    logHandler: (_level, message, fields) =>
      lines.push({ message, fields: (fields ?? {}) as Record<string, unknown> }),
    ...(traceContext !== undefined ? { traceContext } : {}),
  });
}

function descendantNames(root: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const children = spans.filter(
    (candidate) => candidate.parentSpanContext?.spanId === root.spanContext().spanId,
  );
  return children.flatMap((child) => [child.name, ...descendantNames(child, spans)]);
}

const ROUTE = '/api/v1/customers/{customerId}/billing-records/{recordId}';

describe('Functions HTTP request spans', () => {
  it('makes an archived read one server span in the caller’s trace, with the store, cache and Blob spans under it', async () => {
    const token = await test.token();
    const created = await handler('createBillingRecord')(
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/api/v1/customers/cust-ft/billing-records',
        params: { customerId: 'cust-ft' },
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: {
          string: JSON.stringify(
            makeInput({ id: 'ft-1', customerId: 'cust-ft', issuedAt: '2020-01-01T00:00:00.000Z' }),
          ),
        },
      }),
      invocation(),
    );
    expect(created.status).toBe(201);
    const report = await test.archival.run({
      asOf: new Date(test.clock.now().getTime() + 3650 * 24 * 3600_000).toISOString(),
    });
    expect(report.counts, JSON.stringify(report)).toMatchObject({ copied: 1, purged: 1 });

    exporter.reset();
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4737';
    const read = await handler('getBillingRecord')(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/v1/customers/cust-ft/billing-records/ft-1',
        params: { customerId: 'cust-ft', recordId: 'ft-1' },
        headers: { authorization: `Bearer ${token}`, traceparent: `00-${traceId}-00f067aa0ba902b8-01` },
      }),
      invocation(),
    );
    expect(read.status).toBe(200);
    expect((read.headers as Record<string, string>)['x-storage-tier']).toBe('archive');

    const spans = exporter.getFinishedSpans();
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));
    const server = spans.find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.name).toBe(`GET ${ROUTE}`);
    expect(server.parentSpanContext?.spanId).toBe('00f067aa0ba902b8');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': ROUTE,
      'url.path': '/api/v1/customers/cust-ft/billing-records/ft-1',
      'http.response.status_code': 200,
      'faas.trigger': 'http',
      'faas.invocation_id': 'inv-1',
    });
    expect(descendantNames(server, spans)).toEqual(
      expect.arrayContaining([
        'record-store.get',
        'archived-record.read',
        'cache.get',
        'blob.get',
        'archived-record.decode',
      ]),
    );
    // Every span of the read hangs under the server span: none is left a root of its own.
    expect(descendantNames(server, spans)).toHaveLength(spans.length - 1);
  });

  it('puts the caller’s trace id in a problem body and in the log lines', async () => {
    const token = await test.token();
    const traceId = '1af7651916cd43dd8448eb211c80319d';
    const lines: LoggedLine[] = [];
    exporter.reset();
    const response = await handler('getBillingRecord')(
      new HttpRequest({
        method: 'GET',
        url: 'http://localhost/api/v1/customers/cust-ft/billing-records/absent',
        params: { customerId: 'cust-ft', recordId: 'absent' },
        headers: { authorization: `Bearer ${token}`, traceparent: `00-${traceId}-b7ad6b7169203332-01` },
      }),
      invocation(lines),
    );
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body as string)).toMatchObject({ code: 'NOT_FOUND', traceId });
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.attributes['http.response.status_code']).toBe(404);
    const completed = lines.find((line) => line.message === 'request completed');
    expect(completed?.fields).toMatchObject({
      statusCode: 404,
      trace_id: traceId,
      span_id: server.spanContext().spanId,
    });
  });

  it('joins the host’s trace when the caller sent no traceparent', async () => {
    const hostTraceId = '2af7651916cd43dd8448eb211c80319e';
    exporter.reset();
    const response = await handler('liveness')(
      new HttpRequest({ method: 'GET', url: 'http://localhost/healthz' }),
      invocation([], { traceParent: `00-${hostTraceId}-c7ad6b7169203333-01` }),
    );
    expect(response.status).toBe(200);
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.spanContext().traceId).toBe(hostTraceId);
    expect(server.parentSpanContext?.spanId).toBe('c7ad6b7169203333');
  });

  it('starts a new trace when neither the caller nor the host sent one, and marks a 5xx as an error', async () => {
    exporter.reset();
    const failing = new Map<string, HttpFunctionOptions>();
    registerHttpFunctions(
      (name, options) => failing.set(name, options),
      ROUTE_TABLE.routes,
      () => Promise.reject(new Error('Cosmos DB unreachable')),
    );
    const response = await failing
      .get('liveness')!
      .handler(new HttpRequest({ method: 'GET', url: 'http://localhost/healthz' }), invocation());
    expect(response.status).toBe(503);
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(JSON.parse(response.body as string)).toMatchObject({
      code: 'UNAVAILABLE',
      traceId: server.spanContext().traceId,
    });
  });
});
