// The operations endpoints of API.md (role Billing.Admin): archival runs and status, rehydration,
// legal hold and pinning. Each parses, calls one archival use case, and formats.
import Type from 'typebox';
import { Instant, RecordId, RecordPath } from '../domain/billing-record.ts';
import type { ApiResponse } from './problem-response.ts';
import type { RouteDefinition, ValidatedRequest } from './route-definition.ts';

const JSON_TYPE = 'application/json';
const adminRecordPath = '/api/v1/admin/customers/{customerId}/billing-records/{recordId}';

const RunRequestBody = Type.Object(
  {
    asOf: Type.Optional(Instant),
    dryRun: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    customerId: Type.Optional(RecordId),
  },
  { additionalProperties: false },
);

const RunCounts = Type.Object({
  candidates: Type.Integer(),
  copied: Type.Integer(),
  purged: Type.Integer(),
  skipped: Type.Integer(),
  failed: Type.Integer(),
});

const RunReportSchema = Type.Object({
  runId: Type.String(),
  status: Type.Union([
    Type.Literal('running'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('partial'),
  ]),
  counts: RunCounts,
  startedAt: Instant,
  finishedAt: Type.Union([Instant, Type.Null()]),
  durationMs: Type.Integer(),
  stoppedBecause: Type.Optional(Type.String()),
  skippedReasons: Type.Record(Type.String(), Type.Integer()),
  failures: Type.Array(Type.String()),
  requestCharge: Type.Object({ requestUnits: Type.Number(), estimated: Type.Boolean() }),
});

const StatusItem = Type.Object({
  customerId: Type.String(),
  id: Type.String(),
  state: Type.String(),
  version: Type.Integer(),
  since: Instant,
  purgeAfter: Instant,
  attempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
});

const StatusSchema = Type.Object({
  counts: Type.Object({
    hot: Type.Integer(),
    copied: Type.Integer(),
    archived: Type.Integer(),
    stuck: Type.Integer(),
    failed: Type.Integer(),
  }),
  stuck: Type.Array(StatusItem),
  failed: Type.Array(StatusItem),
});

const LegalHoldBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

const adminResponses = {
  400: { description: 'Validation failed (problem+json)' },
  401: { description: 'Missing or invalid token' },
  403: { description: 'The token lacks Billing.Admin' },
  503: { description: 'A store is unavailable; retry after Retry-After seconds' },
};

function json(status: number, body: unknown): ApiResponse {
  return { status, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(body) };
}

const recordKey = (request: ValidatedRequest): { customerId: string; id: string } => {
  const { customerId, recordId } = request.params as { customerId: string; recordId: string };
  return { customerId, id: recordId };
};

function controlRoutes(
  suffix: 'legal-hold' | 'pin',
  summary: { put: string; delete: string },
  apply: {
    put: (request: ValidatedRequest, services: Parameters<RouteDefinition['handle']>[1]) => Promise<unknown>;
    delete: (
      request: ValidatedRequest,
      services: Parameters<RouteDefinition['handle']>[1],
    ) => Promise<unknown>;
  },
  body?: RouteDefinition['body'],
): RouteDefinition[] {
  const operation = suffix === 'pin' ? 'Pin' : 'LegalHold';
  const common = {
    path: `${adminRecordPath}/${suffix}`,
    tags: ['operations'],
    access: 'Billing.Admin' as const,
    params: RecordPath,
    responses: {
      200: { description: 'The record’s system fields now' },
      404: { description: 'No such record' },
      ...adminResponses,
    },
  };
  return [
    {
      ...common,
      operationId: `set${operation}`,
      method: 'PUT',
      summary: summary.put,
      ...(body !== undefined ? { body } : {}),
      handle: async (request, services) => json(200, await apply.put(request, services)),
    },
    {
      ...common,
      operationId: `clear${operation}`,
      method: 'DELETE',
      summary: summary.delete,
      handle: async (request, services) => json(200, await apply.delete(request, services)),
    },
  ];
}

export const adminRoutes: readonly RouteDefinition[] = [
  {
    operationId: 'startArchivalRun',
    method: 'POST',
    path: '/api/v1/admin/archival/runs',
    summary: 'Start an archival run (copy, then purge what passed its grace)',
    tags: ['operations'],
    access: 'Billing.Admin',
    body: { schema: RunRequestBody, contentTypes: [JSON_TYPE], validate: true, optional: true },
    responses: {
      202: { description: 'Started', schema: Type.Object({ runId: Type.String() }) },
      ...adminResponses,
    },
    handle(request, services) {
      const body = request.body as { asOf?: string; dryRun?: boolean; limit?: number; customerId?: string };
      const { runId } = services.archival.startRun({
        ...body,
        ...(body.asOf !== undefined ? { asOf: new Date(body.asOf).toISOString() } : {}),
      });
      return Promise.resolve({
        ...json(202, { runId }),
        headers: { 'content-type': JSON_TYPE, location: `/api/v1/admin/archival/runs/${runId}` },
      });
    },
  },
  {
    operationId: 'getArchivalRun',
    method: 'GET',
    path: '/api/v1/admin/archival/runs/{runId}',
    summary: 'An archival run: status, counts, timings',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: Type.Object(
      { runId: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }) },
      { additionalProperties: false },
    ),
    responses: {
      200: { description: 'The run', schema: RunReportSchema },
      404: { description: 'No such run' },
      ...adminResponses,
    },
    async handle(request, services) {
      const { runId } = request.params as { runId: string };
      const { heartbeatAt: _h, request: _r, ...report } = await services.archival.getRun(runId);
      return json(200, report);
    },
  },
  {
    operationId: 'getArchivalStatus',
    method: 'GET',
    path: '/api/v1/admin/archival/status',
    summary: 'Records hot, copied (in grace), archived, stuck and failed',
    tags: ['operations'],
    access: 'Billing.Admin',
    responses: { 200: { description: 'The archival status', schema: StatusSchema }, ...adminResponses },
    async handle(_request, services) {
      return json(200, await services.archival.status());
    },
  },
  {
    operationId: 'rehydrateRecord',
    method: 'POST',
    path: `${adminRecordPath}/rehydrate`,
    summary: 'Bring an archived record back to the hot store',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: RecordPath,
    responses: {
      200: {
        description: 'Rehydrated, or already hot',
        schema: Type.Object({
          result: Type.Union([Type.Literal('rehydrated'), Type.Literal('already-hot')]),
        }),
      },
      404: { description: 'No such record' },
      ...adminResponses,
    },
    async handle(request, services) {
      return json(200, { result: await services.archival.rehydrate(recordKey(request)) });
    },
  },
  {
    operationId: 'getCostReport',
    method: 'GET',
    path: '/api/v1/admin/cost-report',
    summary: 'Measured sizes and counts per tier, and the monthly cost before, after and at the floor',
    tags: ['operations'],
    access: 'Billing.Admin',
    responses: {
      200: { description: 'The cost report; every measurement says how it was obtained' },
      ...adminResponses,
    },
    async handle(_request, services) {
      return json(200, await services.costReport());
    },
  },
  ...controlRoutes(
    'legal-hold',
    { put: 'Set a legal hold (blocks deletion and retention expiry)', delete: 'Clear the legal hold' },
    {
      put: (request, services) =>
        services.archival.setLegalHold(recordKey(request), (request.body as { reason: string }).reason),
      delete: (request, services) => services.archival.clearLegalHold(recordKey(request)),
    },
    { schema: LegalHoldBody, contentTypes: [JSON_TYPE], validate: true },
  ),
  ...controlRoutes(
    'pin',
    {
      put: 'Pin the record: never archive it',
      delete: 'Unpin the record: archive it again by the normal rules',
    },
    {
      put: (request, services) => services.archival.pin(recordKey(request)),
      delete: (request, services) => services.archival.unpin(recordKey(request)),
    },
  ),
];
