// The operations endpoints of API.md (role Billing.Admin): archival runs and status, bulk rehydration
// and jobs, a record's rehydration, legal hold and pin, the cost report. Each parses (typed by its
// schemas), calls one use case, and formats.
import Type from 'typebox';
import { CustomerPath, Instant, RecordId, RecordPath } from '../domain/billing-record.ts';
import type { ApiResponse } from './problem-response.ts';
import { defineRoute, type RouteDefinition } from './route-definition.ts';

const JSON_TYPE = 'application/json';
const NDJSON_TYPE = 'application/x-ndjson';
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

const AlertsSchema = Type.Object({
  alerts: Type.Array(
    Type.Object({
      name: Type.String(),
      severity: Type.String(),
      state: Type.Union([Type.Literal('firing'), Type.Literal('ok')]),
      since: Type.String({ format: 'date-time' }),
      value: Type.Union([Type.Number(), Type.Null()]),
      threshold: Type.Number(),
      summary: Type.String(),
      runbook: Type.String(),
    }),
  ),
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

const JobSchema = Type.Object({
  jobId: Type.String(),
  kind: Type.String(),
  status: Type.Union([
    Type.Literal('running'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('partial'),
  ]),
  dryRun: Type.Boolean(),
  request: Type.Record(Type.String(), Type.Unknown()),
  counts: Type.Record(Type.String(), Type.Integer()),
  startedAt: Instant,
  finishedAt: Type.Union([Instant, Type.Null()]),
  stoppedBecause: Type.Optional(Type.String()),
  failures: Type.Array(Type.String()),
});

const RehydrationsBody = Type.Object(
  { customerId: Type.Optional(RecordId), dryRun: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

const RunId = Type.Object(
  { runId: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }) },
  { additionalProperties: false },
);
const JobId = Type.Object(
  { jobId: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }) },
  { additionalProperties: false },
);
const RunsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
  { additionalProperties: false },
);

const adminResponses = {
  400: { description: 'Validation failed (problem+json)' },
  401: { description: 'Missing or invalid token' },
  403: { description: 'The token lacks Billing.Admin' },
  503: { description: 'A store is unavailable; retry after Retry-After seconds' },
};

function json(status: number, body: unknown, location?: string): ApiResponse {
  return {
    status,
    headers: { 'content-type': JSON_TYPE, ...(location !== undefined ? { location } : {}) },
    body: JSON.stringify(body),
  };
}

/** What API.md shows of a run: the persisted report without the worker's bookkeeping. */
function publicRun<R extends { heartbeatAt: unknown; request: unknown }>(
  report: R,
): Omit<R, 'heartbeatAt' | 'request'> {
  const { heartbeatAt: _h, request: _r, ...run } = report;
  return run;
}

const recordKey = ({ customerId, recordId }: { customerId: string; recordId: string }) => ({
  customerId,
  id: recordId,
});

/** What the legal-hold and pin routes share: an admin route on one record, answering its system fields. */
const recordControl = {
  tags: ['operations'],
  access: 'Billing.Admin' as const,
  params: RecordPath,
  responses: {
    200: { description: 'The record’s system fields now' },
    404: { description: 'No such record' },
    ...adminResponses,
  },
};

export const adminRoutes: readonly RouteDefinition[] = [
  defineRoute({
    operationId: 'startArchivalRun',
    method: 'POST',
    path: '/api/v1/admin/archival/runs',
    summary: 'Start an archival run (copy, then purge what passed its grace)',
    tags: ['operations'],
    access: 'Billing.Admin',
    body: { schema: RunRequestBody, contentTypes: [JSON_TYPE], validate: true, optional: true },
    responses: {
      202: {
        description: 'Started; the run answers at its Location at once',
        schema: Type.Object({ runId: Type.String() }),
      },
      ...adminResponses,
    },
    async handle({ body }, services) {
      const { runId } = await services.archival.startRun({
        ...body,
        ...(body.asOf !== undefined ? { asOf: new Date(body.asOf).toISOString() } : {}),
      });
      return json(202, { runId }, `/api/v1/admin/archival/runs/${runId}`);
    },
  }),
  defineRoute({
    operationId: 'listArchivalRuns',
    method: 'GET',
    path: '/api/v1/admin/archival/runs',
    summary: 'The most recent archival runs, newest first',
    tags: ['operations'],
    access: 'Billing.Admin',
    query: RunsQuery,
    responses: {
      200: { description: 'The runs', schema: Type.Object({ items: Type.Array(RunReportSchema) }) },
      ...adminResponses,
    },
    async handle({ query }, services) {
      const runs = await services.archival.listRuns(query.limit ?? 20);
      return json(200, { items: runs.map(publicRun) });
    },
  }),
  defineRoute({
    operationId: 'getArchivalRun',
    method: 'GET',
    path: '/api/v1/admin/archival/runs/{runId}',
    summary: 'An archival run: status, counts, timings',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: RunId,
    responses: {
      200: { description: 'The run', schema: RunReportSchema },
      404: { description: 'No such run' },
      ...adminResponses,
    },
    async handle({ params }, services) {
      return json(200, publicRun(await services.archival.getRun(params.runId)));
    },
  }),
  defineRoute({
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
  }),
  defineRoute({
    operationId: 'getAlerts',
    method: 'GET',
    path: '/api/v1/admin/alerts',
    summary: 'Every alert of ops/alerts/alert-rules.yaml and its state in this process',
    tags: ['operations'],
    access: 'Billing.Admin',
    responses: { 200: { description: 'The alerts', schema: AlertsSchema }, ...adminResponses },
    handle(_request, services) {
      return Promise.resolve(json(200, { alerts: services.alerts() }));
    },
  }),
  defineRoute({
    operationId: 'startRehydrations',
    method: 'POST',
    path: '/api/v1/admin/rehydrations',
    summary: 'Bring every archived record (or a customer’s) back hot: the rollback of archival, as a job',
    tags: ['operations'],
    access: 'Billing.Admin',
    body: { schema: RehydrationsBody, contentTypes: [JSON_TYPE], validate: true, optional: true },
    responses: {
      202: {
        description: 'Started; the job answers at its Location at once',
        schema: Type.Object({ jobId: Type.String() }),
      },
      ...adminResponses,
    },
    async handle({ body }, services) {
      const { jobId } = await services.rehydrations.start(body);
      return json(202, { jobId }, `/api/v1/admin/jobs/${jobId}`);
    },
  }),
  defineRoute({
    operationId: 'getJob',
    method: 'GET',
    path: '/api/v1/admin/jobs/{jobId}',
    summary: 'A long operation: kind, status, counts, timings, first failures',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: JobId,
    responses: {
      200: { description: 'The job', schema: JobSchema },
      404: { description: 'No such job' },
      ...adminResponses,
    },
    async handle({ params }, services) {
      const { heartbeatAt: _h, ...job } = await services.jobs.get(params.jobId);
      return json(200, job);
    },
  }),
  defineRoute({
    operationId: 'exportCustomer',
    method: 'GET',
    path: '/api/v1/admin/customers/{customerId}/export',
    summary:
      'Every record of a customer, both tiers, one per line as a GET returns it, ascending issuedAt then id',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: CustomerPath,
    responses: {
      200: { description: 'NDJSON, streamed', contentType: NDJSON_TYPE },
      ...adminResponses,
    },
    async handle({ params }, services) {
      const lines = services.exportCustomer(params.customerId)[Symbol.asyncIterator]();
      // The first record is read before answering, so a store that is down still gets a 503 problem;
      // a failure later can only end the stream early (the status line is already sent).
      const first = await lines.next();
      async function* body(): AsyncGenerator<string> {
        if (first.done === true) return;
        yield first.value;
        for (let next = await lines.next(); next.done !== true; next = await lines.next()) yield next.value;
      }
      return { status: 200, headers: { 'content-type': NDJSON_TYPE }, body: body() };
    },
  }),
  defineRoute({
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
    async handle({ params }, services) {
      return json(200, { result: await services.records.rehydrate(recordKey(params)) });
    },
  }),
  defineRoute({
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
  }),
  defineRoute({
    ...recordControl,
    operationId: 'setLegalHold',
    method: 'PUT',
    path: `${adminRecordPath}/legal-hold`,
    summary: 'Set a legal hold (blocks changes, deletion and retention expiry)',
    body: { schema: LegalHoldBody, contentTypes: [JSON_TYPE], validate: true },
    async handle({ params, body }, services) {
      return json(200, await services.records.setLegalHold(recordKey(params), body.reason));
    },
  }),
  defineRoute({
    ...recordControl,
    operationId: 'clearLegalHold',
    method: 'DELETE',
    path: `${adminRecordPath}/legal-hold`,
    summary: 'Clear the legal hold',
    async handle({ params }, services) {
      return json(200, await services.records.clearLegalHold(recordKey(params)));
    },
  }),
  defineRoute({
    ...recordControl,
    operationId: 'setPin',
    method: 'PUT',
    path: `${adminRecordPath}/pin`,
    summary: 'Pin the record: never archive it',
    async handle({ params }, services) {
      return json(200, await services.records.pin(recordKey(params)));
    },
  }),
  defineRoute({
    ...recordControl,
    operationId: 'clearPin',
    method: 'DELETE',
    path: `${adminRecordPath}/pin`,
    summary: 'Unpin the record: archive it again by the normal rules',
    async handle({ params }, services) {
      return json(200, await services.records.unpin(recordKey(params)));
    },
  }),
];
