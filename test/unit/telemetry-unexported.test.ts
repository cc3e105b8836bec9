// Tracing with nothing to export to (no APPLICATIONINSIGHTS_CONNECTION_STRING, no span processor), as
// `npm start` runs: spans are not recorded (no attributes, events or timings kept for nobody), yet every
// request still has its trace id, the caller's when a traceparent comes, in problem bodies and log lines.
// A file of its own: tracing is set up once per process (vitest runs each file in its own).
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/composition/telemetry.ts';
import { logLineInside } from '../support/log-capture.ts';
import { type ApiHarness, startApiHarness } from '../support/api-harness.ts';

let api: ApiHarness;

beforeAll(async () => {
  await startTracing({});
  api = await startApiHarness();
});
afterAll(async () => api.close());

describe('tracing with no exporter', () => {
  it('records no span, but each span has a trace id and the log lines inside it carry that id', () => {
    const span = trace.getTracer('test').startSpan('unexported');
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    const line = logLineInside(span);
    span.end();
    expect(line.trace_id).toBe(span.spanContext().traceId);
  });

  it('keeps the caller’s trace id (traceparent, sampled or not) in a problem body', async () => {
    for (const flags of ['01', '00']) {
      const traceId = `4bf92f3577b34da6a3ce929d0e0e47${flags === '01' ? '36' : '37'}`;
      const response = await api.call({
        method: 'GET',
        url: '/api/v1/customers/cust-u/billing-records/absent',
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-${flags}` },
      });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'NOT_FOUND', traceId });
    }
  });

  // inject() bypasses the HTTP server: only a socket shows what the http instrumentation does to a request.
  it('keeps the caller’s trace id over a real socket, as `npm start` serves it', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4738';
    const address = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${address}/api/v1/customers/cust-u/billing-records/absent`, {
      headers: {
        authorization: `Bearer ${await api.token(['Billing.Read'])}`,
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'NOT_FOUND', traceId });
  });

  it('gives a request without traceparent a trace id of its own', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const response = await api.call({
        method: 'GET',
        url: '/api/v1/customers/cust-u/billing-records/absent',
      });
      const { traceId } = response.json<{ traceId: string }>();
      expect(traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      ids.add(traceId);
    }
    expect(ids.size).toBe(2);
  });
});
