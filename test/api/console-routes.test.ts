// The console's server side through inject(): its security headers, its static files, the dev sign-in
// (loopback and the embedded default only), how the config turns sign-in on, and the unpark route the
// console's "retry" uses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleSignIn } from '../../src/composition/console-sign-in.ts';
import { loadConfig } from '../../src/config/app-config.ts';
import { type ConsoleServer, startConsoleServer } from '../support/console-server.ts';
import { PARKED_ERROR, parkCopyOf } from '../support/parked-item.ts';
import { makeInput } from '../support/record-fixtures.ts';

const ADMIN = ['Billing.Read', 'Billing.Write', 'Billing.Admin'];
const DAY = 24 * 3600_000;
const LOOPBACK = { remoteAddress: '127.0.0.1', headers: { host: 'localhost:8080' } };
let server: ConsoleServer;
let withoutDevSignIn: ConsoleServer;

beforeAll(async () => {
  server = await startConsoleServer();
  withoutDevSignIn = await startConsoleServer({ devSignIn: false });
});
afterAll(async () => {
  await server.close();
  await withoutDevSignIn.close();
});

function devToken(
  target: ConsoleServer,
  request: { remoteAddress?: string; headers?: Record<string, string>; payload?: string } = {},
) {
  return target.app.inject({
    method: 'POST',
    url: '/console/dev-token',
    remoteAddress: request.remoteAddress ?? LOOPBACK.remoteAddress,
    headers: { 'content-type': 'application/json', ...LOOPBACK.headers, ...request.headers },
    payload: request.payload ?? JSON.stringify({ roles: ADMIN }),
  });
}

describe('the console page', () => {
  it('is served with a CSP without inline script, never framed, and every script it loads is a file', async () => {
    const page = await server.app.inject({ method: 'GET', url: '/console' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/console\/assets\/[\w-]+\.js"/);
      expect(body!.trim()).toBe('');
    }
    for (const name of ['console.js', 'views.js', 'console.css']) {
      const asset = await server.app.inject({ method: 'GET', url: `/console/assets/${name}` });
      expect(asset.statusCode, name).toBe(200);
      expect(asset.headers['content-security-policy']).toBe(csp);
    }
  });

  it('answers only its own files: anything else under assets is a 404 problem', async () => {
    for (const name of ['..%2Fapi%2Fconsole-routes.ts', 'index.html', 'nope.js']) {
      const response = await server.app.inject({ method: 'GET', url: `/console/assets/${name}` });
      expect(response.statusCode, name).toBe(404);
      expect(response.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('tells the page which sign-ins exist; Entra ID adds its authority to connect-src and serves MSAL', async () => {
    expect((await server.app.inject({ url: '/console/settings.json' })).json()).toMatchObject({
      entra: null,
      devSignIn: true,
    });
    const entra = {
      clientId: '11111111-2222-3333-4444-555555555555',
      authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
      scopes: ['api://billing/.default'],
    };
    const withEntra = await startConsoleServer({ devSignIn: false, entra });
    try {
      const settings = await withEntra.app.inject({ url: '/console/settings.json' });
      expect(settings.json()).toEqual({ entra, devSignIn: false, roles: ADMIN });
      expect(settings.headers['content-security-policy']).toContain(
        "connect-src 'self' https://login.microsoftonline.com",
      );
      const msal = await withEntra.app.inject({ url: '/console/vendor/msal-browser.js' });
      expect(msal.statusCode).toBe(200);
      expect(msal.body).toContain('PublicClientApplication');
    } finally {
      await withEntra.close();
    }
  });
});

describe('the dev sign-in', () => {
  it('mints a token the API accepts, for a loopback caller of the embedded default', async () => {
    const response = await devToken(server);
    expect(response.statusCode).toBe(200);
    const { token } = response.json<{ token: string }>();
    const status = await server.app.inject({
      url: '/api/v1/admin/archival/status',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status.statusCode).toBe(200);
  });

  it('is refused when the server has no dev sign-in (Entra ID, or not bound to loopback)', async () => {
    const response = await devToken(withoutDevSignIn);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'FORBIDDEN', detail: expect.stringMatching(/loopback/) });
  });

  it('is refused to a caller that is not on loopback, a Host that is not loopback, or another site', async () => {
    const refusals = [
      await devToken(server, { remoteAddress: '10.1.2.3' }),
      await devToken(server, { headers: { host: 'attacker.example:8080' } }),
      await devToken(server, { headers: { 'sec-fetch-site': 'cross-site' } }),
    ];
    for (const response of refusals) {
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'FORBIDDEN' });
      expect(response.json()).not.toHaveProperty('token');
    }
  });

  it('refuses roles that do not exist, and a body that is not JSON', async () => {
    const badRole = await devToken(server, { payload: JSON.stringify({ roles: ['Billing.Root'] }) });
    expect(badRole.statusCode).toBe(400);
    expect(badRole.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    const form = await devToken(server, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'roles=Billing.Admin',
    });
    expect(form.statusCode).toBe(415);
  });

  it('is given by the config only on the embedded default listening on loopback', () => {
    expect(consoleSignIn(loadConfig({}, '/srv')).devSignIn).toBeTypeOf('function');
    expect(consoleSignIn(loadConfig({ HOST: 'localhost' }, '/srv')).devSignIn).toBeTypeOf('function');
    expect(consoleSignIn(loadConfig({ HOST: '0.0.0.0' }, '/srv')).devSignIn).toBeUndefined();
    expect(consoleSignIn(loadConfig({ HOST: '10.0.0.4' }, '/srv')).devSignIn).toBeUndefined();
    const entra = loadConfig(
      {
        AUTH_JWKS_URI: 'https://login.microsoftonline.com/tenant-1/discovery/v2.0/keys',
        AUTH_ISSUER: 'https://login.microsoftonline.com/tenant-1/v2.0',
        AUTH_AUDIENCE: 'api://billing',
        CONSOLE_CLIENT_ID: 'client-1',
      },
      '/srv',
    );
    expect(consoleSignIn(entra)).toEqual({
      entra: {
        clientId: 'client-1',
        authority: 'https://login.microsoftonline.com/tenant-1',
        scopes: ['api://billing/.default'],
      },
    });
  });
});

describe('POST /api/v1/admin/archival/unpark', () => {
  async function admin(method: 'GET' | 'POST', url: string, payload?: object, roles = ADMIN) {
    return server.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${await server.test.token(roles)}` },
      ...(payload !== undefined ? { payload } : {}),
    });
  }

  it('gives one parked item, or all, a fresh start; bad input and non-admins change nothing', async () => {
    const { test } = server;
    const issuedAt = new Date(test.clock.now().getTime() - 200 * DAY).toISOString();
    for (const id of ['park-1', 'park-2']) {
      await test.wired.records.create('cust-park', makeInput({ id, issuedAt }));
      await parkCopyOf(test, { customerId: 'cust-park', id }, test.clock.now());
    }
    await test.wired.refreshArchivalGauges();
    const parkedGauge = async () =>
      /archival_items\{state="parked"[^}]*\} (\d+)/.exec(
        (await server.app.inject({ url: '/metrics' })).body,
      )?.[1];
    expect(await parkedGauge()).toBe('2');
    const parked = async () =>
      (await admin('GET', '/api/v1/admin/archival/status')).json<{
        failed: Array<{ id: string; lastError: string }>;
      }>().failed;
    expect((await parked()).map((item) => [item.id, item.lastError])).toEqual([
      ['park-1', PARKED_ERROR],
      ['park-2', PARKED_ERROR],
    ]);

    const half = await admin('POST', '/api/v1/admin/archival/unpark', { customerId: 'cust-park' });
    expect(half.statusCode).toBe(400);
    expect(half.json()).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.stringMatching(/both/) });
    const reader = await admin('POST', '/api/v1/admin/archival/unpark', {}, ['Billing.Read']);
    expect(reader.statusCode).toBe(403);
    expect(await parked()).toHaveLength(2);

    const one = await admin('POST', '/api/v1/admin/archival/unpark', {
      customerId: 'cust-park',
      recordId: 'park-1',
    });
    expect(one.json()).toEqual({ unparked: 1 });
    expect((await parked()).map((item) => item.id)).toEqual(['park-2']);
    expect((await admin('POST', '/api/v1/admin/archival/unpark')).json()).toEqual({ unparked: 1 });
    expect(await parked()).toEqual([]);
    // The gauge follows at once, so ArchivalItemsParked resolves without waiting for the next run.
    expect(await parkedGauge()).toBe('0');
    const audit = await admin('GET', '/api/v1/admin/audit?action=archival.unpark');
    // Every attempt is audited, the refused one too (the 403 is an auth.denied event instead).
    expect(audit.json<{ items: Array<{ status: number }> }>().items.map((event) => event.status)).toEqual([
      400, 200, 200,
    ]);
  });
});
