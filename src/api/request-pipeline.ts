// The one request path both edges share: authenticate, authorize, rate-limit, parse and validate,
// handle, turn any failure into problem+json, and audit. The edges only translate their request and
// response objects.
import type { AuditEntry } from '../domain/audit-event.ts';
import { AppError } from '../domain/errors.ts';
import { compileValidator, type Validator } from '../domain/schema-validation.ts';
import type { Clock } from '../ports/clock.ts';
import {
  AccessDenied,
  authorize,
  type DenialReason,
  type Principal,
  type TokenVerifier,
} from './authentication.ts';
import { type ApiResponse, problemResponse, toAppError } from './problem-response.ts';
import type { RateLimiter } from './rate-limits.ts';
import type { ApiServices, Logger, RouteDefinition } from './route-definition.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Arrays and objects nested deeper than this are refused before any handler sees them. */
export const MAX_JSON_DEPTH = 32;
/** Audit fields taken from the request are cut to this length. */
const MAX_AUDIT_FIELD = 256;
const MAX_AUDIT_REASON = 1024;

export interface RawRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, unknown>>;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body as text, or undefined when there is none. */
  readonly body: string | undefined;
  readonly log: Logger;
  /** The request path, echoed as the problem's `instance`. */
  readonly path: string;
  /** The edge's id of this request (Fastify's, or the Functions invocation id), for the audit event. */
  readonly requestId?: string;
}

export interface PipelineOptions {
  /** Stamps audit events; the system clock's `now` when absent. */
  readonly clock?: Pick<Clock, 'now'>;
  readonly rateLimiter?: RateLimiter;
  /** Told of every 401/403 (auth_denied_total{reason}). */
  readonly onAuthDenied?: (reason: DenialReason) => void;
}

export interface Pipeline {
  execute(route: RouteDefinition, request: RawRequest): Promise<ApiResponse>;
}

interface CompiledRoute {
  readonly params: Validator<Record<string, string>> | undefined;
  readonly query: Validator<Record<string, unknown>> | undefined;
  readonly body: Validator<unknown> | undefined;
}

export function createPipeline(
  services: ApiServices,
  verifyToken: TokenVerifier,
  options: PipelineOptions = {},
): Pipeline {
  const clock = options.clock ?? { now: () => new Date() };
  const compiled = new Map<RouteDefinition, CompiledRoute>();
  const compile = (route: RouteDefinition): CompiledRoute => {
    let entry = compiled.get(route);
    if (entry === undefined) {
      entry = {
        params: route.params && compileValidator(route.params, { what: 'path' }),
        query: route.query && compileValidator(route.query, { coerce: true, what: 'query' }),
        body: route.body?.validate === true ? compileValidator(route.body.schema) : undefined,
      };
      compiled.set(route, entry);
    }
    return entry;
  };

  return {
    async execute(route, request) {
      let principal: Principal | undefined;
      let denied: DenialReason | undefined;
      let throttled = false;
      let parsed: unknown;
      const mutating = route.method !== 'GET';
      let response: ApiResponse;
      try {
        const validators = compile(route);
        if (route.access !== 'public') {
          try {
            principal = await verifyToken(request.headers.authorization);
            authorize(principal, route.access, request.params.customerId);
          } catch (error) {
            if (error instanceof AccessDenied) denied = error.reason;
            throw error;
          }
          try {
            await options.rateLimiter?.check({
              subject: principal.subject,
              customerId: request.params.customerId,
              scans: route.scans === true,
            });
          } catch (error) {
            throttled = true;
            throw error;
          }
          // Refused before anything changes: a change whose event cannot be written must not happen.
          if (mutating && route.audit !== undefined && !services.audit.writable())
            throw new AppError('UNAVAILABLE', 'The audit log is not accepting events; retry later');
        }
        const params = validators.params ? validators.params({ ...request.params }) : { ...request.params };
        const query = validators.query ? validators.query({ ...request.query }) : {};
        parsed = route.body === undefined ? undefined : parseBody(route.body, request);
        const body = validators.body ? validators.body(parsed) : parsed;
        response = await route.handle(
          { params, query, headers: request.headers, body, principal, log: request.log },
          services,
        );
      } catch (error) {
        const appError = toAppError(error);
        if (appError.status >= 500) request.log.error({ err: error, code: appError.code }, appError.message);
        response = problemResponse(appError, request.path);
      }
      if (denied !== undefined) {
        options.onAuthDenied?.(denied);
        services.audit.recordLater(auditEntry(route, request, principal, response, parsed, clock, denied));
      } else if (route.audit !== undefined && principal !== undefined && !throttled) {
        const entry = auditEntry(route, request, principal, response, parsed, clock, undefined);
        if (!mutating) services.audit.recordLater(entry);
        else {
          // A mutating request's event is durable before the answer; if it cannot be, the answer is 503
          // (the event stays queued and is retried, never dropped).
          try {
            await services.audit.recordNow(entry);
          } catch (error) {
            const appError = toAppError(error);
            request.log.error({ err: error, audit: entry }, 'audit event not yet durable; answering 503');
            return problemResponse(
              new AppError(
                'UNAVAILABLE',
                `The audit log did not acknowledge this request's event (the change may have been applied; its event is retried): ${appError.message}`,
                { retryAfterMs: 1_000 },
              ),
              request.path,
            );
          }
        }
      }
      return response;
    },
  };
}

/** The audit event of one request: who, what, on which customer and record, and how it ended. */
function auditEntry(
  route: RouteDefinition,
  request: RawRequest,
  principal: Principal | undefined,
  response: ApiResponse,
  body: unknown,
  clock: Pick<Clock, 'now'>,
  denied: DenialReason | undefined,
): AuditEntry {
  const bodyField = (name: string): string | undefined => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    const value = (body as Record<string, unknown>)[name];
    return typeof value === 'string' ? value : undefined;
  };
  const cut = (value: string | undefined): string | null =>
    value === undefined ? null : value.slice(0, MAX_AUDIT_FIELD);
  // A created record's id is only known from the answer's Location.
  const created =
    response.status === 201 && response.headers?.location !== undefined
      ? decodeURIComponent(response.headers.location.split('/').at(-1) ?? '')
      : undefined;
  return {
    at: clock.now().toISOString(),
    actor: {
      sub: principal?.subject ?? 'anonymous',
      roles: principal === undefined ? [] : [...principal.roles].sort(),
    },
    action: denied !== undefined ? 'auth.denied' : route.audit!,
    customerId: cut(request.params.customerId ?? bodyField('customerId')),
    recordId: cut(request.params.recordId ?? created),
    status: response.status,
    requestId: cut(request.requestId),
    reason:
      denied !== undefined
        ? `${denied}: ${route.method} ${route.path}`
        : ((bodyField('reason') ?? request.headers['x-audit-reason'])?.slice(0, MAX_AUDIT_REASON) ?? null),
  };
}

/** The deepest nesting of arrays and objects in a parsed JSON value, stopping once past `limit`. */
function depthOf(value: unknown, limit: number, depth = 0): number {
  if (depth > limit || value === null || typeof value !== 'object') return depth;
  let deepest = depth + 1;
  for (const child of Object.values(value as Record<string, unknown>)) {
    deepest = Math.max(deepest, depthOf(child, limit, depth + 1));
    if (deepest > limit) break;
  }
  return deepest;
}

function parseBody(spec: NonNullable<RouteDefinition['body']>, request: RawRequest): unknown {
  const { contentTypes } = spec;
  const text = request.body ?? '';
  if (spec.optional === true && text.trim() === '') return {};
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The body is over ${MAX_BODY_BYTES} bytes`);
  }
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!contentTypes.includes(mediaType)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Send the body as ${contentTypes.join(' or ')}`);
  }
  if (text.trim() === '') {
    throw new AppError('VALIDATION_FAILED', 'The body is empty', {
      errors: [{ field: '/', message: 'is required' }],
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    throw new AppError('VALIDATION_FAILED', 'The body is not valid JSON', {
      errors: [{ field: '/', message: 'is not valid JSON' }],
    });
  }
  if (depthOf(parsed, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new AppError('VALIDATION_FAILED', `The body nests deeper than ${MAX_JSON_DEPTH} levels`, {
      errors: [{ field: '/', message: `nests deeper than ${MAX_JSON_DEPTH} levels` }],
    });
  }
  return parsed;
}
