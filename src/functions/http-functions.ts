// The Azure Functions v4 edge: every route of the shared table becomes an HTTP trigger that
// translates the request for the same pipeline the HTTP server uses. Nothing else lives here.
import { Readable } from 'node:stream';
import type {
  HttpFunctionOptions,
  HttpHandler,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
} from '@azure/functions';
import type { ApiApplication } from '../api/api-application.ts';
import { type ApiResponse, problemResponse } from '../api/problem-response.ts';
import { MAX_BODY_BYTES } from '../api/request-pipeline.ts';
import type { Logger, RouteDefinition } from '../api/route-definition.ts';
import { AppError, isAppError } from '../domain/errors.ts';

export type RegisterHttpFunction = (name: string, options: HttpFunctionOptions) => void;

/**
 * Registers one trigger per route. `application` is awaited on the first call in a worker and reused:
 * stores, caches and keys are opened once per instance, not per request.
 * host.json sets `routePrefix` to "" so the paths are exactly those of API.md.
 */
export function registerHttpFunctions(
  register: RegisterHttpFunction,
  routes: readonly RouteDefinition[],
  application: () => Promise<ApiApplication>,
): void {
  for (const route of routes) {
    register(route.operationId, {
      methods: [route.method],
      authLevel: 'anonymous', // the API checks its own bearer tokens
      route: route.path.replace(/^\//, ''),
      handler: createHandler(route, application),
    });
  }
}

function createHandler(route: RouteDefinition, application: () => Promise<ApiApplication>): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const path = new URL(request.url).pathname;
    const declaredLength = Number(request.headers.get('content-length') ?? '0');
    if (declaredLength > MAX_BODY_BYTES) {
      return toFunctionsResponse(
        problemResponse(new AppError('PAYLOAD_TOO_LARGE', `The body is over ${MAX_BODY_BYTES} bytes`), path),
      );
    }
    let pipeline: ApiApplication['pipeline'];
    try {
      ({ pipeline } = await application());
    } catch (error) {
      // A store unreachable at cold start is an outage like any other: 503 with Retry-After, not a bare 500.
      context.error('could not open the stores', error);
      const mapped = isAppError(error)
        ? error
        : new AppError('UNAVAILABLE', 'A store is unreachable', { cause: error });
      return toFunctionsResponse(problemResponse(mapped, path));
    }
    const body = route.body === undefined ? undefined : await request.text();
    const response = await pipeline.execute(route, {
      params: { ...request.params },
      query: Object.fromEntries(request.query.entries()),
      headers: Object.fromEntries(request.headers.entries()),
      body,
      log: contextLogger(context),
      path,
      requestId: context.invocationId,
    });
    return toFunctionsResponse(response);
  };
}

function toFunctionsResponse(response: ApiResponse): HttpResponseInit {
  const { body } = response;
  return {
    status: response.status,
    headers: { ...response.headers },
    // A streamed body (an export) goes out as a stream; the host streams it when HTTP streams are on.
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : Readable.from(body) }),
  };
}

function contextLogger(context: InvocationContext): Logger {
  return {
    info: (object, message) => context.log(message ?? '', object),
    warn: (object, message) => context.warn(message ?? '', object),
    error: (object, message) => context.error(message ?? '', object),
  };
}
