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
import { inServerSpan, logCorrelation } from '../telemetry/spans.ts';

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
  const serve = serveRequest(route, application);
  // No instrumentation traces the Node worker's invocations: each one is a server span of its own, in
  // the caller's trace (its `traceparent`, else the host's), so the store, cache and Blob spans are its
  // children and the trace id reaches the problem body and the log lines, as on the Fastify edge.
  return (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const headers = Object.fromEntries(request.headers.entries());
    const url = new URL(request.url);
    return inServerSpan(
      `${route.method} ${route.path}`,
      headers.traceparent === undefined ? hostTraceContext(context) : headers,
      {
        'http.request.method': route.method,
        'http.route': route.path,
        'url.path': url.pathname,
        'url.scheme': url.protocol.replace(':', ''),
        'faas.trigger': 'http',
        'faas.invocation_id': context.invocationId,
      },
      (response) => response.status ?? 200,
      async () => {
        const response = await serve(request, context, headers, url.pathname);
        // The access line Fastify writes per request, inside the span: it carries the trace id.
        contextLogger(context).info({ statusCode: response.status }, 'request completed');
        return response;
      },
    );
  };
}

function serveRequest(route: RouteDefinition, application: () => Promise<ApiApplication>) {
  return async (
    request: HttpRequest,
    context: InvocationContext,
    headers: Record<string, string>,
    path: string,
  ): Promise<HttpResponseInit> => {
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
      context.error('could not open the stores', error, logCorrelation());
      const mapped = isAppError(error)
        ? error
        : new AppError('UNAVAILABLE', 'A store is unreachable', { cause: error });
      return toFunctionsResponse(problemResponse(mapped, path));
    }
    const body = route.body === undefined ? undefined : await request.text();
    const response = await pipeline.execute(route, {
      params: { ...request.params },
      query: Object.fromEntries(request.query.entries()),
      headers,
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
    ...(body === undefined
      ? {}
      : { body: typeof body === 'string' || body instanceof Uint8Array ? body : Readable.from(body) }),
  };
}

/** The host's W3C trace context of this invocation (it joins the caller's when the host has one). */
function hostTraceContext(context: InvocationContext): Record<string, string> {
  const { traceParent, traceState } = context.traceContext ?? {};
  return {
    ...(traceParent ? { traceparent: traceParent } : {}),
    ...(traceState ? { tracestate: traceState } : {}),
  };
}

/** Each line carries the request's trace and span ids (the names pino's instrumentation writes). */
function contextLogger(context: InvocationContext): Logger {
  return {
    info: (object, message) => context.log(message ?? '', { ...object, ...logCorrelation() }),
    warn: (object, message) => context.warn(message ?? '', { ...object, ...logCorrelation() }),
    error: (object, message) => context.error(message ?? '', { ...object, ...logCorrelation() }),
  };
}
