// The operations console at GET /console: static ES modules and CSS from src/console/ (no build step),
// the settings its sign-in needs, and, on the embedded default bound to loopback only, a dev sign-in.
// Fastify-only (people use it through `npm start`); every call it makes goes to the admin API.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.ts';
import { ROLES, type Role } from './authentication.ts';
import { problemResponse } from './problem-response.ts';

export interface ConsoleOptions {
  /** Entra ID sign-in with MSAL (authorization code + PKCE). */
  readonly entra?: {
    readonly clientId: string;
    readonly authority: string;
    readonly scopes: readonly string[];
  };
  /** Mints a dev token: given only on the embedded default (dev key pair) bound to loopback. */
  readonly devSignIn?: (roles: readonly Role[]) => Promise<string>;
}

const ASSETS_FOLDER = resolve(import.meta.dirname, '../console');
/** Every file the console serves, by name: nothing else under the folder is reachable. */
const ASSETS: Readonly<Record<string, string>> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'api-client.js': 'text/javascript; charset=utf-8',
  'sign-in.js': 'text/javascript; charset=utf-8',
  'views.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
};
/** The package exports no path to its browser bundle: it is found beside its package.json. */
const MSAL_PACKAGE = '@azure/msal-browser/package.json';

/** The console's own headers: no inline script, never framed, nothing cached or leaked in referrers. */
export function consoleSecurityHeaders(options: ConsoleOptions): Record<string, string> {
  const identityOrigin = options.entra === undefined ? '' : ` ${new URL(options.entra.authority).origin}`;
  return {
    'content-security-policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self'${identityOrigin}`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/** A host name of this machine's loopback: the Host header check that stops DNS rebinding. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || isLoopbackAddress(name);
}

function hostNameOf(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return '';
  }
}

function sendProblem(reply: FastifyReply, error: AppError, path: string): FastifyReply {
  const problem = problemResponse(error, path);
  return reply
    .code(problem.status)
    .headers(problem.headers ?? {})
    .send(problem.body);
}

/** Why a dev token is refused to this request, or undefined when it may have one. */
function devSignInRefusal(request: FastifyRequest, options: ConsoleOptions): AppError | undefined {
  if (options.devSignIn === undefined)
    return new AppError(
      'FORBIDDEN',
      'Dev sign-in exists only on the embedded default (dev key pair) bound to loopback: sign in with Entra ID or paste a token',
    );
  if (!isLoopbackAddress(request.socket.remoteAddress) || !isLoopbackHost(hostNameOf(request.headers.host)))
    return new AppError('FORBIDDEN', 'Dev sign-in answers only requests from this machine (loopback)');
  // A page of another origin must not mint tokens through the operator's browser.
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin')
    return new AppError('FORBIDDEN', 'Dev sign-in answers only the console itself (same origin)');
  if (!(request.headers['content-type'] ?? '').startsWith('application/json'))
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send {"roles": [...]} as application/json');
  return undefined;
}

function requestedRoles(body: unknown): Role[] | undefined {
  let parsed: unknown;
  try {
    parsed = typeof body === 'string' ? JSON.parse(body) : undefined;
  } catch {
    return undefined;
  }
  const roles = (parsed as { roles?: unknown } | undefined)?.roles;
  if (!Array.isArray(roles) || roles.length === 0) return undefined;
  return roles.every((role) => (ROLES as readonly unknown[]).includes(role)) ? (roles as Role[]) : undefined;
}

export async function registerConsole(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const headers = consoleSecurityHeaders(options);
  const assets = new Map(
    Object.entries(ASSETS).map(([name, type]) => [
      name,
      { type, body: readFileSync(resolve(ASSETS_FOLDER, name)) },
    ]),
  );
  const page = readFileSync(resolve(ASSETS_FOLDER, 'index.html'));
  const settings = JSON.stringify({
    entra: options.entra ?? null,
    devSignIn: options.devSignIn !== undefined,
    roles: ROLES,
  });

  await app.register((scope, _options, done) => {
    scope.addHook('onSend', (_request, reply, payload, next) => {
      void reply.headers(headers);
      next(null, payload);
    });
    scope.get('/console', (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
    scope.get('/console/settings.json', (_request, reply) => reply.type('application/json').send(settings));
    scope.get<{ Params: { name: string } }>('/console/assets/:name', (request, reply) => {
      const asset = assets.get(request.params.name);
      if (asset === undefined)
        return sendProblem(reply, new AppError('NOT_FOUND', 'No such console file'), request.url);
      return reply.type(asset.type).send(asset.body);
    });
    if (options.entra !== undefined) {
      // The library's browser bundle, as the package ships it: served, not built or copied.
      const bundle = readFileSync(
        resolve(dirname(createRequire(import.meta.url).resolve(MSAL_PACKAGE)), 'lib/msal-browser.min.js'),
      );
      scope.get('/console/vendor/msal-browser.js', (_request, reply) =>
        reply.type('text/javascript; charset=utf-8').send(bundle),
      );
    }
    scope.post('/console/dev-token', async (request, reply) => {
      const refusal = devSignInRefusal(request, options);
      if (refusal !== undefined) return sendProblem(reply, refusal, '/console/dev-token');
      const roles = requestedRoles(request.body);
      if (roles === undefined)
        return sendProblem(
          reply,
          new AppError('VALIDATION_FAILED', `roles: a non-empty array of ${ROLES.join(', ')}`),
          '/console/dev-token',
        );
      request.log.warn({ roles }, 'console dev sign-in: a dev token was minted for a loopback caller');
      const token = await options.devSignIn!(roles);
      return reply.type('application/json').send(JSON.stringify({ token }));
    });
    done();
  });
}
