// Telemetry through an in-memory span exporter: the span tree of an archived read (request → store →
// archived read → cache miss → Blob → decode) and of an archival run (run → slice → batch); metric
// values moving as the test drives them; traceparent honoured in problem bodies; a log line carrying
// the trace id.
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/composition/telemetry.ts';
import { logLineInside } from '../support/log-capture.ts';
import { type ApiHarness, startApiHarness } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';
import { policyOf } from '../support/archival-harness.ts';

const exporter = new InMemorySpanExporter();
let api: ApiHarness;

beforeAll(async () => {
  await startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  api = await startApiHarness({ policy: policyOf('P3M', 'P0D', 'P1D') });
});
afterAll(async () => api.close());

function childrenOf(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan[] {
  return spans.filter((candidate) => candidate.parentSpanContext?.spanId === span.spanContext().spanId);
}

function tree(span: ReadableSpan, spans: readonly ReadableSpan[]): unknown {
  const children = childrenOf(span, spans).map((child) => tree(child, spans));
  return children.length === 0 ? span.name : { [span.name]: children };
}

async function metricsText(): Promise<string> {
  return (await api.test.telemetry.prometheusText()).body;
}

function value(text: string, series: RegExp): number {
  const line = text.split('\n').find((candidate) => series.test(candidate));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('traces', () => {
  it('follows an archived read through the store, the cache miss, Blob and the decode in one trace', async () => {
    const created = await api.call({
      method: 'POST',
      url: '/api/v1/customers/cust-t/billing-records',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(
        makeInput({ id: 'rec-t1', customerId: 'cust-t', issuedAt: '2020-01-01T00:00:00.000Z' }),
      ),
    });
    expect(created.statusCode).toBe(201);
    const asOf = new Date(api.clock.now().getTime() + 3650 * 24 * 3600_000).toISOString();
    exporter.reset();
    const report = await api.test.archival.run({ asOf });
    expect(report.counts, JSON.stringify(report)).toMatchObject({ copied: 1 });
    expect(report.counts.purged, JSON.stringify(report)).toBe(1);

    // The run: a trace of its own, with a span per slice and per batch.
    const runSpans = exporter.getFinishedSpans();
    const run = runSpans.find((span) => span.name === 'archival.run')!;
    expect(run.parentSpanContext).toBeUndefined();
    const slices = childrenOf(run, runSpans).filter((span) => span.name === 'archival.slice');
    expect(slices.length).toBeGreaterThan(0);
    // Slices run side by side: the one month that holds the record has its copy batch under it.
    const withBatches = slices.filter((slice) =>
      childrenOf(slice, runSpans).some((span) => span.name === 'archival.batch'),
    );
    expect(withBatches).toHaveLength(1);
    expect(childrenOf(run, runSpans).map((span) => span.name)).toContain('archival.batch');

    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const read = await api.call({
      method: 'GET',
      url: '/api/v1/customers/cust-t/billing-records/rec-t1',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(read.statusCode).toBe(200);
    expect(read.headers['x-storage-tier']).toBe('archive');
    const spans = exporter.getFinishedSpans();
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));
    const root = spans.find((span) => span.parentSpanContext?.spanId === '00f067aa0ba902b7')!;
    expect(root).toBeDefined();
    const archivedRead = spans.find((span) => span.name === 'archived-record.read')!;
    expect(tree(archivedRead, spans)).toEqual({
      'archived-record.read': ['cache.get', 'blob.get', 'archived-record.decode', 'cache.set'],
    });
    const store = spans.find((span) => span.name === 'record-store.get')!;
    expect(store.attributes['billing.tier']).toBe('archived');
    const cacheGet = spans.find((span) => span.name === 'cache.get')!;
    expect(cacheGet.attributes['cache.hit']).toBe(false);
  });

  it('makes a product span only under a recording one: none for work outside a request or run', async () => {
    const key = { customerId: 'cust-t', id: 'rec-t1' };
    const records = api.test.wired.records;
    exporter.reset();
    // A CLI job's read: no request span, so no trace of its own (a root span per record read is noise).
    await records.get(key);
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual([]);

    // The same read inside a recording span: the store span is its child.
    await trace.getTracer('test').startActiveSpan('job', async (job) => {
      await records.get(key);
      job.end();
    });
    const spans = exporter.getFinishedSpans();
    const job = spans.find((span) => span.name === 'job')!;
    expect(childrenOf(job, spans).map((span) => span.name)).toContain('record-store.get');
  });

  it('puts the caller’s trace id in a problem body', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const response = await api.call({
      method: 'GET',
      url: '/api/v1/customers/cust-t/billing-records/absent',
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'NOT_FOUND', traceId });
  });
});

describe('metrics', () => {
  it('move as archival runs, archived reads and refused requests happen', async () => {
    const before = await metricsText();
    const runs = value(before, /^archival_runs_total\{status="succeeded"\}/);
    const reads = value(before, /^archived_read_duration_seconds_count\{source="cache"\}/);
    const denied = value(before, /^auth_denied_total\{reason="customer_scope"\}/);
    const missing = value(before, /^auth_denied_total\{reason="missing_token"\}/);

    await api.test.archival.run({
      asOf: new Date(api.clock.now().getTime() + 3650 * 24 * 3600_000).toISOString(),
    });
    await api.call({ method: 'GET', url: '/api/v1/customers/cust-t/billing-records/rec-t1' });
    const scoped = await api.token(['Billing.Read'], ['cust-other']);
    await api.app.inject({
      method: 'GET',
      url: '/api/v1/customers/cust-t/billing-records/rec-t1',
      headers: { authorization: `Bearer ${scoped}` },
    });
    await api.app.inject({ method: 'GET', url: '/api/v1/customers/cust-t/billing-records/rec-t1' });

    const after = await metricsText();
    expect(value(after, /^archival_runs_total\{status="succeeded"\}/)).toBe(runs + 1);
    expect(value(after, /^archived_read_duration_seconds_count\{source="cache"\}/)).toBe(reads + 1);
    expect(value(after, /^auth_denied_total\{reason="customer_scope"\}/)).toBe(denied + 1);
    expect(value(after, /^auth_denied_total\{reason="missing_token"\}/)).toBe(missing + 1);
    expect(after).toMatch(/^archival_records_total\{step="copy",outcome="failed"\} 0$/m);
    expect(after).toMatch(/^archival_last_success_timestamp_seconds \d+/m);
    expect(after).toMatch(/^archival_backlog_records 0$/m);
    expect(after).toMatch(/^archival_request_units_total /m);
  });
});

describe('logs', () => {
  it('carry the trace id of the active span', () => {
    const span = trace.getTracer('test').startSpan('log-test');
    const line = logLineInside(span);
    span.end();
    expect(line.trace_id).toBe(span.spanContext().traceId);
    expect(line.span_id).toBe(span.spanContext().spanId);
  });
});
