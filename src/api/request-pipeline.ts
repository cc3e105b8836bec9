// The one request path both edges share: authenticate, authorize, parse and validate, handle, and
// turn any failure into problem+json. The edges only translate their request and response objects.
import { AppError } from '../domain/errors.ts';
import { compileValidator, type Validator } from '../domain/schema-validation.ts';
import {
  authorize,
  denialReason,
  type DenialReason,
  type Principal,
  type TokenVerifier,
} from './authentication.ts';
import { type ApiResponse, problemResponse, toAppError } from './problem-response.ts';
import type { ApiServices, Logger, RouteDefinition } from './route-definition.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

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
}

export interface Pipeline {
  execute(route: RouteDefinition, request: RawRequest): Promise<ApiResponse>;
}

interface CompiledRoute {
  readonly params: Validator<Record<string, string>> | undefined;
  readonly query: Validator<Record<string, unknown>> | undefined;
  readonly body: Validator<unknown> | undefined;
}

/** What the pipeline reports as it answers (metrics). */
export interface PipelineEvents {
  /** A request refused 401 or 403, and why. */
  onAuthDenied?(reason: DenialReason): void;
}

export function createPipeline(
  services: ApiServices,
  verifyToken: TokenVerifier,
  events: PipelineEvents = {},
): Pipeline {
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
      try {
        const validators = compile(route);
        let principal: Principal | undefined;
        if (route.access !== 'public') {
          principal = await verifyToken(request.headers.authorization);
          authorize(principal, route.access, request.params.customerId);
        }
        const params = validators.params ? validators.params({ ...request.params }) : { ...request.params };
        const query = validators.query ? validators.query({ ...request.query }) : {};
        const parsed = route.body === undefined ? undefined : parseBody(route.body, request);
        const body = validators.body ? validators.body(parsed) : parsed;
        return await route.handle(
          { params, query, headers: request.headers, body, principal, log: request.log },
          services,
        );
      } catch (error) {
        const appError = toAppError(error);
        const denied = denialReason(appError);
        if (denied !== undefined) events.onAuthDenied?.(denied);
        if (appError.status >= 500) request.log.error({ err: error, code: appError.code }, appError.message);
        return problemResponse(appError, request.path);
      }
    },
  };
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
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError('VALIDATION_FAILED', 'The body is not valid JSON', {
      errors: [{ field: '/', message: 'is not valid JSON' }],
    });
  }
}
