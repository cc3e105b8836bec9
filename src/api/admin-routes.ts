// The operations endpoints of API.md (role Billing.Admin): archival runs and status, bulk rehydration
// and jobs, a record's rehydration, legal hold and pin, the cost report. Each parses (typed by its
// schemas), calls one use case, and formats.
import Type from 'typebox';
import { AUDIT_ACTIONS } from '../domain/audit-event.ts';
import { decodeAuditCursor, encodeAuditCursor } from '../domain/audit-cursor.ts';
import { CustomerPath, Instant, RecordId, RecordPath } from '../domain/billing-record.ts';
import { AppError } from '../domain/errors.ts';
import { type ApiResponse, JSON_RESPONSE_TYPE } from './problem-response.ts';
import { defineRoute, type RouteDefinition } from './route-definition.ts';

const JSON_TYPE = 'application/json';
const NDJSON_TYPE = 'application/x-ndjson';
const adminRecordPath = '/api/v1/admin/customers/{customerId}/billing-records/{recordId}';

/** Why an operator acts: recorded in the audit event (also accepted as the X-Audit-Reason header). */
const Reason = Type.String({ minLength: 1, maxLength: 1024 });

const RunRequestBody = Type.Object(
  {
    asOf: Type.Optional(Instant),
    dryRun: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    customerId: Type.Optional(RecordId),
    reason: Type.Optional(Reason),
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
  /** The run's RU budget and where it came from (setting, share of the container's, fallback), and its concurrency. */
  throughput: Type.Optional(
    Type.Object({
      requestUnitsPerSecond: Type.Number(),
      source: Type.String(),
      detail: Type.String(),
      concurrency: Type.Object({
        current: Type.Integer(),
        lowest: Type.Integer(),
        highest: Type.Integer(),
        decreases: Type.Record(Type.String(), Type.Integer()),
        pausedMs: Type.Number(),
      }),
    }),
  ),
  /** The archival worker process of `npm start` that executed the run; absent: the process asked for it. */
  executedBy: Type.Optional(Type.Object({ process: Type.String(), pid: Type.Integer() })),
  /** How the run's queries fanned out over the store's partitions, and what the service says they loaded. */
  queries: Type.Optional(
    Type.Object({
      pages: Type.Integer(),
      partitionRequests: Type.Integer(),
      maxPartitionRequestsPerPage: Type.Integer(),
      service: Type.Optional(
        Type.Object({
          pages: Type.Integer(),
          retrievedDocuments: Type.Integer(),
          retrievedBytes: Type.Integer(),
          outputDocuments: Type.Integer(),
          outputBytes: Type.Integer(),
        }),
      ),
    }),
  ),
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

const LegalHoldBody = Type.Object({ reason: Reason }, { additionalProperties: false });

const UnparkBody = Type.Object(
  { customerId: Type.Optional(RecordId), recordId: Type.Optional(RecordId), reason: Type.Optional(Reason) },
  { additionalProperties: false },
);

const LegalHoldItem = Type.Object({
  customerId: Type.String(),
  recordId: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  setBy: Type.String(),
  setAt: Instant,
});

const CustomerHoldSet = Type.Object({ ...LegalHoldItem.properties, jobId: Type.Optional(Type.String()) });

const AuditEventSchema = Type.Object({
  chain: Type.String(),
  seq: Type.Integer(),
  at: Instant,
  actor: Type.Object({ sub: Type.String(), roles: Type.Array(Type.String()) }),
  action: Type.String(),
  customerId: Type.Union([Type.String(), Type.Null()]),
  recordId: Type.Union([Type.String(), Type.Null()]),
  status: Type.Integer(),
  requestId: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  prevHash: Type.String(),
  hash: Type.String(),
});

const AuditQuerySchema = Type.Object(
  {
    customerId: Type.Optional(RecordId),
    recordId: Type.Optional(RecordId),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((action) => Type.Literal(action)))),
    from: Type.Optional(Instant),
    to: Type.Optional(Instant),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

const AuditVerifySchema = Type.Object({
  ok: Type.Boolean(),
  checked: Type.Integer(),
  chains: Type.Integer(),
  firstBroken: Type.Union([Type.Integer(), Type.Null()]),
  brokenChain: Type.Union([Type.String(), Type.Null()]),
  problem: Type.Union([Type.String(), Type.Null()]),
});

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
  {
    customerId: Type.Optional(RecordId),
    dryRun: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);

const RetentionBody = Type.Object(
  {
    asOf: Type.Optional(Instant),
    dryRun: Type.Optional(Type.Boolean()),
    sweep: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);

const ErasureBody = Type.Object(
  { dryRun: Type.Optional(Type.Boolean()), reason: Type.Optional(Reason) },
  { additionalProperties: false },
);

const JobStarted = {
  description: 'Started; the job answers at its Location at once',
  schema: Type.Object({ jobId: Type.String() }),
};

/** Who starts a job, and why: each record it deletes is audited with both. */
function jobActor(request: {
  principal: { subject: string; roles: ReadonlySet<string> } | undefined;
  headers: Readonly<Record<string, string | undefined>>;
  body: { reason?: string | undefined };
}) {
  const reason = request.body.reason ?? request.headers['x-audit-reason'];
  return {
    actor: { sub: request.principal?.subject ?? 'anonymous', roles: [...(request.principal?.roles ?? [])] },
    ...(reason !== undefined ? { reason } : {}),
  };
}

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
    headers: { 'content-type': JSON_RESPONSE_TYPE, ...(location !== undefined ? { location } : {}) },
    body: JSON.stringify(body),
  };
}

function jobLocation(jobId: string): string {
  return `/api/v1/admin/jobs/${jobId}`;
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

const HoldSchema = Type.Union([
  Type.Object({ reason: Type.String(), setAt: Instant, setBy: Type.Optional(Type.String()) }),
  Type.Null(),
]);

const RecordControlStateSchema = Type.Object({
  customerId: Type.String(),
  recordId: Type.String(),
  tier: Type.Union([Type.Literal('hot'), Type.Literal('archived')]),
  version: Type.Integer(),
  legalHold: HoldSchema,
  customerLegalHold: HoldSchema,
  pinned: Type.Boolean(),
  rehydratedAt: Type.Union([Instant, Type.Null()]),
  archive: Type.Union([
    Type.Object({ blobPath: Type.String(), archivedAt: Instant, size: Type.Integer() }),
    Type.Null(),
  ]),
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
    audit: 'archival.run',
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
      const { reason: _reason, ...request } = body;
      const { runId } = await services.archival.startRun({
        ...request,
        ...(body.asOf !== undefined ? { asOf: new Date(body.asOf).toISOString() } : {}),
      });
      return json(202, { runId }, `/api/v1/admin/archival/runs/${runId}`);
    },
  }),
  defineRoute({
    operationId: 'listArchivalRuns',
    audit: 'archival.read',
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
    audit: 'archival.read',
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
    audit: 'archival.read',
    scans: true,
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
    operationId: 'unparkArchivalItems',
    audit: 'archival.unpark',
    method: 'POST',
    path: '/api/v1/admin/archival/unpark',
    summary:
      'Retry items parked after repeated failures: one record (customerId and recordId) or all; the next run tries them again',
    tags: ['operations'],
    access: 'Billing.Admin',
    body: { schema: UnparkBody, contentTypes: [JSON_TYPE], validate: true, optional: true },
    responses: {
      200: {
        description: 'How many parked items were given a fresh start',
        schema: Type.Object({ unparked: Type.Integer() }),
      },
      ...adminResponses,
    },
    async handle({ body }, services) {
      const { customerId, recordId } = body;
      if ((customerId === undefined) !== (recordId === undefined))
        throw new AppError(
          'VALIDATION_FAILED',
          'Give both customerId and recordId (one item), or neither (all)',
        );
      const key =
        customerId !== undefined && recordId !== undefined ? { customerId, id: recordId } : undefined;
      const unparked = await services.archival.unpark(key);
      await services.refreshArchivalGauges();
      return json(200, { unparked });
    },
  }),
  defineRoute({
    operationId: 'getAlerts',
    audit: 'alerts.read',
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
    audit: 'rehydrate',
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
      const { reason: _reason, ...request } = body;
      const { jobId } = await services.rehydrations.start(request);
      return json(202, { jobId }, jobLocation(jobId));
    },
  }),
  defineRoute({
    operationId: 'startRetentionRun',
    audit: 'retention.run',
    method: 'POST',
    path: '/api/v1/admin/retention/runs',
    summary: 'Delete records issued before RETENTION_PERIOD from every tier (held ones stay), as a job',
    tags: ['operations'],
    access: 'Billing.Admin',
    body: { schema: RetentionBody, contentTypes: [JSON_TYPE], validate: true, optional: true },
    responses: {
      202: JobStarted,
      409: { description: 'RETENTION_DISABLED: RETENTION_PERIOD is empty' },
      ...adminResponses,
    },
    async handle(request, services) {
      const { reason: _reason, ...body } = request.body;
      const { jobId } = await services.retention.start(
        { ...body, ...(body.asOf !== undefined ? { asOf: new Date(body.asOf).toISOString() } : {}) },
        jobActor(request),
      );
      return json(202, { jobId }, `/api/v1/admin/jobs/${jobId}`);
    },
  }),
  defineRoute({
    operationId: 'startCustomerErasure',
    audit: 'erasure',
    method: 'POST',
    path: '/api/v1/admin/customers/{customerId}/erasure',
    summary: 'Delete every record of a customer from every tier, as a job; refused while anything is held',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: CustomerPath,
    body: { schema: ErasureBody, contentTypes: [JSON_TYPE], validate: true, optional: true },
    responses: {
      202: JobStarted,
      409: { description: 'LEGAL_HOLD: the customer or one of its records is held' },
      ...adminResponses,
    },
    async handle(request, services) {
      const { jobId } = await services.erasure.start(
        {
          customerId: request.params.customerId,
          ...(request.body.dryRun !== undefined ? { dryRun: request.body.dryRun } : {}),
        },
        jobActor(request),
      );
      return json(202, { jobId }, `/api/v1/admin/jobs/${jobId}`);
    },
  }),
  defineRoute({
    operationId: 'getJob',
    audit: 'job.read',
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
    audit: 'export',
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
      async function* body(): AsyncGenerator<Uint8Array> {
        if (first.done === true) return;
        yield* first.value;
        for (let next = await lines.next(); next.done !== true; next = await lines.next()) yield* next.value;
      }
      return { status: 200, headers: { 'content-type': NDJSON_TYPE }, body: body() };
    },
  }),
  defineRoute({
    operationId: 'rehydrateRecord',
    audit: 'rehydrate',
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
    audit: 'cost-report.read',
    scans: true,
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
    operationId: 'inspectRecord',
    audit: 'record.inspect',
    method: 'GET',
    path: adminRecordPath,
    summary: 'Where a record lives and what holds it: tier, version, legal holds, pin, archive location',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: RecordPath,
    responses: {
      200: { description: 'The record’s controls now', schema: RecordControlStateSchema },
      404: { description: 'No such record' },
      ...adminResponses,
    },
    async handle({ params }, services) {
      return json(200, await services.records.inspect(recordKey(params)));
    },
  }),
  defineRoute({
    ...recordControl,
    operationId: 'setLegalHold',
    audit: 'legal-hold.set',
    method: 'PUT',
    path: `${adminRecordPath}/legal-hold`,
    summary: 'Set a legal hold (blocks changes, deletion and retention expiry)',
    body: { schema: LegalHoldBody, contentTypes: [JSON_TYPE], validate: true },
    async handle({ params, body, principal }, services) {
      return json(
        200,
        await services.records.setLegalHold(recordKey(params), {
          reason: body.reason,
          setBy: principal?.subject ?? 'unknown',
        }),
      );
    },
  }),
  defineRoute({
    ...recordControl,
    operationId: 'clearLegalHold',
    audit: 'legal-hold.clear',
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
    audit: 'pin.set',
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
    audit: 'pin.clear',
    method: 'DELETE',
    path: `${adminRecordPath}/pin`,
    summary: 'Unpin the record: archive it again by the normal rules',
    async handle({ params }, services) {
      return json(200, await services.records.unpin(recordKey(params)));
    },
  }),
  defineRoute({
    operationId: 'setCustomerLegalHold',
    audit: 'legal-hold.set',
    method: 'PUT',
    path: '/api/v1/admin/customers/{customerId}/legal-hold',
    summary:
      'Hold every record of a customer, present and future: PUT, PATCH and DELETE answer 409 LEGAL_HOLD',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: CustomerPath,
    body: { schema: LegalHoldBody, contentTypes: [JSON_TYPE], validate: true },
    responses: {
      200: {
        description:
          'The hold, in force at once; where blobs carry hold markers, `jobId` (and `Location`) follows the job marking them',
        schema: CustomerHoldSet,
      },
      ...adminResponses,
    },
    async handle({ params, body, principal }, services) {
      const hold = await services.legalHolds.set(params.customerId, {
        reason: body.reason,
        setBy: principal?.subject ?? 'unknown',
      });
      return json(200, hold, hold.jobId === undefined ? undefined : jobLocation(hold.jobId));
    },
  }),
  defineRoute({
    operationId: 'clearCustomerLegalHold',
    audit: 'legal-hold.clear',
    method: 'DELETE',
    path: '/api/v1/admin/customers/{customerId}/legal-hold',
    summary: 'Release a customer’s legal hold (records under their own hold stay held)',
    tags: ['operations'],
    access: 'Billing.Admin',
    params: CustomerPath,
    responses: {
      204: {
        description:
          'Released at once; where blobs carry hold markers, `Location` names the job unmarking them',
      },
      404: { description: 'The customer has no hold' },
      ...adminResponses,
    },
    async handle({ params, principal }, services) {
      const { jobId } = await services.legalHolds.clear(params.customerId, principal?.subject ?? 'unknown');
      return jobId === undefined
        ? { status: 204 }
        : { status: 204, headers: { location: jobLocation(jobId) } };
    },
  }),
  defineRoute({
    operationId: 'listLegalHolds',
    audit: 'legal-hold.list',
    scans: true,
    method: 'GET',
    path: '/api/v1/admin/legal-holds',
    summary: 'Every legal hold, of customers and of records, with who set it and when',
    tags: ['operations'],
    access: 'Billing.Admin',
    responses: {
      200: { description: 'The holds', schema: Type.Object({ items: Type.Array(LegalHoldItem) }) },
      ...adminResponses,
    },
    async handle(_request, services) {
      return json(200, { items: await services.legalHolds.list() });
    },
  }),
  defineRoute({
    operationId: 'queryAudit',
    audit: 'audit.read',
    scans: true,
    method: 'GET',
    path: '/api/v1/admin/audit',
    summary: 'Audit events by customer, record, actor, action and time, oldest first, paged (itself audited)',
    tags: ['operations'],
    access: 'Billing.Admin',
    query: AuditQuerySchema,
    responses: {
      200: {
        description: 'One page of events',
        schema: Type.Object({
          items: Type.Array(AuditEventSchema),
          nextCursor: Type.Union([Type.String(), Type.Null()]),
        }),
      },
      ...adminResponses,
    },
    async handle({ query }, services) {
      const { cursor, limit, ...filters } = query;
      const filterOf = {
        ...filters,
        ...(filters.from !== undefined ? { from: new Date(filters.from).toISOString() } : {}),
        ...(filters.to !== undefined ? { to: new Date(filters.to).toISOString() } : {}),
      };
      const page = await services.audit.query({
        ...filterOf,
        limit: limit ?? 50,
        ...(cursor !== undefined ? { after: decodeAuditCursor(cursor, filterOf) } : {}),
      });
      return json(200, {
        items: page.items,
        nextCursor: page.next === undefined ? null : encodeAuditCursor(page.next, filterOf),
      });
    },
  }),
  defineRoute({
    operationId: 'verifyAudit',
    audit: 'audit.verify',
    scans: true,
    method: 'POST',
    path: '/api/v1/admin/audit/verify',
    summary: 'Re-compute every audit hash chain and name the first broken link',
    tags: ['operations'],
    access: 'Billing.Admin',
    responses: { 200: { description: 'The verification', schema: AuditVerifySchema }, ...adminResponses },
    async handle(_request, services) {
      return json(200, await services.audit.verify());
    },
  }),
];
