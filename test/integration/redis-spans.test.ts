// The ioredis instrumentation on a real Redis: an archived read served from the shared cache shows the
// Redis command as a span under the request's own spans (request → handler → archived read → cache.get
// → Redis GET), in the caller's trace. Two applications share the Redis and the record store, as two
// processes do: the second one's read is a shared-cache hit. Never skipped: without Redis it fails.
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCache } from '../../src/adapters/redis/redis-cache.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import { startTracing } from '../../src/composition/telemetry.ts';
import { waitUntil } from '../contract/cache.contract.ts';
import { policyOf } from '../support/archival-harness.ts';
import { createTestApplication, type TestApplication } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// One namespace per run: parallel runs never meet, and cleanup removes exactly what this run wrote.
const RUN_PREFIX = `billing-span-test:${process.pid}:${randomUUID()}:`;
const exporter = new InMemorySpanExporter();
const caches: RedisCache[] = [];
const applications: TestApplication[] = [];

async function sharedCache(): Promise<RedisCache> {
  const cache = new RedisCache(REDIS_URL, { keyPrefix: RUN_PREFIX });
  caches.push(cache);
  await waitUntil(() => cache.healthy(), {
    what: `Redis at ${REDIS_URL} (start redis-server or set REDIS_URL)`,
  });
  return cache;
}

beforeAll(async () => {
  await startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
});
afterAll(async () => {
  for (const application of applications) await application.wired.shutdown();
  for (const cache of caches) await cache.close();
  await applications[0]?.store.close();
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  const keys = await admin.keys(`${RUN_PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

function ancestry(span: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const parent = spans.find((candidate) => candidate.spanContext().spanId === span.parentSpanContext?.spanId);
  return parent === undefined ? [] : [...ancestry(parent, spans), parent.name];
}

describe('Redis spans', () => {
  it('shows the Redis GET of a shared-cache hit under the request span of an archived read', async () => {
    const writer = await createTestApplication({
      policy: policyOf('P3M', 'P0D', 'P1D'),
      cache: await sharedCache(),
    });
    applications.push(writer);
    const token = await writer.token();
    const server = await buildHttpServer(writer.application);
    const created = await server.inject({
      method: 'POST',
      url: '/api/v1/customers/cust-rs/billing-records',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(
        makeInput({ id: 'rs-1', customerId: 'cust-rs', issuedAt: '2020-01-01T00:00:00.000Z' }),
      ),
    });
    expect(created.statusCode).toBe(201);
    const report = await writer.archival.run({
      asOf: new Date(writer.clock.now().getTime() + 3650 * 24 * 3600_000).toISOString(),
    });
    expect(report.counts, JSON.stringify(report)).toMatchObject({ copied: 1, purged: 1 });
    // The first read goes to Blob and fills the shared cache.
    const first = await server.inject({
      method: 'GET',
      url: '/api/v1/customers/cust-rs/billing-records/rs-1',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(first.statusCode).toBe(200);
    await server.close();

    // Another process: the same record store, the same Redis, nothing in its own memory.
    const reader = await createTestApplication({ store: writer.store, cache: await sharedCache() });
    applications.push(reader);
    const readerServer = await buildHttpServer(reader.application);
    exporter.reset();
    const traceId = '6bf92f3577b34da6a3ce929d0e0e4738';
    const read = await readerServer.inject({
      method: 'GET',
      url: '/api/v1/customers/cust-rs/billing-records/rs-1',
      headers: {
        authorization: `Bearer ${await reader.token()}`,
        traceparent: `00-${traceId}-00f067aa0ba902b9-01`,
      },
    });
    await readerServer.close();
    expect(read.statusCode).toBe(200);
    expect(read.body).toBe(first.body);

    const spans = exporter.getFinishedSpans();
    const cacheGet = spans.find((span) => span.name === 'cache.get')!;
    expect(cacheGet.attributes['cache.hit']).toBe(true);
    expect(spans.map((span) => span.name)).not.toContain('blob.get');
    const redisGet = spans.find(
      (span) =>
        span.kind === SpanKind.CLIENT && span.parentSpanContext?.spanId === cacheGet.spanContext().spanId,
    );
    expect(redisGet, spans.map((span) => span.name).join(', ')).toBeDefined();
    expect(redisGet!.name).toBe('get');
    expect(redisGet!.attributes).toMatchObject({
      'db.system.name': 'redis',
      'db.operation.name': 'get',
      'server.port': 6379,
    });
    expect(redisGet!.spanContext().traceId).toBe(traceId);
    // Its ancestry is the request's: the incoming request span (its caller's child), the route's
    // handler, the archived read; the stub's store read is a sibling in the same trace.
    const names = ancestry(redisGet!, spans);
    expect(names.slice(-2), names.join(' > ')).toEqual(['archived-record.read', 'cache.get']);
    const root = spans.find((span) => span.parentSpanContext?.spanId === '00f067aa0ba902b9')!;
    expect(root.kind).toBe(SpanKind.SERVER);
    expect(names[0]).toBe(root.name);
    expect(spans.find((span) => span.name === 'record-store.get')?.spanContext().traceId).toBe(traceId);
  });
});
