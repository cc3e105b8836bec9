// Property-based requests generated from the served OpenAPI document (fast-check), for every route,
// with tokens of every role and customer scope (and none, and garbage): no 5xx, every error is
// problem+json with a registered code, a rejected request changes no stored data, and no answer about
// one customer carries another's data.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.ts';
import { type ApiHarness, startApiHarness, TEST_AUDIENCE, TEST_ISSUER } from '../support/api-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly queryParams: readonly string[];
  readonly hasBody: boolean;
}

const CUSTOMERS = ['cust-a', 'cust-b'] as const;
/** Marks each customer's seeded data: it must never show up in an answer about the other customer. */
const SECRET = { 'cust-a': 'SECRET-OF-A', 'cust-b': 'SECRET-OF-B' } as const;
const ROLE_SETS = [
  [],
  ['Billing.Read'],
  ['Billing.Write'],
  ['Billing.Read', 'Billing.Write'],
  ['Billing.Admin'],
  ['Billing.Read', 'Billing.Write', 'Billing.Admin'],
] as const;
const SCOPES = [undefined, ['cust-a'], ['cust-b']] as const;
const RUNS_PER_ROUTE = 40;

let api: ApiHarness;
let operations: Operation[];
/** Every (roles, scope) token, signed once; plus no token and a garbage one. */
let tokens: Array<{ header: string | undefined; scope: readonly string[] | undefined }>;

beforeAll(async () => {
  api = await startApiHarness();
  for (const customerId of CUSTOMERS) {
    for (const id of ['r1', 'r2']) {
      const created = await api.call({
        method: 'POST',
        url: `/api/v1/customers/${customerId}/billing-records`,
        payload: makeInput({
          id,
          invoiceNumber: `${SECRET[customerId]}-${id}`,
          metadata: { owner: SECRET[customerId] },
        }),
      });
      expect(created.statusCode).toBe(201);
    }
  }
  const document = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
    paths: Record<
      string,
      Record<string, { parameters?: Array<{ in: string; name: string }>; requestBody?: unknown }>
    >;
  }>();
  operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      pathParams: (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
      queryParams: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      hasBody: operation.requestBody !== undefined,
    })),
  );
  tokens = [
    { header: undefined, scope: undefined },
    { header: 'Bearer garbage.token.here', scope: undefined },
  ];
  for (const roles of ROLE_SETS) {
    for (const scope of SCOPES) {
      const token = await api.keys.sign({
        subject: `fuzz-${roles.join('+') || 'none'}-${scope?.join('+') ?? 'all'}`,
        roles,
        ...(scope !== undefined ? { customerIds: scope } : {}),
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        expiresInSeconds: 3600,
      });
      tokens.push({ header: `Bearer ${token}`, scope });
    }
  }
});
afterAll(async () => {
  await api.close();
});

/** What a rejected request must leave as it was: every seeded record (etag), and every hold. */
async function snapshot(): Promise<string> {
  const documents = [];
  for (const customerId of CUSTOMERS) {
    for (const id of ['r1', 'r2', 'new'])
      documents.push((await api.store.get({ customerId, id }))?.etag ?? null);
    documents.push((await api.test.wired.legalHolds.list()).length);
  }
  return JSON.stringify(documents);
}

const paramValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('cust-a', 'cust-b', 'r1', 'r2', 'new', 'nope') },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('../cust-b', 'cust-a%2Fcust-b', '*', 'x'.repeat(300), ' ') },
);
const queryValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer({ min: -5, max: 1_000_000 }).map(String),
  fc.constantFrom('true', 'issued', '2026-01-01T00:00:00Z', 'cust-b', 'record.read', ''),
);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        id: fc.constantFrom('new', 'r1', 'r2', 'bad id'),
        currency: fc.constantFrom('USD', 'EUR', 'usd', ''),
        totalMinor: fc.integer(),
        customerId: fc.constantFrom('cust-a', 'cust-b'),
        reason: fc.string({ maxLength: 20 }),
        dryRun: fc.boolean(),
      })
      .map((overrides) => JSON.stringify({ ...makeInput(), ...overrides })),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const contentType = fc.constantFrom(
  'application/json',
  'application/merge-patch+json',
  'text/plain',
  undefined,
);

describe('fuzzing every route from the OpenAPI document', () => {
  it('covers every operation of the served document', () => {
    expect(operations.length).toBeGreaterThan(25);
  });

  it('never answers 5xx, answers every error as problem+json with a code, changes nothing when it refuses, and keeps customers apart', async () => {
    const codes = new Set(Object.keys(ERROR_CODES));
    const seen = new Map<number, number>();
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            params: fc.tuple(...operation.pathParams.map(() => paramValue)),
            query: fc.dictionary(fc.constantFrom(...operation.queryParams, 'junk'), queryValue, {
              maxKeys: 4,
            }),
            body,
            contentType,
            token: fc.nat({ max: 1_000 }),
            ifMatch: fc.option(fc.constantFrom('"1"', '"2"', '*', 'garbage'), { nil: undefined }),
          }),
          async (input) => {
            const token = tokens[input.token % tokens.length]!;
            let path = operation.path;
            operation.pathParams.forEach((name, index) => {
              path = path.replace(`{${name}}`, encodeURIComponent(input.params[index] ?? ''));
            });
            const search = new URLSearchParams(input.query).toString();
            const before = await snapshot();
            const response = await api.app.inject({
              method: operation.method as 'GET',
              url: search === '' ? path : `${path}?${search}`,
              headers: {
                ...(token.header !== undefined ? { authorization: token.header } : {}),
                ...(input.contentType !== undefined ? { 'content-type': input.contentType } : {}),
                ...(input.ifMatch !== undefined ? { 'if-match': input.ifMatch } : {}),
              },
              ...(operation.hasBody && input.body !== undefined ? { payload: input.body } : {}),
            });
            seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
            const where = `${operation.method} ${path} → ${response.statusCode} ${response.body.slice(0, 200)}`;
            expect(response.statusCode, where).toBeLessThan(500);
            if (response.statusCode >= 400) {
              expect(response.headers['content-type'], where).toMatch(/^application\/problem\+json/);
              expect(codes.has(response.json<{ code: string }>().code), where).toBe(true);
              expect(await snapshot(), `a refused request changed data: ${where}`).toBe(before);
            }
            // The customer the request is about, or the token's only customer: nothing of another may show.
            const about = operation.pathParams.includes('customerId')
              ? input.params[operation.pathParams.indexOf('customerId')]
              : undefined;
            const allowed = new Set(about !== undefined ? [about] : (token.scope ?? CUSTOMERS));
            if (about === undefined && token.scope === undefined) return;
            for (const customerId of CUSTOMERS) {
              if (allowed.has(customerId)) continue;
              expect(response.body, where).not.toContain(SECRET[customerId]);
              // Its id as a JSON value (audit events, holds, jobs name their customer so).
              expect(response.body, where).not.toContain(`"${customerId}"`);
            }
          },
        ),
        { numRuns: RUNS_PER_ROUTE, seed: 20261202 },
      );
    }
    // The generated requests reach the handlers, not only the gates in front of them.
    const count = (from: number, to: number) =>
      [...seen].filter(([status]) => status >= from && status < to).reduce((sum, [, n]) => sum + n, 0);
    expect(count(200, 300)).toBeGreaterThan(50);
    for (const status of [400, 401, 403, 404])
      expect(seen.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
    // Background work an accepted request started (runs, rehydration jobs) must not fail either.
    await api.test.wired.shutdown();
  });
});
