// OpenAPI 3.1 generated from the route table and the same TypeBox schemas that validate requests.
import type { TSchema } from 'typebox';
import { ERROR_CODES } from '../domain/errors.ts';
import { PROBLEM_CONTENT_TYPE } from './problem-response.ts';
import type { RouteDefinition } from './route-definition.ts';

const HEADER_DOCS: Record<string, string> = {
  ETag: 'Strong ETag of the record version, e.g. "3"',
  Location: 'URL of the created record',
  'If-Match': 'Apply only if the record is at this ETag',
  'If-None-Match': 'Answer 304 if the record is at this ETag',
};

const Problem = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_CODES) },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

export function buildOpenApiDocument(routes: readonly RouteDefinition[], version: string): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = [
      ...objectProperties(route.params).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        schema,
      })),
      ...objectProperties(route.query).map(([name, schema]) => ({
        name,
        in: 'query',
        required: false,
        schema,
      })),
      ...(route.requestHeaders ?? []).map((name) => ({
        name,
        in: 'header',
        required: false,
        description: HEADER_DOCS[name],
        schema: { type: 'string' },
      })),
    ];
    const responses = Object.fromEntries(
      Object.entries(route.responses).map(([status, spec]) => {
        const isProblem = Number(status) >= 400;
        const content = isProblem
          ? { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } }
          : spec.schema !== undefined
            ? { [spec.contentType ?? 'application/json']: { schema: spec.schema } }
            : undefined;
        const headers = spec.headers?.length
          ? Object.fromEntries(
              spec.headers.map((h) => [h, { description: HEADER_DOCS[h], schema: { type: 'string' } }]),
            )
          : undefined;
        return [
          status,
          { description: spec.description, ...(content ? { content } : {}), ...(headers ? { headers } : {}) },
        ];
      }),
    );
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: route.tags,
      ...(route.access === 'public' ? { security: [] } : { 'x-required-role': route.access }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: Object.fromEntries(
                route.body.contentTypes.map((type) => [type, { schema: route.body!.schema }]),
              ),
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Billing records API',
      version,
      description:
        'Billing records, hot in Cosmos DB and archived to Blob Storage, behind one unchanging contract.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Problem },
    },
    paths,
  };
}

function objectProperties(schema: TSchema | undefined): Array<[string, unknown]> {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties === undefined ? [] : Object.entries(properties);
}
