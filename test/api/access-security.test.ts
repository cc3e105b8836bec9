// Access security at the edge: rate limits per principal, per customer and for scanning admin routes
// (429 THROTTLED problem+json with Retry-After); body, URL, header and nesting limits as problem+json;
// HTTPS with HSTS from a PEM certificate and key.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpServer, HSTS } from '../../src/api/http-server.ts';
import { MAX_JSON_DEPTH } from '../../src/api/request-pipeline.ts';
import { type ApiHarness, startApiHarness } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const records = (customerId: string): string => `/api/v1/customers/${customerId}/billing-records`;
const PROBLEM = /^application\/problem\+json/;

describe('rate limits', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApiHarness({ rateLimits: { perPrincipal: 5, perCustomer: 8, scanning: 2 } });
  });
  afterAll(async () => {
    await api.close();
  });

  const as = async (subject: string, url: string, roles = ['Billing.Read', 'Billing.Admin']) => {
    const token = await api.keys.sign({
      subject,
      roles,
      issuer: 'urn:test:issuer',
      audience: 'api://test',
      expiresInSeconds: 600,
    });
    return api.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  };

  it('throttles a principal past its limit with 429 THROTTLED, Retry-After, and leaves other principals alone', async () => {
    for (let i = 0; i < 5; i++) expect((await as('p1', records(`c-p1-${i}`))).statusCode).toBe(200);
    const throttled = await as('p1', records('c-p1-x'));
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers['content-type']).toMatch(PROBLEM);
    expect(throttled.json()).toMatchObject({ code: 'THROTTLED', status: 429 });
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await as('p2', records('c-p2'))).statusCode).toBe(200);
    // The window ends: the principal is served again.
    api.clock.advance(60_000);
    expect((await as('p1', records('c-p1-y'))).statusCode).toBe(200);
  });

  it("throttles a customer's traffic whoever asks", async () => {
    api.clock.advance(60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push((await as(`caller-${i}`, records('busy-customer'))).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
    expect((await as('caller-x', records('quiet-customer'))).statusCode).toBe(200);
  });

  it('gives admin routes that scan a lower limit', async () => {
    api.clock.advance(60_000);
    expect((await as('ops', '/api/v1/admin/audit')).statusCode).toBe(200);
    expect((await as('ops', '/api/v1/admin/legal-holds')).statusCode).toBe(200);
    expect((await as('ops', '/api/v1/admin/audit')).statusCode).toBe(429);
    // Routes that do not scan still answer within the principal's own limit.
    expect((await as('ops', '/api/v1/admin/archival/runs')).statusCode).toBe(200);
  });
});

describe('request limits answer problem+json', () => {
  let api: ApiHarness;
  let base: string;
  beforeAll(async () => {
    api = await startApiHarness();
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api.close();
  });

  it('refuses a body nested deeper than the limit, before the use case', async () => {
    const deep = {
      metadata: JSON.parse(`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`),
    };
    const response = await api.call({
      method: 'POST',
      url: records('c-deep'),
      payload: { ...makeInput(), ...deep },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({
      code: 'VALIDATION_FAILED',
      detail: expect.stringMatching(/nests deeper/),
    });
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const response = await api.call({
      method: 'POST',
      url: records('c-big'),
      payload: JSON.stringify({ ...makeInput(), metadata: { blob: 'x'.repeat(1_100_000) } }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(413);
    expect(response.headers['content-type']).toMatch(PROBLEM);
  });

  it('refuses a path parameter over 256 characters and a URL over 8 KiB with 414', async () => {
    for (const url of [records('c'.repeat(300)), `${records('c-long')}?x=${'y'.repeat(9_000)}`]) {
      const response = await api.call({ method: 'GET', url });
      expect(response.statusCode).toBe(414);
      expect(response.headers['content-type']).toMatch(PROBLEM);
      expect(response.json()).toMatchObject({ code: 'URI_TOO_LONG' });
    }
  });

  it('refuses headers over 16 KiB with 431 problem+json, on a real socket', async () => {
    const answer = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const request = httpRequest(
        `${base}/healthz`,
        { headers: { 'x-padding': 'p'.repeat(20_000) } },
        (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              type: String(response.headers['content-type']),
              body,
            }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(answer.status).toBe(431);
    expect(answer.type).toMatch(PROBLEM);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'HEADERS_TOO_LARGE' });
  });
});

describe('HTTPS', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'].concat([
        '-keyout',
        join(folder, 'key.pem'),
        '-out',
        join(folder, 'cert.pem'),
      ]),
      { stdio: 'ignore' },
    );
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('serves over TLS with HSTS on every answer', async () => {
    const api = await startApiHarness();
    const app = await buildHttpServer({
      ...api.test.application,
      tls: { cert: readFileSync(join(folder, 'cert.pem')), key: readFileSync(join(folder, 'key.pem')) },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const answer = await new Promise<{ status: number; hsts: unknown; protocol: string }>(
        (resolve, reject) => {
          const request = httpsRequest(
            {
              host: '127.0.0.1',
              port,
              path: '/healthz',
              ca: readFileSync(join(folder, 'cert.pem')),
              servername: 'localhost',
            },
            (response) => {
              response.resume();
              resolve({
                status: response.statusCode ?? 0,
                hsts: response.headers['strict-transport-security'],
                protocol: (response.socket as import('node:tls').TLSSocket).getProtocol() ?? '',
              });
            },
          );
          request.on('error', reject);
          request.end();
        },
      );
      expect(answer).toMatchObject({ status: 200, hsts: HSTS });
      expect(answer.protocol).toMatch(/^TLSv1\.[23]$/);
    } finally {
      await app.close();
      await api.close();
    }
  });
});
