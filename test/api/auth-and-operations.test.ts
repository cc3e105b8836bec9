// Authentication, authorization, health, readiness, OpenAPI and metrics through inject().
import { Ajv } from 'ajv';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.ts';
import { type ApiHarness, startApiHarness, TEST_AUDIENCE, TEST_ISSUER } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness();
});
afterAll(async () => {
  await api.close();
});

const url = '/api/v1/customers/cust-auth/billing-records';

describe('authentication', () => {
  it('answers 401 UNAUTHENTICATED without a token, with a malformed one, or one signed by another key', async () => {
    const missing = await api.app.inject({ method: 'GET', url });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    const garbage = await api.app.inject({
      method: 'GET',
      url,
      headers: { authorization: 'Bearer not.a.jwt' },
    });
    expect(garbage.statusCode).toBe(401);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ roles: ['Billing.Read'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'ephemeral' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(
      (await api.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${forged}` } }))
        .statusCode,
    ).toBe(401);
  });

  it('answers 401 for a token with the wrong audience, the wrong issuer, or expired', async () => {
    for (const claims of [
      { issuer: TEST_ISSUER, audience: 'api://other', expiresInSeconds: 600 },
      { issuer: 'urn:other', audience: TEST_AUDIENCE, expiresInSeconds: 600 },
      { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, expiresInSeconds: -3600 },
    ]) {
      const token = await api.keys.sign({ subject: 's', roles: ['Billing.Read'], ...claims });
      const response = await api.app.inject({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode).toBe(401);
    }
  });

  it('answers 403 FORBIDDEN without the role, and for a customer outside customer_ids', async () => {
    const readOnly = await api.call({ method: 'POST', url, payload: makeInput(), roles: ['Billing.Read'] });
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.json()).toMatchObject({ code: 'FORBIDDEN' });
    const scoped = await api.token(['Billing.Read', 'Billing.Write'], ['cust-other']);
    const outside = await api.app.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${scoped}` },
    });
    expect(outside.statusCode).toBe(403);
    const inside = await api.app.inject({
      method: 'GET',
      url: '/api/v1/customers/cust-other/billing-records',
      headers: { authorization: `Bearer ${scoped}` },
    });
    expect(inside.statusCode).toBe(200);
  });
});

describe('operations endpoints', () => {
  it('answers /healthz and /readyz without a token', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await api.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { hotStore: 'up' } });
  });

  it('publishes OpenAPI 3.1 whose record schema validates what the API returns', async () => {
    const document = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(document.openapi).toBe('3.1.0');
    const path = document.paths['/api/v1/customers/{customerId}/billing-records/{recordId}'];
    expect(Object.keys(path).sort()).toEqual(['delete', 'get', 'patch', 'put']);
    const schema = path.get.responses['200'].content['application/json'].schema;
    const created = await api.call({ method: 'POST', url, payload: makeInput() });
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(created.json())).toBe(true);
    expect(validate({ ...created.json(), extra: 1 })).toBe(false);
    expect(document.components.schemas.Problem.properties.code.enum).toEqual(Object.keys(ERROR_CODES));
  });

  it('serves the docs page', async () => {
    const docs = await api.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });

  it('counts requests in Prometheus metrics by route and status', async () => {
    await api.call({ method: 'GET', url: `${url}/absent` });
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/customers\/:customerId\/billing-records\/:recordId",status="404"\} [1-9]/,
    );
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/nowhere' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('a store outage', () => {
  it('answers 503 UNAVAILABLE with Retry-After, and /readyz says not ready', async () => {
    const broken = await startApiHarness();
    await broken.store.close();
    const response = await broken.call({ method: 'GET', url: `${url}/any` });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(response.json()).toMatchObject({ code: 'UNAVAILABLE' });
    expect(response.body).not.toContain(' at ');
    const ready = await broken.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { hotStore: 'down' } });
    await broken.app.close();
  });
});
