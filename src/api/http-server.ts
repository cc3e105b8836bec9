// The HTTP edge on Fastify: translates requests for the shared pipeline and maps Fastify's own
// errors (body too large, bad framing) to the same problem+json codes.
import { Readable } from 'node:stream';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { randomUUID } from 'node:crypto';
import { AppError } from '../domain/errors.ts';
import { type ConsoleOptions, registerConsole } from './console-routes.ts';
import type { HttpMetrics } from './http-metrics.ts';
import { type ApiResponse, PROBLEM_RESPONSE_TYPE, problemResponse, toAppError } from './problem-response.ts';
import { MAX_BODY_BYTES, type Pipeline } from './request-pipeline.ts';
import type { RouteDefinition } from './route-definition.ts';

export interface HttpServerOptions {
  readonly routes: readonly RouteDefinition[];
  readonly pipeline: Pipeline;
  readonly openApiDocument: object;
  readonly logger?: FastifyBaseLogger;
  readonly metrics?: HttpMetrics;
  /** PEM certificate and key: the server speaks HTTPS only, and every answer carries HSTS. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** The operations console's sign-in (GET /console); without it, the console offers paste-a-token only. */
  readonly console?: ConsoleOptions;
}

/** A year, subdomains included: browsers and clients never try plain HTTP again. */
export const HSTS = 'max-age=31536000; includeSubDomains';
/** Longer URLs are refused (414) before routing; Node refuses headers over 16 KiB (431) itself. */
export const MAX_URL_LENGTH = 8 * 1024;

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  // The HTTPS server type differs from the HTTP one only in its socket; the routes see the same instance.
  const app = Fastify({
    ...(options.logger !== undefined ? { loggerInstance: options.logger } : { logger: false }),
    ...(options.tls !== undefined
      ? { https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' } }
      : {}),
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { maxParamLength: 256 },
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Fastify's own refusals (a path parameter too long: 414; a malformed URL: 400) as problem+json too.
    frameworkErrors: (error, request, reply) => {
      const path = request.url.split('?')[0] ?? request.url;
      const mapped =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new AppError('URI_TOO_LONG', 'A path segment is over 256 characters')
          : new AppError('VALIDATION_FAILED', `The request is malformed (${error.code})`);
      void send(reply, problemResponse(mapped, path.slice(0, 512)));
    },
    // Node's parser refuses oversized headers (431) and bad framing (400) before Fastify sees a request.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
      const problem = problemResponse(
        tooLarge
          ? new AppError('HEADERS_TOO_LARGE', 'The request headers are over 16 KiB')
          : new AppError('VALIDATION_FAILED', 'The request is malformed'),
      );
      const body = typeof problem.body === 'string' ? problem.body : '';
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${problem.status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
            `content-type: ${PROBLEM_RESPONSE_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      } else socket.destroy();
    },
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', (request, reply, done) => {
    if (request.url.length > MAX_URL_LENGTH) {
      void send(
        reply,
        problemResponse(new AppError('URI_TOO_LONG', `The URL is over ${MAX_URL_LENGTH} characters`)),
      );
      return;
    }
    done();
  });
  if (options.tls !== undefined) {
    app.addHook('onSend', (_request, reply, payload, done) => {
      void reply.header('strict-transport-security', HSTS);
      done(null, payload);
    });
  }

  // The request's span (and a caller's W3C traceparent): the trace every store, cache and Blob call joins.
  // No span per Fastify hook or handler: they name framework steps, not the product's, and each one
  // costs a span and a context switch on every request even when nothing records them.
  await app.register(
    new FastifyOtelInstrumentation({ instrumentHooks: false, instrumentHandler: false }).plugin(),
  );

  // The pipeline parses bodies itself (so the Functions edge behaves the same); Fastify only buffers them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  await app.register(fastifySwagger, {
    mode: 'static',
    specification: { document: options.openApiDocument as never },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await registerConsole(app, options.console ?? {});

  for (const route of options.routes) {
    app.route({
      method: route.method,
      url: route.path.replace(/\{(\w+)\}/g, ':$1'),
      handler: async (request, reply) => {
        const response = await options.pipeline.execute(route, {
          params: request.params as Record<string, string>,
          query: request.query as Record<string, unknown>,
          headers: flattenHeaders(request.headers),
          body: typeof request.body === 'string' ? request.body : undefined,
          log: request.log,
          path: request.url.split('?')[0] ?? request.url,
          requestId: request.id,
        });
        return send(reply, response);
      },
    });
  }

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      problemResponse(
        new AppError('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`),
      ),
    ),
  );
  app.setErrorHandler((error: { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    const mapped =
      status === 413
        ? new AppError('PAYLOAD_TOO_LARGE', `The body is over ${MAX_BODY_BYTES} bytes`)
        : status === 415
          ? new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type')
          : status >= 400 && status < 500
            ? new AppError('VALIDATION_FAILED', `The request is malformed (${error.code ?? status})`)
            : toAppError(error);
    if (mapped.status >= 500) request.log.error({ err: error }, 'unhandled error');
    return send(reply, problemResponse(mapped, request.url.split('?')[0]));
  });

  if (options.metrics !== undefined) {
    const metrics = options.metrics;
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      metrics.observeRequest(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode },
        reply.elapsedTime / 1000,
      );
      done();
    });
  }
  return app;
}

function send(reply: FastifyReply, response: ApiResponse): FastifyReply {
  void reply.code(response.status).headers(response.headers ?? {});
  const { body } = response;
  if (body === undefined) return reply.send();
  // A streamed body (an export) is sent as it is produced; an error mid-way ends the connection early.
  return reply.send(typeof body === 'string' || body instanceof Uint8Array ? body : Readable.from(body));
}

function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers))
    flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}
