// Liveness, readiness, the OpenAPI document and Prometheus metrics.
import { JSON_RESPONSE_TYPE } from './problem-response.ts';
import type { RouteDefinition } from './route-definition.ts';

export function systemRoutes(openApiDocument: () => object): RouteDefinition[] {
  return [
    {
      operationId: 'liveness',
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness: the process answers',
      tags: ['operations'],
      access: 'public',
      responses: { 200: { description: 'Alive' } },
      handle: () =>
        Promise.resolve({
          status: 200,
          headers: { 'content-type': JSON_RESPONSE_TYPE },
          body: '{"status":"ok"}',
        }),
    },
    {
      operationId: 'readiness',
      method: 'GET',
      path: '/readyz',
      summary: 'Readiness: the hot store and the archive answer',
      tags: ['operations'],
      access: 'public',
      responses: { 200: { description: 'Ready' }, 503: { description: 'A store is down' } },
      async handle(_request, services) {
        const report = await services.readiness();
        return {
          status: report.ready ? 200 : 503,
          headers: { 'content-type': JSON_RESPONSE_TYPE, ...(report.ready ? {} : { 'retry-after': '5' }) },
          body: JSON.stringify({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks }),
        };
      },
    },
    {
      operationId: 'openApiDocument',
      method: 'GET',
      path: '/openapi.json',
      summary: 'This API as OpenAPI 3.1',
      tags: ['operations'],
      access: 'public',
      responses: { 200: { description: 'The OpenAPI document' } },
      handle: () =>
        Promise.resolve({
          status: 200,
          headers: { 'content-type': JSON_RESPONSE_TYPE },
          body: JSON.stringify(openApiDocument()),
        }),
    },
    {
      operationId: 'metrics',
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tags: ['operations'],
      access: 'public',
      responses: { 200: { description: 'Metrics in the Prometheus text format', contentType: 'text/plain' } },
      async handle(_request, services) {
        const { contentType, body } = await services.metricsText();
        return { status: 200, headers: { 'content-type': contentType }, body };
      },
    },
  ];
}
