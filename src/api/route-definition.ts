// A route, framework-neutral: the HTTP server (Fastify) and the Azure Functions edge both register
// the same table, and the OpenAPI document is generated from it.
import type { Static, TSchema } from 'typebox';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { AuditAction } from '../domain/audit-event.ts';
import type { Logger } from '../ports/logger.ts';
import type { ArchivalService } from '../archival/archival-service.ts';
import type { CostReport } from '../costs/cost-report.ts';
import type { JobService, JobStarter } from '../jobs/job-service.ts';
import type { ErasureRequest } from '../records/customer-erasure.ts';
import type { RetentionRequest } from '../records/retention.ts';
import type { BulkRehydrationRequest } from '../records/bulk-rehydration.ts';
import type { ExportLine } from '../records/customer-export.ts';
import type { CustomerLegalHolds } from '../records/customer-legal-holds.ts';
import type { RecordService } from '../records/record-service.ts';
import type { Principal, Role } from './authentication.ts';
import type { ApiResponse } from './problem-response.ts';

/** One alert as GET /api/v1/admin/alerts shows it (API.md). */
export interface AlertView {
  readonly name: string;
  readonly severity: string;
  readonly state: 'firing' | 'ok';
  readonly since: string;
  readonly value: number | null;
  readonly threshold: number;
  readonly summary: string;
  readonly runbook: string;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type { Logger } from '../ports/logger.ts';

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, 'up' | 'down' | 'absent'>>;
}

/** What route handlers may use: the use cases, never an adapter. */
export interface ApiServices {
  readonly records: RecordService;
  readonly archival: ArchivalService;
  /** Reports of long operations (GET /api/v1/admin/jobs/{jobId}). */
  readonly jobs: Pick<JobService, 'get'>;
  /** Bulk rehydration (the rollback of archival), started as a job. */
  readonly rehydrations: { start(request: BulkRehydrationRequest): Promise<{ jobId: string }> };
  /** Retention runs (RETENTION_PERIOD) and customer erasure, as jobs; each deletion audited with `by`. */
  readonly retention: Pick<JobStarter<RetentionRequest>, 'start'>;
  readonly erasure: Pick<JobStarter<ErasureRequest>, 'start'>;
  /** A customer's records as NDJSON lines, streamed (GET /api/v1/admin/customers/{customerId}/export). */
  exportCustomer(customerId: string): AsyncIterable<ExportLine>;
  /** The audit trail: events written by the pipeline, queried and verified by the admin routes. */
  readonly audit: Pick<AuditTrail, 'recordLater' | 'recordNow' | 'writable' | 'query' | 'verify'>;
  /** Customer legal holds, and the list of every hold. */
  readonly legalHolds: Pick<CustomerLegalHolds, 'set' | 'clear' | 'list'>;
  /** The cost report of the stores as they are now. */
  costReport(): Promise<CostReport>;
  readiness(): Promise<ReadinessReport>;
  metricsText(): Promise<{ contentType: string; body: string }>;
  /** The state of every alert of the in-process evaluator. */
  alerts(): readonly AlertView[];
  /** Sets the archival gauges from what is stored: after an unpark, so its alert follows at once. */
  refreshArchivalGauges(): Promise<void>;
}

export interface ValidatedRequest<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  readonly params: P;
  readonly query: Q;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Parsed JSON body (already checked for size and content type; validated when the route says so). */
  readonly body: B;
  readonly principal: Principal | undefined;
  readonly log: Logger;
}

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: TSchema;
  readonly contentType?: string;
  readonly headers?: readonly string[];
}

export interface RouteDefinition {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** OpenAPI path template, e.g. `/api/v1/customers/{customerId}/billing-records`. */
  readonly path: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** `public` routes need no token. */
  readonly access: Role | 'public';
  readonly params?: TSchema;
  readonly query?: TSchema;
  readonly body?: {
    readonly schema: TSchema;
    readonly contentTypes: readonly string[];
    /** Validate against `schema` in the pipeline (record bodies are validated by the use case instead). */
    readonly validate?: boolean;
    /** An absent body is read as `{}`. */
    readonly optional?: boolean;
  };
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** The audit event's action; every route that needs a token has one (public routes are not audited). */
  readonly audit?: AuditAction;
  /** An admin route that scans a store: its own, lower rate limit. */
  readonly scans?: boolean;
  /** Optional request headers worth documenting (If-Match, ...). */
  readonly requestHeaders?: readonly string[];
  handle(request: ValidatedRequest, services: ApiServices): Promise<ApiResponse>;
}

/** The input type a schema validates to; absent schemas leave the pipeline's untyped defaults. */
type Input<S, Fallback> = S extends TSchema ? Static<S> : Fallback;

/** A route whose handler sees params, query and body typed by the route's own schemas. */
export interface TypedRoute<P, Q, B, V> extends Omit<
  RouteDefinition,
  'params' | 'query' | 'body' | 'handle'
> {
  readonly params?: P;
  readonly query?: Q;
  readonly body?: Omit<NonNullable<RouteDefinition['body']>, 'schema' | 'validate'> & {
    readonly schema: B;
    readonly validate?: V;
  };
  handle(
    request: ValidatedRequest<
      Input<P, Record<string, string>>,
      Input<Q, Record<string, unknown>>,
      // Only a body the pipeline validates has its schema's type; any other arrives as unknown (record
      // bodies go to the use case, which validates them with the domain's rules).
      V extends true ? Input<B, unknown> : unknown
    >,
    services: ApiServices,
  ): Promise<ApiResponse>;
}

/**
 * Declares a route with typed inputs. The pipeline validates params and query (and a body marked
 * `validate`) against these schemas before the handler runs, which is what makes the types true.
 */
export function defineRoute<
  P extends TSchema | undefined = undefined,
  Q extends TSchema | undefined = undefined,
  B extends TSchema | undefined = undefined,
  V extends boolean | undefined = undefined,
>(route: TypedRoute<P, Q, B, V>): RouteDefinition {
  return route as unknown as RouteDefinition;
}
