// A route, framework-neutral: the HTTP server (Fastify) and the Azure Functions edge both register
// the same table, and the OpenAPI document is generated from it.
import type { TSchema } from 'typebox';
import type { Logger } from '../ports/logger.ts';
import type { ArchivalService } from '../archival/archival-service.ts';
import type { CostReport } from '../costs/cost-report.ts';
import type { RecordService } from '../records/record-service.ts';
import type { Principal, Role } from './authentication.ts';
import type { ApiResponse } from './problem-response.ts';

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
  /** The cost report of the stores as they are now. */
  costReport(): Promise<CostReport>;
  readiness(): Promise<ReadinessReport>;
  metricsText(): Promise<{ contentType: string; body: string }>;
}

export interface ValidatedRequest<P = Record<string, string>, Q = Record<string, unknown>> {
  readonly params: P;
  readonly query: Q;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Parsed JSON body (already checked for size and content type), or undefined. */
  readonly body: unknown;
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
  /** Optional request headers worth documenting (If-Match, ...). */
  readonly requestHeaders?: readonly string[];
  handle(request: ValidatedRequest, services: ApiServices): Promise<ApiResponse>;
}
