// The API of API.md driven over real HTTP (fetch) against a started server. One scenario for every
// hot store: the SQLite and the Cosmos DB end-to-end files run it against their own server.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createEphemeralDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import type { Role } from '../../src/api/authentication.ts';
import type { RecordInput } from '../../src/domain/billing-record.ts';
import { describe, expect, it } from 'vitest';
import { makeInput } from '../support/record-fixtures.ts';

export type { Role };

export interface ApiTarget {
  readonly baseUrl: string;
  readonly issuer: string;
  readonly audience: string;
  /** A bearer token issued the way this deployment issues them (token CLI, or a test key). */
  token(roles: readonly Role[], customerIds?: readonly string[]): Promise<string>;
}

/** A parsed JSON body: `any`, as fetch's and inject()'s are; the assertions check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json(): Json;
}

const READ_WRITE: readonly Role[] = ['Billing.Read', 'Billing.Write'];
const RECORD_PATH = '/api/v1/customers/{customerId}/billing-records/{recordId}';
const RECORDS_PATH = '/api/v1/customers/{customerId}/billing-records';

export const recordsUrl = (customerId: string): string => `/api/v1/customers/${customerId}/billing-records`;
export const recordUrl = (customerId: string, id: string): string => `${recordsUrl(customerId)}/${id}`;

/** One HTTP exchange; `token` undefined sends no Authorization header. */
export async function call(
  baseUrl: string,
  path: string,
  init: { method?: string; token?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: (): Json => JSON.parse(text) };
}

function expectProblem(answer: HttpAnswer, status: number, code: string): Json {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = answer.json();
  expect(problem).toMatchObject({ status, code });
  expect(typeof problem.type).toBe('string');
  expect(typeof problem.title).toBe('string');
  expect(typeof problem.detail).toBe('string');
  return problem;
}

/**
 * The whole contract over HTTP. `target` is read in each test, so a file may restart its server
 * between describes. `label` keeps customer ids of different runs apart.
 */
export function describeApiScenario(label: string, target: () => ApiTarget): void {
  let sequence = 0;
  const newCustomer = (): string => `cust-${label}-${++sequence}`;
  const send = async (
    path: string,
    init: Parameters<typeof call>[2] & { roles?: readonly Role[] | null } = {},
  ): Promise<HttpAnswer> => {
    const { roles, ...rest } = init;
    const token = roles === null ? undefined : await target().token(roles ?? READ_WRITE);
    return call(target().baseUrl, path, { ...rest, ...(token !== undefined ? { token } : {}) });
  };
  const create = async (customerId: string, input: RecordInput): Promise<HttpAnswer> => {
    const created = await send(recordsUrl(customerId), { method: 'POST', body: input });
    expect(created.status, created.text).toBe(201);
    return created;
  };

  describe(`the billing records API over HTTP (${label})`, () => {
    it('creates (201), reads the same bytes, revalidates (304), replaces and patches under If-Match', async () => {
      const customerId = newCustomer();
      const input = makeInput({ id: 'inv-e2e-1' });
      const created = await create(customerId, input);
      expect(created.headers.get('location')).toBe(recordUrl(customerId, 'inv-e2e-1'));
      expect(created.headers.get('etag')).toBe('"1"');
      expect(created.headers.get('content-type')).toMatch(/^application\/json/);
      expect(created.json()).toMatchObject({ ...input, customerId, version: 1 });
      expect(created.json().createdAt).toBe(created.json().updatedAt);

      const read = await send(recordUrl(customerId, 'inv-e2e-1'));
      expect(read.status).toBe(200);
      expect(read.text).toBe(created.text);
      expect(read.headers.get('etag')).toBe('"1"');

      const unchanged = await send(recordUrl(customerId, 'inv-e2e-1'), {
        headers: { 'if-none-match': '"1"' },
      });
      expect(unchanged.status).toBe(304);
      expect(unchanged.text).toBe('');
      expect(unchanged.headers.get('etag')).toBe('"1"');
      const otherTag = await send(recordUrl(customerId, 'inv-e2e-1'), {
        headers: { 'if-none-match': '"7"' },
      });
      expect(otherTag.status).toBe(200);
      expect(otherTag.text).toBe(created.text);

      const replaced = await send(recordUrl(customerId, 'inv-e2e-1'), {
        method: 'PUT',
        headers: { 'if-match': '"1"' },
        body: { ...input, status: 'paid' },
      });
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.headers.get('etag')).toBe('"2"');
      expect(replaced.json()).toMatchObject({
        status: 'paid',
        version: 2,
        createdAt: created.json().createdAt,
      });
      expect((await send(recordUrl(customerId, 'inv-e2e-1'))).text).toBe(replaced.text);

      const stale = await send(recordUrl(customerId, 'inv-e2e-1'), {
        method: 'PUT',
        headers: { 'if-match': '"1"' },
        body: { ...input, status: 'void' },
      });
      expectProblem(stale, 412, 'PRECONDITION_FAILED');
      const afterStale = await send(recordUrl(customerId, 'inv-e2e-1'));
      expect(afterStale.text).toBe(replaced.text);
      expect(afterStale.headers.get('etag')).toBe('"2"');

      const patched = await send(recordUrl(customerId, 'inv-e2e-1'), {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json', 'if-match': '"2"' },
        body: { status: 'overdue', dueAt: '2024-05-31T00:00:00.000Z', metadata: { po: 'PO-7' } },
      });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.headers.get('etag')).toBe('"3"');
      expect(patched.json()).toMatchObject({
        status: 'overdue',
        dueAt: '2024-05-31T00:00:00.000Z',
        metadata: { region: 'eastus', po: 'PO-7' },
        lineItems: input.lineItems,
        version: 3,
      });
      const stalePatch = await send(recordUrl(customerId, 'inv-e2e-1'), {
        method: 'PATCH',
        headers: { 'content-type': 'application/merge-patch+json', 'if-match': '"2"' },
        body: { status: 'void' },
      });
      expectProblem(stalePatch, 412, 'PRECONDITION_FAILED');
      const final = await send(recordUrl(customerId, 'inv-e2e-1'));
      expect(final.text).toBe(patched.text);
      expect(final.headers.get('etag')).toBe('"3"');

      const duplicate = await send(recordsUrl(customerId), { method: 'POST', body: input });
      expectProblem(duplicate, 409, 'ALREADY_EXISTS');
    });

    it('lists summaries newest issuedAt first, page by page with the cursor, and filters', async () => {
      const customerId = newCustomer();
      const months = ['01', '02', '03', '04', '05', '06', '07'];
      for (const [index, month] of months.entries()) {
        await create(
          customerId,
          makeInput({
            id: `inv-list-${month}`,
            issuedAt: `2024-${month}-15T08:00:00.000Z`,
            status: index % 2 === 0 ? 'paid' : 'issued',
          }),
        );
      }
      await create(newCustomer(), makeInput({ id: 'inv-list-elsewhere' }));

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '?limit=3' : `?limit=3&cursor=${encodeURIComponent(cursor)}`;
        const page = await send(`${recordsUrl(customerId)}${query}`);
        expect(page.status, page.text).toBe(200);
        const body = page.json();
        expect(body.items.length).toBeLessThanOrEqual(3);
        for (const item of body.items) {
          expect(item).not.toHaveProperty('lineItems');
          expect(item).not.toHaveProperty('metadata');
          expect(item).toMatchObject({ customerId, version: 1 });
        }
        seen.push(...body.items.map((item: { id: string }) => item.id));
        cursor = body.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual([...months].reverse().map((month) => `inv-list-${month}`));
      expect(pages).toBe(3);

      const paid = (await send(`${recordsUrl(customerId)}?status=paid`)).json();
      expect(paid.items.map((item: { id: string }) => item.id)).toEqual([
        'inv-list-07',
        'inv-list-05',
        'inv-list-03',
        'inv-list-01',
      ]);
      expect(paid.nextCursor).toBeNull();

      const window = await send(
        `${recordsUrl(customerId)}?issuedFrom=2024-03-01T00:00:00.000Z&issuedTo=2024-05-31T00:00:00.000Z&status=issued`,
      );
      expect(window.json().items.map((item: { id: string }) => item.id)).toEqual(['inv-list-04']);

      expectProblem(await send(`${recordsUrl(customerId)}?limit=0`), 400, 'VALIDATION_FAILED');
      expectProblem(await send(`${recordsUrl(customerId)}?limit=101`), 400, 'VALIDATION_FAILED');
      const empty = await send(recordsUrl(newCustomer()));
      expect(empty.json()).toEqual({ items: [], nextCursor: null });
    });

    it('deletes with 204, then answers 404 for reads, deletes and If-Match writes', async () => {
      const customerId = newCustomer();
      const input = makeInput({ id: 'inv-del' });
      await create(customerId, input);
      const staleDelete = await send(recordUrl(customerId, 'inv-del'), {
        method: 'DELETE',
        headers: { 'if-match': '"9"' },
      });
      expectProblem(staleDelete, 412, 'PRECONDITION_FAILED');
      const deleted = await send(recordUrl(customerId, 'inv-del'), { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expectProblem(await send(recordUrl(customerId, 'inv-del')), 404, 'NOT_FOUND');
      expectProblem(await send(recordUrl(customerId, 'inv-del'), { method: 'DELETE' }), 404, 'NOT_FOUND');
      expect((await send(recordsUrl(customerId))).json().items).toEqual([]);
    });

    it('rejects invalid bodies with 400 naming every failing field, and stores nothing', async () => {
      const customerId = newCustomer();
      const invalid = await send(recordsUrl(customerId), {
        method: 'POST',
        body: {
          ...makeInput({ id: 'inv-bad' }),
          currency: 'usd',
          status: 'lost',
          version: 4,
          surprise: true,
        },
      });
      const problem = expectProblem(invalid, 400, 'VALIDATION_FAILED');
      expect(problem.errors.map((error: { field: string }) => error.field)).toEqual(
        expect.arrayContaining(['/currency', '/status', '/version', '/surprise']),
      );
      const wrongTotal = await send(recordsUrl(customerId), {
        method: 'POST',
        body: { ...makeInput({ id: 'inv-bad' }), totalMinor: 1 },
      });
      expect(expectProblem(wrongTotal, 400, 'VALIDATION_FAILED').errors).toContainEqual(
        expect.objectContaining({ field: '/totalMinor' }),
      );
      const notJson = await send(recordsUrl(customerId), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id": ',
      });
      expectProblem(notJson, 400, 'VALIDATION_FAILED');
      expectProblem(await send(recordUrl(customerId, 'inv-bad')), 404, 'NOT_FOUND');
    });

    it('answers 413 PAYLOAD_TOO_LARGE for a body over 1 MiB', async () => {
      const customerId = newCustomer();
      const huge = await send(recordsUrl(customerId), {
        method: 'POST',
        body: { ...makeInput({ id: 'inv-huge' }), metadata: { pad: 'x'.repeat(1024 * 1024) } },
      });
      expectProblem(huge, 413, 'PAYLOAD_TOO_LARGE');
      expectProblem(await send(recordUrl(customerId, 'inv-huge')), 404, 'NOT_FOUND');
    });

    it('answers 401 without a valid token and 403 without the role or the customer', async () => {
      const customerId = newCustomer();
      const url = recordsUrl(customerId);
      expectProblem(await send(url, { roles: null }), 401, 'UNAUTHENTICATED');
      expectProblem(
        await send(url, { roles: null, headers: { authorization: 'Bearer not.a.jwt' } }),
        401,
        'UNAUTHENTICATED',
      );
      const stranger = await createEphemeralDevKeyPair();
      const forged = await stranger.sign({
        subject: 'intruder',
        roles: READ_WRITE,
        issuer: target().issuer,
        audience: target().audience,
        expiresInSeconds: 300,
      });
      expectProblem(await call(target().baseUrl, url, { token: forged }), 401, 'UNAUTHENTICATED');
      expectProblem(
        await send(url, { method: 'POST', roles: null, body: makeInput() }),
        401,
        'UNAUTHENTICATED',
      );

      const readOnly = await target().token(['Billing.Read']);
      expectProblem(
        await call(target().baseUrl, url, {
          method: 'POST',
          token: readOnly,
          body: makeInput({ id: 'inv-ro' }),
        }),
        403,
        'FORBIDDEN',
      );
      const list = await call(target().baseUrl, url, { token: readOnly });
      expect(list.status).toBe(200);
      expect(list.json().items).toEqual([]);

      const otherCustomer = await target().token(READ_WRITE, ['cust-someone-else']);
      expectProblem(await call(target().baseUrl, url, { token: otherCustomer }), 403, 'FORBIDDEN');
      const ownCustomer = await target().token(READ_WRITE, [customerId]);
      expect((await call(target().baseUrl, url, { token: ownCustomer })).status).toBe(200);
    });

    it('answers /healthz and /readyz without a token', async () => {
      const health = await call(target().baseUrl, '/healthz');
      expect(health.status).toBe(200);
      expect(health.json()).toEqual({ status: 'ok' });
      const ready = await call(target().baseUrl, '/readyz');
      expect(ready.status, ready.text).toBe(200);
      expect(ready.json()).toMatchObject({
        status: 'ready',
        checks: { hotStore: 'up', archive: 'up', cache: 'up' },
      });
    });

    it('publishes OpenAPI 3.1 with the record paths, whose schemas validate what the API answers', async () => {
      const answer = await call(target().baseUrl, '/openapi.json');
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      const document = answer.json();
      expect(document.openapi).toMatch(/^3\.1\.\d+$/);
      expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
      expect(Object.keys(document.paths[RECORDS_PATH]).sort()).toEqual(['get', 'post']);
      expect(Object.keys(document.paths[RECORD_PATH]).sort()).toEqual(['delete', 'get', 'patch', 'put']);
      const operationIds = Object.values(document.paths).flatMap((item) =>
        Object.values(item as Record<string, { operationId: string }>).map(
          (operation) => operation.operationId,
        ),
      );
      expect(new Set(operationIds).size).toBe(operationIds.length);

      // OpenAPI 3.1 schemas are JSON Schema 2020-12; `#/components/...` refs resolve in the document.
      const ajv = new Ajv2020({ strict: false, validateFormats: false });
      ajv.addSchema(document, 'openapi.json');
      const schemaAt = (path: string, method: string, status: number) => {
        const pointer = [
          'paths',
          path,
          method,
          'responses',
          String(status),
          'content',
          'application/json',
          'schema',
        ]
          .map((part) => encodeURIComponent(part.replaceAll('~', '~0').replaceAll('/', '~1')))
          .join('/');
        const validate = ajv.getSchema(`openapi.json#/${pointer}`);
        if (validate === undefined) throw new Error(`no schema at ${pointer}`);
        return validate;
      };
      const customerId = newCustomer();
      const created = await create(customerId, makeInput({ id: 'inv-oas' }));
      const validRecord = schemaAt(RECORD_PATH, 'get', 200);
      expect(validRecord(created.json()), JSON.stringify(validRecord.errors)).toBe(true);
      expect(validRecord({ ...created.json(), surprise: 1 })).toBe(false);
      const validPage = schemaAt(RECORDS_PATH, 'get', 200);
      const page = (await send(recordsUrl(customerId))).json();
      expect(page.items).toHaveLength(1);
      expect(validPage(page), JSON.stringify(validPage.errors)).toBe(true);
      const problem = ajv.getSchema('openapi.json#/components/schemas/Problem');
      expect(problem?.((await send(recordUrl(customerId, 'absent'))).json())).toBe(true);
    });

    it('exposes Prometheus metrics with request durations by route and status', async () => {
      const customerId = newCustomer();
      expect((await send(recordUrl(customerId, 'absent'))).status).toBe(404);
      const metrics = await call(target().baseUrl, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(metrics.text).toContain('# TYPE http_request_duration_seconds histogram');
      expect(metrics.text).toMatch(
        /^http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/customers\/:customerId\/billing-records\/:recordId",status="404"\} [1-9]\d*$/m,
      );
      expect(metrics.text).toMatch(
        // OpenTelemetry's exporter writes `le` last (prom-client wrote it first); label order has no meaning.
        /^http_request_duration_seconds_bucket\{method="POST",route="\/api\/v1\/customers\/:customerId\/billing-records",status="201",le="\+Inf"\} [1-9]\d*$/m,
      );
    });
  });
}

/** Records written before a restart, with the bytes and ETag the server gave each. */
export interface WrittenRecord {
  readonly url: string;
  readonly body: string;
  readonly etag: string;
}

/** Writes a few records (one created, one replaced, one patched, one deleted) for a restart check. */
export async function writeRecordsForRestart(
  baseUrl: string,
  token: string,
  customerId: string,
): Promise<WrittenRecord[]> {
  const written: WrittenRecord[] = [];
  const keep = (answer: HttpAnswer, url: string): void => {
    expect(answer.status, answer.text).toBeLessThan(300);
    written.push({ url, body: answer.text, etag: answer.headers.get('etag') ?? '' });
  };
  const created = await call(baseUrl, recordsUrl(customerId), {
    method: 'POST',
    token,
    body: makeInput({ id: 'inv-restart-1' }),
  });
  keep(created, recordUrl(customerId, 'inv-restart-1'));

  const second = makeInput({ id: 'inv-restart-2', issuedAt: '2024-06-01T00:00:00.000Z' });
  expect((await call(baseUrl, recordsUrl(customerId), { method: 'POST', token, body: second })).status).toBe(
    201,
  );
  const replaced = await call(baseUrl, recordUrl(customerId, 'inv-restart-2'), {
    method: 'PUT',
    token,
    headers: { 'if-match': '"1"' },
    body: { ...second, status: 'paid' },
  });
  const patched = await call(baseUrl, recordUrl(customerId, 'inv-restart-2'), {
    method: 'PATCH',
    token,
    headers: {
      'content-type': 'application/merge-patch+json',
      'if-match': replaced.headers.get('etag') ?? '',
    },
    body: { metadata: { note: 'before restart' } },
  });
  expect(patched.headers.get('etag')).toBe('"3"');
  keep(patched, recordUrl(customerId, 'inv-restart-2'));

  const gone = makeInput({ id: 'inv-restart-gone' });
  expect((await call(baseUrl, recordsUrl(customerId), { method: 'POST', token, body: gone })).status).toBe(
    201,
  );
  const deleted = await call(baseUrl, recordUrl(customerId, 'inv-restart-gone'), { method: 'DELETE', token });
  expect(deleted.status).toBe(204);
  return written;
}

/** After the restart: the same bytes and ETags, the deleted record still gone, the list unchanged. */
export async function expectRecordsAfterRestart(
  baseUrl: string,
  token: string,
  customerId: string,
  written: readonly WrittenRecord[],
): Promise<void> {
  for (const record of written) {
    const read = await call(baseUrl, record.url, { token });
    expect(read.status, read.text).toBe(200);
    expect(read.text).toBe(record.body);
    expect(read.headers.get('etag')).toBe(record.etag);
  }
  expect((await call(baseUrl, recordUrl(customerId, 'inv-restart-gone'), { token })).status).toBe(404);
  const list = (await call(baseUrl, recordsUrl(customerId), { token })).json();
  expect(list.items.map((item: { id: string }) => item.id)).toEqual(['inv-restart-2', 'inv-restart-1']);
  // The version counter carries on from where it was: the next write is version 4, not 2.
  const next = await call(baseUrl, written[1]?.url ?? '', {
    method: 'PATCH',
    token,
    headers: { 'content-type': 'application/merge-patch+json', 'if-match': '"3"' },
    body: { status: 'void' },
  });
  expect(next.status, next.text).toBe(200);
  expect(next.headers.get('etag')).toBe('"4"');
}
